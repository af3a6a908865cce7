import type { RedisConnection } from '../infra/redis.js';
import { RetryableActionError } from '../errors.js';
import { LuaScript } from '../infra/lua-script.js';

/**
 * A pacer shared by every worker process: each call reserves the next free send slot of a key in
 * Redis, so N workers together send at most one call per `intervalMs` for that key (a budget with a
 * tolerance also lets a short burst leave at once, GCRA-style, at the same long-run rate).
 *
 * The reservation is one Lua script, so reading `next` and moving it on is atomic: processes
 * together are never handed more slots than a budget allows. Time is the caller's clock
 * (`ActionDeps.now`); workers are assumed to run with NTP-synchronised clocks, and a skew of a few
 * ms only shifts slots by that much.
 */

/** How far ahead a slot may be reserved, in intervals, unless a caller says otherwise. */
export const DEFAULT_MAX_WAIT_INTERVALS = 5;

/**
 * The least wait a call sleeps through by default, in ms, however short the interval. Handing a job
 * back costs far more than a short sleep (a delayed job, its promotion, and up to 250 ms of jitter
 * so a crowd does not return at once), and with a small interval (a limit far above the traffic)
 * 5 intervals is a fraction of a millisecond: the few calls that reserve in the same millisecond,
 * as a worker's concurrent jobs do, were refused and delayed by hundreds of ms although the rate
 * was far under the limit. 50 ms covers the worker's default concurrency (50) reserving at once at
 * 1 ms spacing. Slots are still spaced by the interval exactly; only what waits for them changes.
 */
export const MIN_DEFAULT_MAX_WAIT_MS = 50;

/**
 * How long a pacing key outlives its last reserved slot, in ms. After `next` has passed the key means
 * nothing; the margin only absorbs clock differences between workers.
 */
const KEY_TTL_MARGIN_MS = 1_000;

// KEYS: the budget keys, then the keys holding an interval floor learned from the remote side (for
// the budgets that have one), then the hold keys. ARGV: now, maxWaitMs, ttlMarginMs, budget count,
// the KEYS index of the first hold key, then per budget its interval, the KEYS index of its floor key
// (0: none) and its tolerance, then how many of the first budget's (effective) intervals may be
// waited at least. All ms, may be fractional. Each budget key holds its next free instant (GCRA's
// theoretical arrival time); a budget is free from that instant less its tolerance. The slot is the
// first instant every budget is free and no hold is active; when it is near enough, every budget
// moves on by its interval from the later of its next free instant and that slot. Returns
// { reserved (1|0), waitMs (ceil), heldMs (ceil, how much of the wait a hold imposes) }. `next` is
// stored with 3 decimals: intervals such as 1000/3 ms must not drift, and Lua's tostring would round
// large numbers to 14 digits.
const RESERVE_SLOTS_LUA = `
local now = tonumber(ARGV[1])
local maxWait = tonumber(ARGV[2])
local margin = tonumber(ARGV[3])
local budgets = tonumber(ARGV[4])
local firstHold = tonumber(ARGV[5])
local maxWaitIntervals = tonumber(ARGV[6 + 3 * budgets])
local holdUntil = 0
for index = firstHold, #KEYS do
  holdUntil = math.max(holdUntil, tonumber(redis.call('GET', KEYS[index]) or '0') or 0)
end
local slot = math.max(now, holdUntil)
local intervals = {}
local nexts = {}
for b = 1, budgets do
  local interval = tonumber(ARGV[3 + 3 * b])
  local floorIndex = tonumber(ARGV[4 + 3 * b])
  if floorIndex > 0 then
    interval = math.max(interval, tonumber(redis.call('GET', KEYS[floorIndex]) or '0') or 0)
  end
  intervals[b] = interval
  nexts[b] = tonumber(redis.call('GET', KEYS[b]) or '0') or 0
  slot = math.max(slot, nexts[b] - tonumber(ARGV[5 + 3 * b]))
end
if budgets > 0 then maxWait = math.max(maxWait, maxWaitIntervals * intervals[1]) end
local wait = slot - now
local held = math.max(0, holdUntil - now)
if wait > maxWait then
  return { 0, math.ceil(wait), math.ceil(held) }
end
for b = 1, budgets do
  local nextFree = math.max(nexts[b], slot) + intervals[b]
  redis.call('SET', KEYS[b], string.format('%.3f', nextFree), 'PX', math.ceil(nextFree - now + margin))
end
return { 1, math.ceil(wait), math.ceil(held) }
`;

const RESERVE_SLOTS = new LuaScript(RESERVE_SLOTS_LUA);

// KEYS[1] hold key; ARGV: until (ms since the epoch), ttlMarginMs. Only ever moves a hold later: a
// short Retry-After arriving after a long one must not shorten it.
const HOLD_LUA = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local untilMs = tonumber(ARGV[1])
if untilMs <= current then return 0 end
local ttl = math.ceil(untilMs - tonumber(ARGV[3])) + tonumber(ARGV[2])
if ttl <= 0 then return 0 end
redis.call('SET', KEYS[1], string.format('%.3f', untilMs), 'PX', ttl)
return 1
`;

const HOLD = new LuaScript(HOLD_LUA);

/** The answer of {@link reserveSlot} and {@link reserveSlots}. */
export interface SlotReservation {
  /** True when a slot was reserved: send after `waitMs`. False: nothing reserved, the slot is too far. */
  readonly isReserved: boolean;
  /** Milliseconds from `now` until the slot (the reserved one, or the first free one when refused). */
  readonly waitMs: number;
  /** How much of the wait a hold (a remote 429) imposes, in ms; 0 when no hold is active. */
  readonly heldMs: number;
}

/** One budget a call spends a slot of. */
export interface PaceBudget {
  /** The full Redis key of the budget, e.g. `bridge:pace:slack:C0123ABCD`. */
  readonly key: string;
  /** Minimum spacing of calls on this budget, in ms. */
  readonly intervalMs: number;
  /**
   * A Redis key holding a longer spacing learned from the remote side (HubSpot's rate-limit
   * headers), in ms; the larger of the two applies.
   * @defaultValue none: `intervalMs` applies
   */
  readonly intervalFloorKey?: string;
  /**
   * How far ahead of its spacing a call may go (GCRA's tolerance), in ms: a burst of up to
   * `toleranceMs / intervalMs` calls may leave at once, while the long-run rate stays one per interval.
   * @defaultValue 0: calls are spaced by the interval exactly
   */
  readonly toleranceMs?: number;
}

/** What {@link reserveSlots} reserves: one slot that fits every budget and every hold. */
export interface SlotRequest {
  readonly budgets: readonly PaceBudget[];
  /** Keys whose value is an instant (ms since the epoch) before which no call may leave. @defaultValue none */
  readonly holdKeys?: readonly string[];
  readonly maxWaitMs: number;
  /**
   * The wait allowed is at least this many intervals of the first budget as it stands in Redis
   * (its floor included), so a slower pace learned from the remote side lengthens it too.
   * @defaultValue 0
   */
  readonly maxWaitIntervals?: number;
  readonly now: number;
}

/**
 * Reserves the first instant `t >= now` at which every budget is free (its next free instant, less
 * its tolerance) and no hold is active. When `t - now <= maxWaitMs` every budget moves on by its
 * interval from the later of `t` and its next free instant (its key expires soon after) and the
 * wait is returned; otherwise nothing is reserved and the distance to `t` is returned. All in one
 * script: processes together are never handed more slots than the budgets allow, nor a slot inside
 * a hold.
 * @throws whatever ioredis throws when Redis cannot be reached.
 */
export async function reserveSlots(redis: RedisConnection, request: SlotRequest): Promise<SlotReservation> {
  const keys = request.budgets.map((budget) => budget.key);
  const budgetArgs: string[] = [];
  for (const budget of request.budgets) {
    let floorIndex = 0;
    if (budget.intervalFloorKey !== undefined) {
      keys.push(budget.intervalFloorKey);
      floorIndex = keys.length;
    }
    budgetArgs.push(String(budget.intervalMs), String(floorIndex), String(budget.toleranceMs ?? 0));
  }
  const firstHold = keys.length + 1;
  keys.push(...(request.holdKeys ?? []));
  const args = [
    String(request.now),
    String(request.maxWaitMs),
    String(KEY_TTL_MARGIN_MS),
    String(request.budgets.length),
    String(firstHold),
    ...budgetArgs,
    String(request.maxWaitIntervals ?? 0),
  ];
  const [reserved, waitMs, heldMs] = (await RESERVE_SLOTS.run(redis, keys, args)) as [number, number, number];
  return { isReserved: reserved === 1, waitMs: Number(waitMs), heldMs: Number(heldMs) };
}

/**
 * Reserves the next free slot `t = max(now, next)` of one `key` (see {@link reserveSlots}).
 * @throws whatever ioredis throws when Redis cannot be reached.
 */
export async function reserveSlot(
  redis: RedisConnection,
  key: string,
  intervalMs: number,
  maxWaitMs: number,
  now: number,
): Promise<Omit<SlotReservation, 'heldMs'>> {
  const { isReserved, waitMs } = await reserveSlots(redis, { budgets: [{ key, intervalMs }], maxWaitMs, now });
  return { isReserved, waitMs };
}

/**
 * Holds `key` until `untilMs` for every worker: no slot of a request naming it as a hold key is
 * handed out before then. A later hold wins over an earlier one; the key expires after `untilMs`.
 * @throws whatever ioredis throws when Redis cannot be reached.
 */
export async function holdUntil(redis: RedisConnection, key: string, untilMs: number, now: number): Promise<void> {
  await HOLD.run(redis, [key], [String(untilMs), String(KEY_TTL_MARGIN_MS), String(now)]);
}

/** Milliseconds from `now` until the latest of these holds ends; 0 when none is active. */
export async function readHold(redis: RedisConnection, keys: readonly string[], now: number): Promise<number> {
  if (keys.length === 0) return 0;
  const values = await redis.mget(...keys);
  const until = Math.max(0, ...values.map((value) => Number(value ?? 0) || 0));
  return Math.max(0, Math.ceil(until - now));
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
  /** The full Redis key of the call's own budget, e.g. `bridge:pace:slack:C0123ABCD`. */
  readonly key: string;
  /** Minimum spacing of calls for this key, in ms. */
  readonly intervalMs: number;
  /**
   * A Redis key holding a longer spacing for `key` learned from the remote side, in ms.
   * @defaultValue none
   */
  readonly intervalFloorKey?: string;
  /**
   * Further budgets the same call spends a slot of at the same instant (Slack's workspace budget
   * beside the channel's).
   * @defaultValue none
   */
  readonly alsoBudgets?: readonly PaceBudget[];
  /**
   * Hold keys (see {@link holdUntil}): while one is active no slot is handed out, and a call that
   * reserved its slot before the hold began does not leave either.
   * @defaultValue none
   */
  readonly holdKeys?: readonly string[];
  /**
   * Set when the caller reads the hold keys itself right before its call leaves (the Slack poster
   * does, in the round trip that records the call): the check after the sleep would be a second
   * round trip between the slot and the call, and the time between them is time the call arrives late.
   * @defaultValue false: a hold that began during the sleep is checked here
   */
  readonly callerChecksHoldsBeforeSending?: boolean;
  /**
   * Longest wait this process sleeps for a slot, in ms; a slot further away is refused and the job
   * is delayed by the worker instead of holding a concurrency slot.
   * @defaultValue {@link DEFAULT_MAX_WAIT_INTERVALS} × intervalMs (the interval in force, a floor
   *   learned from the remote side included), and at least {@link MIN_DEFAULT_MAX_WAIT_MS}
   */
  readonly maxWaitMs?: number;
  /** The clock (ms since the epoch). */
  readonly now: () => number;
  /** Aborts the wait (and a reservation not yet made). @defaultValue none: the wait runs to its slot */
  readonly signal?: AbortSignal;
}

/**
 * Reserves a slot of every budget and sleeps until it comes; then checks the holds once more, since
 * a 429 may have arrived for another worker's call while this one slept.
 * @throws RetryableActionError `paced` (isRateLimit, retryAfterMs) when the first free slot is
 *   further than `maxWaitMs`, or a hold began during the sleep: the actions worker delays the job
 *   without spending an attempt.
 * @throws RetryableActionError `timeout` when `signal` aborts during the wait.
 * @throws RetryableActionError `pacing_unavailable` when Redis cannot be read.
 */
export async function waitForSlot(options: PaceOptions): Promise<void> {
  const { redis, key, intervalMs, now, signal } = options;
  const holdKeys = options.holdKeys ?? [];
  const maxWaitMs = options.maxWaitMs ?? Math.max(DEFAULT_MAX_WAIT_INTERVALS * intervalMs, MIN_DEFAULT_MAX_WAIT_MS);
  // By default the wait scales with the interval in force (a floor learned from the remote side).
  const maxWaitIntervals = options.maxWaitMs === undefined ? DEFAULT_MAX_WAIT_INTERVALS : 0;
  const budgets = [{ key, intervalMs, intervalFloorKey: options.intervalFloorKey }, ...(options.alsoBudgets ?? [])];
  for (let round = 0; ; round += 1) {
    if (signal?.aborted) throw abortedError(signal);
    const reservation = await withPacingState(() => reserveSlots(redis, { budgets, holdKeys, maxWaitMs, maxWaitIntervals, now: now() }));
    if (!reservation.isReserved) {
      const why = reservation.heldMs > 0 ? `a rate limit holds this pacing key for ${reservation.heldMs} ms` : `no send slot free within ${maxWaitMs} ms for this pacing key`;
      throw new RetryableActionError('paced', why, { isRateLimit: true, retryAfterMs: reservation.waitMs });
    }
    await sleep(reservation.waitMs, signal);
    if (holdKeys.length === 0 || reservation.waitMs === 0 || options.callerChecksHoldsBeforeSending) return;
    // A hold that began while this call slept (another worker's 429) outranks the slot: reserve
    // again behind it, or hand the job back when that is too far.
    const heldMs = await withPacingState(() => readHold(redis, holdKeys, now()));
    if (heldMs === 0) return;
    if (round >= MAX_HOLD_ROUNDS) {
      throw new RetryableActionError('paced', `a rate limit holds this pacing key for ${heldMs} ms`, { isRateLimit: true, retryAfterMs: heldMs });
    }
  }
}

/** How often one call reserves again behind a hold that began while it slept. */
const MAX_HOLD_ROUNDS = 2;

/** Runs a Redis step of pacing; Redis trouble becomes a retryable `pacing_unavailable`. */
async function withPacingState<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    // Redis trouble is transient from the action's point of view. The ioredis error is not kept as
    // the cause: its message can name the connection (host, and with some setups credentials).
    const name = error instanceof Error ? error.name : typeof error;
    throw new RetryableActionError('pacing_unavailable', `the pacing state in Redis could not be read (${name})`);
  }
}
