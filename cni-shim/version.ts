// CNI spec versions weft-cni speaks, and how they compare.

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const CURRENT_VERSION = '1.1.0';

/** -1, 0 or 1 for dotted numeric versions ("0.4.0" < "1.0.0"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function isSupported(v: string): boolean {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** The newest version in `offered` that is at most `wanted` and shares its result format, if any. */
export function pickCompatible(wanted: string, offered: readonly string[]): string | undefined {
  const sameFamily = (v: string): boolean => (compareVersions(v, '1.0.0') >= 0) === (compareVersions(wanted, '1.0.0') >= 0);
  return offered
    .filter((v) => compareVersions(v, wanted) <= 0 && sameFamily(v) && compareVersions(v, '0.3.0') >= 0)
    .sort(compareVersions)
    .at(-1);
}
