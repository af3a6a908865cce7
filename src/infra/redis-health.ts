import type { Logger } from 'pino';
import type { RedisConnection } from './redis.js';

/**
 * Error codes that mean "Redis cannot be reached", not "Redis refused this command": the socket
 * could not be opened, was reset, or timed out.
 */
const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/**
 * What ioredis says when a command meets a closed connection (it carries no code; the intake's
 * connections fail fast instead of queueing, with the second message), and its error
 * once a command has used up its reconnection attempts while Redis stays away.
 */
const CONNECTION_ERROR_MESSAGES = new Set(['Connection is closed.', "Stream isn't writeable and enableOfflineQueue options is false"]);
const CONNECTION_ERROR_NAMES = new Set(['MaxRetriesPerRequestError']);

/**
 * The short reason a connection-type error stands for (`ECONNREFUSED`, `connection closed`), or
 * null when the error is something else (a script error, a wrong password, a bug) that must be
 * logged as it is.
 */
export function describeRedisConnectionError(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return code;
  // Node's happy-eyeballs connect reports every failed address inside one AggregateError.
  if (error instanceof AggregateError) {
    const reasons = error.errors.map(describeRedisConnectionError);
    return reasons.length > 0 && reasons.every((reason) => reason !== null) ? reasons[0] : null;
  }
  if (CONNECTION_ERROR_MESSAGES.has(error.message)) return 'connection closed';
  if (CONNECTION_ERROR_NAMES.has(error.name)) return 'connection lost';
  return null;
}

/** Whether a BullMQ worker's 'error' is Redis being unreachable, which {@link RedisHealth} reports once. */
export function isRedisConnectionError(error: unknown): boolean {
  return describeRedisConnectionError(error) !== null;
}

/** A Redis URL as it may be shown: without its password (nor a user name, which may be secret too). */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '[unparseable REDIS_URL]';
  }
}

/** A BullMQ worker or queue: anything that emits 'error'. */
interface ErrorEmitter {
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** Options of {@link RedisHealth}. */
export interface RedisHealthOptions {
  /** The Redis URL every connection uses; shown without its password. */
  readonly url: string;
  /** Where the state changes are logged. */
  readonly logger: Logger;
  /** Milliseconds since the epoch. @defaultValue Date.now */
  readonly now?: () => number;
}

/**
 * Whether this process reaches Redis, shared by all its connections. Every connection retries on
 * its own (a dozen of them, every 2 s), so logging each failure buries the one fact that matters:
 * this logs one warning when Redis goes away and one line when it is back, and tells /readyz why.
 *
 * Down: a watched connection (or a worker, through {@link report}) fails with a connection-type
 * error while none of the watched connections is ready. Up: any watched connection becomes ready.
 */
export class RedisHealth {
  readonly #url: string;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #connections: RedisConnection[] = [];
  #down: { readonly since: number; readonly reason: string } | null = null;
  #hasBeenReachable = false;

  constructor(options: RedisHealthOptions) {
    if (!options.logger) throw new TypeError('RedisHealth needs a logger');
    this.#url = redactRedisUrl(options.url);
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Follows a connection's errors and reconnections; its other errors are logged as
   * `redis (<role>) connection error`. Returns the connection, for use inline.
   */
  watch<T extends RedisConnection>(connection: T, role: string): T {
    this.#connections.push(connection);
    connection.on('error', (error: unknown) => {
      if (!this.report(error)) this.#logger.warn({ err: { message: error instanceof Error ? error.message : String(error) } }, `redis (${role}) connection error`);
    });
    connection.on('ready', () => this.connectionReady());
    return connection;
  }

  /**
   * A connection or worker failed with `error`. Returns true when it was a connection-type error
   * (now accounted for: logged once per outage), false when the caller must log it itself.
   */
  report(error: unknown): boolean {
    const reason = describeRedisConnectionError(error);
    if (reason === null) return false;
    // A late error from one connection while another already got through is not an outage.
    if (this.#down === null && !this.#connections.some((connection) => connection.status === 'ready')) {
      this.#down = { since: this.#now(), reason };
      this.#logger.warn({ redis: this.#url, reason }, `Redis unreachable at ${this.#url} (${reason}); retrying`);
    }
    return true;
  }

  /** Routes a BullMQ worker's connection-type errors here (the worker logs its other errors). */
  watchWorker<T extends ErrorEmitter>(worker: T): T {
    worker.on('error', (error) => void this.report(error));
    return worker;
  }

  /**
   * Routes a BullMQ queue's errors here; its other errors are logged as `<name> queue error`. A
   * queue re-emits its connection's errors, and without a listener BullMQ prints each of them.
   */
  watchQueue<T extends ErrorEmitter>(queue: T, name: string): T {
    queue.on('error', (error) => {
      if (!this.report(error)) this.#logger.warn({ err: { message: error.message } }, `${name} queue error`);
    });
    return queue;
  }

  /** A connection (re)connected: Redis answers. */
  connectionReady(): void {
    const wasReachable = this.#hasBeenReachable;
    this.#hasBeenReachable = true;
    if (this.#down === null) return;
    const seconds = Math.round((this.#now() - this.#down.since) / 1000);
    this.#down = null;
    // A Redis that was not there at start-up (deployments start it later) is not "back".
    this.#logger.info({ redis: this.#url }, `Redis reachable ${wasReachable ? 'again ' : ''}after ${seconds} s`);
  }

  /** The /readyz reason while Redis is unreachable, e.g. `redis: unreachable since 2026-12-07T12:00:00.000Z (ECONNREFUSED)`; null while it is reachable. */
  describe(): string | null {
    if (this.#down === null) return null;
    return `redis: unreachable since ${new Date(this.#down.since).toISOString()} (${this.#down.reason})`;
  }
}
