// The network configuration weft-cni receives on stdin, validated once. Keys (defaults):
//   subnetFile "/run/weft/subnet.env"        the file weftd writes (Flannel's format)
//   dataDir    "/var/lib/cni/weft"           saved delegate configs; host-local leases in <dataDir>/ipam
//   delegate   {}                            overrides of the bridge config (not name, not ipam)
//   ipam       {}                            extra host-local settings (Flannel's top-level ipam)
//   readyzURL  "http://127.0.0.1:8471/readyz" STATUS probes weftd here; "" disables the probe
import { isAbsolute } from 'node:path';
import { CniError, ErrCode } from './errors.js';
import { SUPPORTED_VERSIONS, isSupported } from './version.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface Attachment {
  readonly containerID: string;
  readonly ifname: string;
}

export interface NetConf {
  readonly cniVersion: string;
  readonly name: string;
  readonly subnetFile: string;
  readonly dataDir: string;
  readonly delegate: JsonObject;
  readonly ipam: JsonObject;
  readonly readyzURL: string;
  readonly runtimeConfig: JsonObject | undefined;
  readonly args: JsonObject | undefined;
  readonly prevResult: JsonObject | undefined;
  /** GC only: the attachments the runtime still has. */
  readonly validAttachments: readonly Attachment[] | undefined;
}

const DEFAULTS = {
  subnetFile: '/run/weft/subnet.env',
  dataDir: '/var/lib/cni/weft',
  readyzURL: 'http://127.0.0.1:8471/readyz',
} as const;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(raw: JsonObject, key: string, def: string): string {
  const v = raw[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'string') throw new CniError(ErrCode.InvalidNetconf, `netconf "${key}" must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function optionalObject(raw: JsonObject, key: string): JsonObject | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new CniError(ErrCode.InvalidNetconf, `netconf "${key}" must be a JSON object, got ${JSON.stringify(v)}`);
  return v;
}

/** Only the version, for VERSION and for error output before the rest is validated. */
export function peekVersion(stdin: string): string | undefined {
  try {
    const raw: unknown = JSON.parse(stdin);
    return isObject(raw) && typeof raw.cniVersion === 'string' ? raw.cniVersion : undefined;
  } catch {
    return undefined;
  }
}

export function parseNetConf(stdin: string): NetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(ErrCode.DecodeFailure, `network config on stdin is not valid JSON: ${(err as Error).message}`, stdin.slice(0, 200));
  }
  if (!isObject(raw)) throw new CniError(ErrCode.DecodeFailure, 'network config on stdin must be a JSON object');

  const cniVersion = raw.cniVersion;
  if (typeof cniVersion !== 'string' || !isSupported(cniVersion)) {
    throw new CniError(
      ErrCode.IncompatibleVersion,
      `incompatible CNI versions: config is ${JSON.stringify(cniVersion ?? null)}, weft-cni supports ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
  const name = raw.name;
  if (typeof name !== 'string' || name === '' || /[/\s]/.test(name) || name === '.' || name === '..') {
    throw new CniError(ErrCode.InvalidNetconf, `netconf "name" must be a non-empty network name without '/' or spaces, got ${JSON.stringify(name ?? null)}`);
  }

  const delegate = optionalObject(raw, 'delegate') ?? {};
  if ('name' in delegate) throw new CniError(ErrCode.InvalidNetconf, 'delegate may not set "name": weft-cni passes the network name through; remove delegate.name');
  if ('ipam' in delegate) throw new CniError(ErrCode.InvalidNetconf, 'delegate may not set "ipam": weft-cni builds host-local IPAM from the subnet file; put extra IPAM settings in the top-level "ipam"');
  if ('type' in delegate && typeof delegate.type !== 'string') throw new CniError(ErrCode.InvalidNetconf, `delegate "type" must be a string, got ${JSON.stringify(delegate.type)}`);

  const dataDir = optionalString(raw, 'dataDir', DEFAULTS.dataDir);
  if (!isAbsolute(dataDir)) throw new CniError(ErrCode.InvalidNetconf, `netconf "dataDir" must be an absolute path, got ${JSON.stringify(dataDir)}`);
  const readyzURL = optionalString(raw, 'readyzURL', DEFAULTS.readyzURL);
  if (readyzURL !== '' && !/^http:\/\/[^/]+(\/.*)?$/.test(readyzURL)) {
    throw new CniError(ErrCode.InvalidNetconf, `netconf "readyzURL" must be an http:// URL (weftd's /readyz) or "" to disable the probe, got ${JSON.stringify(readyzURL)}`);
  }

  return {
    cniVersion,
    name,
    subnetFile: optionalString(raw, 'subnetFile', DEFAULTS.subnetFile),
    dataDir,
    delegate,
    ipam: optionalObject(raw, 'ipam') ?? {},
    readyzURL,
    runtimeConfig: optionalObject(raw, 'runtimeConfig'),
    args: optionalObject(raw, 'args'),
    prevResult: optionalObject(raw, 'prevResult'),
    validAttachments: parseAttachments(raw['cni.dev/valid-attachments']),
  };
}

function parseAttachments(v: Json | undefined): Attachment[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new CniError(ErrCode.InvalidNetconf, '"cni.dev/valid-attachments" must be a list of {containerID, ifname}');
  return v.map((a) => {
    if (!isObject(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string') {
      throw new CniError(ErrCode.InvalidNetconf, `"cni.dev/valid-attachments" entry ${JSON.stringify(a)} needs string containerID and ifname`);
    }
    return { containerID: a.containerID, ifname: a.ifname };
  });
}
