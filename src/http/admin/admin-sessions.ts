import { createHash, randomBytes } from 'node:crypto';
import type { RedisConnection } from '../../infra/redis.js';

/** How long a dashboard session lasts after logging in, whatever is done with it (12 h). */
export const ADMIN_SESSION_TTL_MS = 12 * 3600 * 1000;

/**
 * Failed admin attempts (wrong token at the login form, wrong bearer token) one client address may
 * make per {@link ADMIN_FAILURE_WINDOW_MS}; the next is answered 429 until the window ends.
 * 10 per 15 minutes is under 1,000 guesses a day: nothing against a 24-character token.
 */
export const ADMIN_FAILURES_PER_WINDOW = 10;

/** The window failed admin attempts are counted in (15 minutes), from the first failure. */
export const ADMIN_FAILURE_WINDOW_MS = 15 * 60 * 1000;

/** Random bytes in a session id: 256 bits, base64url (43 characters). */
const SESSION_ID_BYTES = 32;

/**
 * The Redis keys of the dashboard's sessions and throttle, under QUEUE_PREFIX. A session is kept
 * under the SHA-256 of its id, so a Redis dump does not hand out live sessions.
 */
export function adminKeys(prefix: string) {
  return {
    session: (sessionId: string) => `${prefix}:admin:session:${createHash('sha256').update(sessionId).digest('hex')}`,
    failures: (clientAddress: string) => `${prefix}:admin:failures:${clientAddress}`,
  };
}

/**
 * Server-side dashboard sessions in Redis: a random id per login (the cookie holds only that id),
 * an expiry of {@link ADMIN_SESSION_TTL_MS} from login, and revocation at logout. Every process
 * sharing the Redis and prefix shares the sessions.
 */
export class AdminSessions {
  readonly #redis: RedisConnection;
  readonly #keys: ReturnType<typeof adminKeys>;
  readonly #ttlMs: number;

  /** @param ttlMs how long a session lasts from login. @defaultValue ADMIN_SESSION_TTL_MS (12 h) */
  constructor(redis: RedisConnection, prefix: string, ttlMs: number = ADMIN_SESSION_TTL_MS) {
    this.#redis = redis;
    this.#keys = adminKeys(prefix);
    this.#ttlMs = ttlMs;
  }

  /** How long a session lasts, in ms: the cookie's Max-Age matches it. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Opens a session and returns its id (the cookie's value). */
  async open(): Promise<string> {
    const sessionId = randomBytes(SESSION_ID_BYTES).toString('base64url');
    await this.#redis.set(this.#keys.session(sessionId), '1', 'PX', this.#ttlMs);
    return sessionId;
  }

  /** Whether `sessionId` names a live session (not expired, not logged out). */
  async isOpen(sessionId: string): Promise<boolean> {
    // A value of another shape was never issued: no Redis round trip for it.
    if (!/^[A-Za-z0-9_-]{43}$/.test(sessionId)) return false;
    return (await this.#redis.exists(this.#keys.session(sessionId))) === 1;
  }

  /** Ends a session at once (logout); an unknown id is ignored. */
  async close(sessionId: string): Promise<void> {
    await this.#redis.del(this.#keys.session(sessionId));
  }
}

/** Whether a client may try again, and if not, for how long it must wait. */
export type ThrottleDecision = { readonly isAllowed: true } | { readonly isAllowed: false; readonly retryAfterSeconds: number };

/**
 * Decides from the failures counted in the current window and the time left of it; pure.
 * @param failures failed attempts in the window so far.
 * @param windowLeftMs how long the window still runs (Redis PTTL; negative when no window is open).
 */
export function decideThrottle(failures: number, windowLeftMs: number, limit: number = ADMIN_FAILURES_PER_WINDOW): ThrottleDecision {
  if (failures < limit || windowLeftMs <= 0) return { isAllowed: true };
  return { isAllowed: false, retryAfterSeconds: Math.max(1, Math.ceil(windowLeftMs / 1000)) };
}

/**
 * Counts failed admin attempts per client address in Redis, so several `api` processes behind one
 * load balancer agree: {@link ADMIN_FAILURES_PER_WINDOW} failures open a block until the window
 * (started by the first failure) ends. A success does not reset the count: a guesser who also
 * knows the token gains nothing, and an operator who mistypes 10 times waits at most 15 minutes.
 */
export class AdminThrottle {
  readonly #redis: RedisConnection;
  readonly #keys: ReturnType<typeof adminKeys>;
  readonly #limit: number;
  readonly #windowMs: number;

  /**
   * @param limit failures allowed per window. @defaultValue ADMIN_FAILURES_PER_WINDOW (10)
   * @param windowMs the window, in ms. @defaultValue ADMIN_FAILURE_WINDOW_MS (15 min)
   */
  constructor(redis: RedisConnection, prefix: string, limit: number = ADMIN_FAILURES_PER_WINDOW, windowMs: number = ADMIN_FAILURE_WINDOW_MS) {
    this.#redis = redis;
    this.#keys = adminKeys(prefix);
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Whether `clientAddress` may try a credential now. */
  async check(clientAddress: string): Promise<ThrottleDecision> {
    const key = this.#keys.failures(clientAddress);
    const [[, failures], [, windowLeftMs]] = (await this.#redis.multi().get(key).pttl(key).exec()) as [[null, string | null], [null, number]];
    return decideThrottle(Number(failures ?? 0), windowLeftMs, this.#limit);
  }

  /** Counts one failed attempt of `clientAddress`; the first of a window starts it. */
  async recordFailure(clientAddress: string): Promise<void> {
    const key = this.#keys.failures(clientAddress);
    // INCR then PEXPIRE NX in one transaction: the window starts at the first failure and is never
    // extended by later ones (PEXPIRE NX needs Redis 7; the shipped compose runs 7).
    await this.#redis.multi().incr(key).pexpire(key, this.#windowMs, 'NX').exec();
  }
}
