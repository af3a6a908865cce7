const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The text form of a duration: `500ms`, `30s`, `10m`, `12h`, `7d`. The unit is required: a bare
 * `10` meant seconds to whoever wrote `ACTION_TIMEOUT=10`, and milliseconds to the parser.
 */
export const DURATION_PATTERN = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)\s*$/;

/** A number without a unit, where a duration belongs (`10`, ` 2.5 `). */
const BARE_NUMBER = /^\s*[0-9]+(?:\.[0-9]+)?\s*$/;

/** Parses `500ms`, `30s`, `10m`, `12h`, `7d` into milliseconds; null if invalid (a bare number included). */
export function parseDuration(text: string): number | null {
  const match = DURATION_PATTERN.exec(text);
  if (!match) return null;
  const milliseconds = Number(match[1]) * durationUnits[match[2]];
  return Number.isFinite(milliseconds) && milliseconds > 0 ? Math.round(milliseconds) : null;
}

/** Whether `text` is a number with no unit, so a refusal can say what is missing. */
export function isBareNumber(text: string): boolean {
  return BARE_NUMBER.test(text);
}

const sizeUnits: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024, gb: 1024 * 1024 * 1024 };

/** Parses `512kb`, `1mb` (or bytes) into bytes; null if invalid. */
export function parseByteSize(text: string): number | null {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(text);
  if (!match) return null;
  const bytes = Math.floor(Number(match[1]) * sizeUnits[(match[2] ?? 'b').toLowerCase()]);
  return bytes > 0 ? bytes : null;
}
