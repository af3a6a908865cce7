import { createHash } from 'node:crypto';
import type { RedisConnection } from '../infra/redis.js';
import { RetryableActionError } from '../errors.js';

/**
 * A pacer shared by every worker process: each call reserves the next free send slot of a key in
 * Redis, so N workers together send at most one call per `intervalMs` for that key.
 *
 * The reservation is one Lua script, so reading `next` and moving it on is atomic: two processes can
 * never be handed the same slot. Time is the caller's clock (`ActionDeps.now`); workers are assumed
 * to run with NTP-synchronised clocks, and a skew of a few ms only shifts slots by that much.
 */

/** How far ahead a slot may be reserved, in intervals, unless a caller says otherwise. */
export const DEFAULT_MAX_WAIT_INTERVALS = 5;

/**
 * How long a pacing key outlives its last reserved slot, in ms. After `next` has passed the key means
 * nothing; the margin only absorbs clock differences between workers.
 */
const KEY_TTL_MARGIN_MS = 1_000;

// KEYS[1] pace key; ARGV: now, intervalMs, maxWaitMs, ttlMarginMs (all ms, may be fractional).
// Returns { reserved (1|0), waitMs (ceil) }. `next` is stored with 3 decimals: intervals such as
// 1000/3 ms must not drift, and Lua's tostring would round large numbers to 14 digits.
const RESERVE_SLOT_LUA = `
local nextFree = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local maxWait = tonumber(ARGV[3])
local margin = tonumber(ARGV[4])
local slot = math.max(now, nextFree)
local wait = slot - now
if wait > maxWait then
  return { 0, math.ceil(wait) }
end
redis.call('SET', KEYS[1], string.format('%.3f', slot + interval), 'PX', math.ceil(wait + interval + margin))
return { 1, math.ceil(wait) }
`;

const RESERVE_SLOT_SHA = createHash('sha1').update(RESERVE_SLOT_LUA).digest('hex');

/** The answer of {@link reserveSlot}. */
export interface SlotReservation {
  /** True when a slot was reserved: send after `waitMs`. False: nothing reserved, the slot is too far. */
  readonly isReserved: boolean;
  /** Milliseconds from `now` until the slot (the reserved one, or the first free one when refused). */
  readonly waitMs: number;
}

/**
 * Runs the reservation script by its SHA, loading it with EVAL the first time (and after a Redis
 * restart, NOSCRIPT). Not `defineCommand`: that adds a method to the connection lazily, and an
 * auto-pipelined batch opened before the method existed loses the call — ioredis then throws
 * outside any handler and the worker dies.
 */
async function runReserveScript(redis: RedisConnection, args: string[]): Promise<[number, number]> {
  try {
    return (await redis.evalsha(RESERVE_SLOT_SHA, 1, ...args)) as [number, number];
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return (await redis.eval(RESERVE_SLOT_LUA, 1, ...args)) as [number, number];
  }
}

/**
 * Reserves the next free slot `t = max(now, next)` of `key`. When `t - now <= maxWaitMs` it moves
 * `next` to `t + intervalMs` (the key expires soon after) and returns the wait; otherwise it
 * reserves nothing and returns how far away the first free slot is.
 * @throws whatever ioredis throws when Redis cannot be reached.
 */
export async function reserveSlot(
  redis: RedisConnection,
  key: string,
  intervalMs: number,
  maxWaitMs: number,
  now: number,
): Promise<SlotReservation> {
  const [reserved, waitMs] = await runReserveScript(redis, [key, String(now), String(intervalMs), String(maxWaitMs), String(KEY_TTL_MARGIN_MS)]);
  return { isReserved: reserved === 1, waitMs: Number(waitMs) };
}

/**
 * Resolves after `ms`, or rejects with a retryable `timeout` error as soon as `signal` aborts, so a
 * shutdown or job timeout never waits out a pacing delay.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortedError(signal));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The retryable error for an aborted call; the abort reason is not kept (it may be anything). */
export function abortedError(signal: AbortSignal): RetryableActionError {
  const reason = signal.reason as { name?: unknown } | undefined;
  const why = reason && typeof reason.name === 'string' ? reason.name : 'AbortError';
  return new RetryableActionError('timeout', `the call was aborted before it completed (${why})`);
}

/** Options of {@link waitForSlot}. */
export interface PaceOptions {
  /** Where the pacing state lives, shared by every worker process. */
  readonly redis: RedisConnection;
  /** The full Redis key, e.g. `bridge:pace:slack:#general`. */
  readonly key: string;
  /** Minimum spacing of calls for this key, in ms. */
  readonly intervalMs: number;
  /**
   * Longest wait this process sleeps for a slot, in ms; a slot further away is refused and the job
   * is delayed by the worker instead of holding a concurrency slot.
   * @defaultValue {@link DEFAULT_MAX_WAIT_INTERVALS} × intervalMs
   */
  readonly maxWaitMs?: number;
  /** The clock (ms since the epoch). */
  readonly now: () => number;
  /** Aborts the wait (and a reservation not yet made). @defaultValue none: the wait runs to its slot */
  readonly signal?: AbortSignal;
}

/**
 * Reserves a slot and sleeps until it comes.
 * @throws RetryableActionError `paced` (isRateLimit, retryAfterMs) when the first free slot is
 *   further than `maxWaitMs`: the actions worker delays the job without spending an attempt.
 * @throws RetryableActionError `timeout` when `signal` aborts during the wait.
 */
export async function waitForSlot(options: PaceOptions): Promise<void> {
  const { redis, key, intervalMs, now, signal } = options;
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_INTERVALS * intervalMs;
  if (signal?.aborted) throw abortedError(signal);
  let reservation: SlotReservation;
  try {
    reservation = await reserveSlot(redis, key, intervalMs, maxWaitMs, now());
  } catch (error) {
    // Redis trouble is transient from the action's point of view. The ioredis error is not kept as
    // the cause: its message can name the connection (host, and with some setups credentials).
    const name = error instanceof Error ? error.name : typeof error;
    throw new RetryableActionError('pacing_unavailable', `the pacing state in Redis could not be read (${name})`);
  }
  if (!reservation.isReserved) {
    throw new RetryableActionError('paced', `no send slot free within ${maxWaitMs} ms for this pacing key`, {
      isRateLimit: true,
      retryAfterMs: reservation.waitMs,
    });
  }
  await sleep(reservation.waitMs, signal);
}
