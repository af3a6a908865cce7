import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The shared Redis on this machine (CI makes sure it answers). */
export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A prefix no other test uses, so tests never see each other's keys. */
export function randomPrefix(label = 'test'): string {
  return `${label}-${randomBytes(5).toString('hex')}`;
}

/** Deletes every key under `prefix` (what a test wrote), with SCAN so Redis stays responsive. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(probe: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Counts the calls of `method` on `target`; the real method still runs. From the `failFrom`-th
 * call on (an async method's), the call is refused with a rejected `connection lost` instead of
 * reaching Redis.
 */
export function countCalls(target: object, method: string, failFrom = Number.POSITIVE_INFINITY): { readonly count: number } {
  const methods = target as Record<string, (...args: unknown[]) => unknown>;
  const original = methods[method].bind(target);
  const counter = { count: 0 };
  methods[method] = (...args: unknown[]) => {
    counter.count += 1;
    return counter.count >= failFrom ? Promise.reject(new Error('connection lost')) : original(...args);
  };
  return counter;
}

/** Counts the writes to a connection's socket (ioredis's `stream`); the bytes still go to Redis. */
export function countSocketWrites(redis: Redis): { readonly count: number } {
  return countCalls((redis as unknown as { stream: object }).stream, 'write');
}
