import type { Server } from 'node:http';
import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { RedisConnection } from './infra/redis.js';

/** Anything with an async close: BullMQ queues, BridgeOperations. */
interface Closable {
  close(): Promise<unknown>;
}

export interface LifecycleOptions {
  /** Where the shutdown is logged; required (the constructor throws TypeError without it). */
  readonly logger: Logger;
  /** After the shutdown deadline, how long aborted jobs get to hand themselves back to the queue. @defaultValue 1000 */
  readonly abortGraceMs?: number;
}

/**
 * What a running bridge has opened, and the one way to close it. Each `track…` call registers a
 * resource as it is opened, so a start-up that fails half-way closes exactly what exists.
 *
 * `stop(timeoutMs)` is idempotent (every call gets the same promise) and runs in this order:
 * 1. timers stop; servers stop accepting and drop idle keep-alive connections;
 * 2. workers finish their in-flight jobs; past the deadline in-flight jobs are cancelled and hand
 *    themselves back to the queue (the actions worker moves them to waiting), and past a short
 *    grace the workers are force-closed;
 * 3. the remaining server connections are closed and the servers' close awaited;
 * 4. queues, then other resources (rule watcher, action runners), in the order they were opened;
 * 5. Redis connections quit (or are dropped when they cannot).
 */
export class Lifecycle {
  readonly #logger: Logger;
  readonly #abortGraceMs: number;
  readonly #connections: RedisConnection[] = [];
  readonly #queues: Closable[] = [];
  readonly #workers: Worker[] = [];
  readonly #servers: Server[] = [];
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #closers: Array<() => Promise<unknown>> = [];
  #stopping: Promise<void> | undefined;

  constructor(options: LifecycleOptions) {
    if (!options.logger) throw new TypeError('Lifecycle needs a logger');
    this.#logger = options.logger;
    this.#abortGraceMs = options.abortGraceMs ?? 1_000;
  }

  trackConnection<T extends RedisConnection>(connection: T): T {
    this.#connections.push(connection);
    return connection;
  }

  trackQueue<T extends Closable>(queue: T): T {
    this.#queues.push(queue);
    return queue;
  }

  trackWorker<T extends Worker>(worker: T): T {
    this.#workers.push(worker);
    return worker;
  }

  trackServer(server: Server): Server {
    this.#servers.push(server);
    return server;
  }

  /** An interval; it is unref'd so it never keeps the process alive by itself. */
  trackTimer(timer: NodeJS.Timeout): NodeJS.Timeout {
    timer.unref();
    this.#timers.push(timer);
    return timer;
  }

  /** Any other resource: closed after the queues, errors ignored. */
  onStop(close: () => Promise<unknown>): void {
    this.#closers.push(close);
  }

  /** Shuts down in the documented order; past `timeoutMs`, in-flight jobs go back to their queue. */
  stop(timeoutMs: number): Promise<void> {
    this.#stopping ??= this.#stop(timeoutMs);
    return this.#stopping;
  }

  /**
   * For a start-up that failed half-way (invalid rules, port in use): closes what was opened at
   * once, without waiting for jobs, so the process can exit with its error instead of hanging on
   * open Redis connections.
   */
  async abandon(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    for (const server of this.#servers) if (server.listening) server.close();
    await Promise.all(this.#workers.map((worker) => worker.close(true).catch(() => undefined)));
    await this.#closeResources();
    for (const connection of this.#connections) connection.disconnect();
  }

  async #stop(timeoutMs: number): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    const serversClosed = Promise.all(this.#servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    for (const server of this.#servers) server.closeIdleConnections();
    // Workers finish their in-flight jobs. Past the deadline, in-flight actions are aborted and
    // hand their jobs back to the queue (actions worker); close(true) alone would leave them
    // locked, for another worker to pick up only once the lock expires.
    const workersClosed = Promise.all(this.#workers.map((worker) => worker.close()));
    const after = (ms: number) => new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
    if ((await Promise.race([workersClosed, after(timeoutMs)])) === 'timeout') {
      this.#logger.warn('shutdown deadline reached: returning in-flight jobs to the queue');
      for (const worker of this.#workers) worker.cancelAllJobs('shutdown');
      if ((await Promise.race([workersClosed, after(this.#abortGraceMs)])) === 'timeout') {
        await Promise.all(this.#workers.map((worker) => worker.close(true)));
      }
    }
    for (const server of this.#servers) server.closeAllConnections();
    await serversClosed;
    await this.#closeResources();
    await Promise.all(this.#connections.map((connection) => connection.quit().catch(() => connection.disconnect())));
    this.#logger.info('affiliate-bridge stopped');
  }

  async #closeResources(): Promise<void> {
    for (const queue of this.#queues) await queue.close().catch(() => undefined);
    for (const close of this.#closers) await close().catch(() => undefined);
  }
}
