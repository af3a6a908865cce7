import type { Redis } from 'ioredis';

/*
 * What the benches read of Redis's INFO: one parser, so every script reads a counter the same way
 * when it prints a figure beside another script's.
 */

/** INFO as a map of `field` → value, over `section` (every default section when omitted). */
export async function readInfo(redis: Redis, section?: string): Promise<Map<string, string>> {
  const text = section === undefined ? await redis.info() : await redis.info(section);
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** A numeric INFO field; NaN when it is missing. */
export function infoNumber(fields: ReadonlyMap<string, string>, name: string): number {
  return Number(fields.get(name) ?? NaN);
}
