import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { BridgeEvent } from '../events/event.js';
import { StorageUnavailableError } from '../errors.js';
import { EVENT_JOB_NAME, buildEventJobId } from './names.js';

/** What the events queue holds for one event. */
export interface EventJobData {
  readonly event: BridgeEvent;
  /** Set on a replay: plan even a quarantined event, and give its actions a new generation. */
  readonly replayGeneration?: number;
}

export type StoreOutcome = 'stored' | 'duplicate';

export interface EventIntakeOptions {
  /** The events queue, on an intake connection (fail fast while Redis is away). */
  readonly queue: Queue<EventJobData>;
  /** How long a delivered event id is remembered, in ms. */
  readonly dedupTtlMs: number;
  /** Largest number of events written in one round trip. @defaultValue 200 */
  readonly maxBatchSize?: number;
}

/** Distinguishes this process's delivery tags from every other intake process's. */
const PROCESS_TAG = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

interface PendingStore {
  readonly event: BridgeEvent;
  readonly jobId: string;
  resolve(outcome: StoreOutcome): void;
  reject(error: unknown): void;
}

/**
 * Stores events durably in the events queue, deduplicating by event id for `dedupTtlMs`.
 *
 * Requests that arrive together are written together: stores are collected until the current
 * I/O turn ends and sent as one `addBulk` (one MULTI round trip), so storage costs almost nothing
 * per request under load. The dedup record is BullMQ's deduplication key, written by the same Lua
 * script as the job, so there is no moment where one exists without the other.
 */
export class EventIntake {
  readonly #queue: Queue<EventJobData>;
  readonly #dedupTtlMs: number;
  readonly #maxBatchSize: number;
  #pending: PendingStore[] = [];
  #deliveryCounter = 0;
  #flushScheduled = false;

  constructor(options: EventIntakeOptions) {
    if (!options.queue) throw new TypeError('EventIntake needs a queue');
    this.#queue = options.queue;
    this.#dedupTtlMs = options.dedupTtlMs;
    this.#maxBatchSize = options.maxBatchSize ?? 200;
  }

  /**
   * Resolves once the event is stored (`stored`) or known already (`duplicate`).
   * @throws StorageUnavailableError when Redis did not confirm the write.
   */
  store(event: BridgeEvent): Promise<StoreOutcome> {
    return new Promise((resolve, reject) => {
      // Unique per delivery without a syscall per request: this process's random tag and a counter.
      this.#deliveryCounter += 1;
      const jobId = buildEventJobId(event.id, `${PROCESS_TAG}${this.#deliveryCounter.toString(36)}`);
      this.#pending.push({ event, jobId, resolve, reject });
      if (this.#pending.length >= this.#maxBatchSize) {
        void this.#flush();
      } else if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    this.#flushScheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    try {
      const jobs = await this.#queue.addBulk(
        batch.map(({ event, jobId }) => ({
          name: EVENT_JOB_NAME,
          data: { event },
          opts: { jobId, deduplication: { id: event.id, ttl: this.#dedupTtlMs } },
        })),
      );
      // A deduplicated add answers with the id of the job that already holds the event id.
      batch.forEach((pending, index) => pending.resolve(jobs[index]?.id === pending.jobId ? 'stored' : 'duplicate'));
    } catch (cause) {
      const error = new StorageUnavailableError('storage_unavailable', 'The event could not be stored in Redis', { cause });
      for (const pending of batch) pending.reject(error);
    }
  }
}
