// Which spec version to speak to a delegate. Debian's plugins 1.1.1 stop at 1.0.0, so a 1.1.0
// request is passed down as 1.0.0 (same result format) and GC/STATUS are only forwarded to
// plugins that list 1.1.0.
import { CniError, ErrCode } from './errors.js';
import { execPlugin } from './exec-plugin.js';
import { pickCompatible } from './version.js';

const cache = new Map<string, readonly string[]>();

function pluginVersions(binary: string): readonly string[] {
  let v = cache.get(binary);
  if (!v) {
    const out = execPlugin(binary, { cniVersion: '1.1.0' }, { command: 'VERSION' });
    v = Array.isArray(out.supportedVersions) ? out.supportedVersions.filter((s): s is string => typeof s === 'string') : [];
    cache.set(binary, v);
  }
  return v;
}

/** The version to put in the delegate's config for a request at `wanted`. */
export function delegateVersion(binary: string, wanted: string): string {
  if (wanted !== '1.1.0') return wanted; // every plugin release since 2021 speaks 0.3.0..1.0.0
  const offered = pluginVersions(binary);
  if (offered.includes(wanted)) return wanted;
  const v = pickCompatible(wanted, offered);
  if (!v) {
    throw new CniError(ErrCode.IncompatibleVersion, `delegate ${binary} supports only ${offered.join(', ')}, none compatible with ${wanted}`);
  }
  return v;
}

export function supportsGcAndStatus(binary: string): boolean {
  return pluginVersions(binary).includes('1.1.0');
}
