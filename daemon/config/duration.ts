// Durations as Go's time.ParseDuration writes them (`30s`, `1h30m`, `500ms`, `1.5h`).

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** Milliseconds, or null when `text` is not a positive duration made of ms/s/m/h parts. */
export function parseDuration(text: string): number | null {
  if (!/^(\d+(?:\.\d+)?(ms|s|m|h))+$/.test(text)) return null;
  let ms = 0;
  for (const m of text.matchAll(PART_RE)) ms += Number(m[1]) * UNIT_MS[m[2]];
  return ms > 0 ? Math.round(ms) : null;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}
