import { Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { RedisConnection } from '../infra/redis.js';
import type { Reconciler } from './reconciler.js';
import { isRedisConnectionError } from '../infra/redis-health.js';

/** The queue of scheduled reconciliation runs, beside `events` and `actions`. */
export const RECONCILE_QUEUE = 'reconcile';

/** The id of the job scheduler: one for the whole bridge, whatever the number of workers. */
export const RECONCILE_SCHEDULER_ID = 'reconcile-every-interval';

/** Options of {@link startReconcileScheduler}. */
export interface ReconcileSchedulerOptions {
  /** The worker's own BullMQ connection (role `worker`). */
  readonly connection: RedisConnection;
  /** The connection the queue is written with. */
  readonly state: RedisConnection;
  /** QUEUE_PREFIX. */
  readonly prefix: string;
  /** RECONCILE_INTERVAL, in ms. */
  readonly intervalMs: number;
  /** Runs each tick: every configured source in turn, one at a time across processes. */
  readonly reconciler: Reconciler;
  /** Where worker errors are logged. */
  readonly logger: Logger;
}

/**
 * Schedules reconciliation every `intervalMs` with BullMQ's job scheduler: every worker upserts the
 * same scheduler id, so there is one schedule, and each tick is one job that one worker takes. A
 * tick that comes while the previous run still holds a source's lock (a slow API, a run by hand)
 * skips that source. The caller closes the returned queue and worker.
 */
export async function startReconcileScheduler(options: ReconcileSchedulerOptions): Promise<{ queue: Queue; worker: Worker }> {
  const queue = new Queue(RECONCILE_QUEUE, { connection: options.state, prefix: options.prefix });
  await queue.upsertJobScheduler(
    RECONCILE_SCHEDULER_ID,
    { every: options.intervalMs },
    { name: 'reconcile', opts: { removeOnComplete: 50, removeOnFail: 50 } },
  );
  const worker = new Worker(RECONCILE_QUEUE, () => options.reconciler.runScheduled(), {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: 1,
  });
  // Redis being unreachable is logged once per outage by RedisHealth (src/infra/redis-health.ts), not per retry.
  worker.on('error', (error) => {
    if (!isRedisConnectionError(error)) options.logger.error({ err: error }, 'reconcile worker error');
  });
  return { queue, worker };
}
