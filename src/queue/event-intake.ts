import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { BridgeEvent } from '../events/event.js';
import { StorageUnavailableError } from '../errors.js';
import { EVENT_RETRY_POLICY, buildEventJobOptions, type RetryPolicy } from '../delivery/delivery-policy.js';
import { buildConflictingDuplicate, buildDeliveryTag, digestEventBody, readDigestOfJobId } from './conflicting-duplicates.js';
import { EVENT_JOB_NAME, buildEventJobId } from './names.js';

/** What the events queue holds for one event. */
export interface EventJobData {
  readonly event: BridgeEvent;
  /** Set on a replay: plan even a quarantined event, and give its actions a new generation. */
  readonly replayGeneration?: number;
}

/**
 * `stored`: a first delivery; `duplicate`: the same body again under a known id (nothing new);
 * `conflicting_duplicate`: a known id with a different body, stored as its own quarantined
 * `<source>.conflicting_duplicate` event.
 */
export type StoreOutcome = 'stored' | 'duplicate' | 'conflicting_duplicate';

export interface EventIntakeOptions {
  /** The events queue, on an intake connection (fail fast while Redis is away). */
  readonly queue: Queue<EventJobData>;
  /** How long a delivered event id is remembered, in ms. */
  readonly dedupTtlMs: number;
  /** Largest number of events written in one round trip. @defaultValue 200 */
  readonly maxBatchSize?: number;
  /** Attempts and backoff of every event job. @defaultValue EVENT_RETRY_POLICY (8 attempts over about 2 minutes) */
  readonly eventRetryPolicy?: RetryPolicy;
}

/** Distinguishes this process's delivery tags from every other intake process's. */
// Stryker disable next-line StringLiteral: uniqueness across processes; within one process the counter alone is unique.
const PROCESS_TAG = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

interface PendingStore {
  readonly event: BridgeEvent;
  readonly jobId: string;
  readonly bodyDigest: string;
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
 *
 * A duplicate is the same event id with the same body digest; the same id with another body is a
 * conflicting duplicate (see conflicting-duplicates.ts), stored with a second write.
 */
export class EventIntake {
  readonly #queue: Queue<EventJobData>;
  readonly #dedupTtlMs: number;
  readonly #maxBatchSize: number;
  readonly #retryPolicy: RetryPolicy;
  #pending: PendingStore[] = [];
  #deliveryCounter = 0;
  #flushScheduled = false;

  constructor(options: EventIntakeOptions) {
    if (!options.queue) throw new TypeError('EventIntake needs a queue');
    this.#queue = options.queue;
    this.#dedupTtlMs = options.dedupTtlMs;
    this.#maxBatchSize = options.maxBatchSize ?? 200;
    this.#retryPolicy = options.eventRetryPolicy ?? EVENT_RETRY_POLICY;
  }

  /**
   * Resolves once the event is stored (`stored`), known already with this body (`duplicate`), or
   * stored as a conflicting duplicate (`conflicting_duplicate`).
   * @throws StorageUnavailableError when Redis did not confirm the write.
   */
  store(event: BridgeEvent): Promise<StoreOutcome> {
    return new Promise((resolve, reject) => {
      const bodyDigest = digestEventBody(event);
      this.#pending.push({ event, jobId: this.#buildJobId(event.id, bodyDigest), bodyDigest, resolve, reject });
      if (this.#pending.length >= this.#maxBatchSize) {
        void this.#flush();
      } else if (!this.#flushScheduled) {
        // Stryker disable next-line BooleanLiteral: a second scheduled flush finds the batch taken and returns (tested: no empty batch).
        this.#flushScheduled = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  /** Unique per delivery without a syscall per request: this process's random tag and a counter. */
  #buildJobId(eventId: string, bodyDigest: string): string {
    // Stryker disable next-line AssignmentOperator: counting down is as unique as counting up.
    this.#deliveryCounter += 1;
    return buildEventJobId(eventId, buildDeliveryTag(bodyDigest, `${PROCESS_TAG}${this.#deliveryCounter.toString(36)}`));
  }

  #buildJob(event: BridgeEvent, jobId: string) {
    return {
      name: EVENT_JOB_NAME,
      data: { event },
      opts: { ...buildEventJobOptions(jobId, this.#retryPolicy), deduplication: { id: event.id, ttl: this.#dedupTtlMs } },
    };
  }

  async #flush(): Promise<void> {
    this.#flushScheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    try {
      const jobs = await this.#queue.addBulk(batch.map(({ event, jobId }) => this.#buildJob(event, jobId)));
      // A deduplicated add answers with the id of the job that already holds the event id, and
      // that id carries the first delivery's body digest.
      const conflicts: PendingStore[] = [];
      batch.forEach((pending, index) => {
        // Stryker disable next-line OptionalChaining: addBulk answers one job per job given.
        const heldBy = jobs[index]?.id;
        if (heldBy === pending.jobId) pending.resolve('stored');
        else if (heldBy !== undefined && isOtherBody(heldBy, pending)) conflicts.push(pending);
        else pending.resolve('duplicate');
      });
      if (conflicts.length > 0) await this.#storeConflicts(conflicts);
    } catch (cause) {
      const error = new StorageUnavailableError('storage_unavailable', 'The event could not be stored in Redis', { cause });
      for (const pending of batch) pending.reject(error);
    }
  }

  /**
   * The second write, for conflicting duplicates only: each under its own id, deduplicated by it
   * (the same junk sent again is then an ordinary duplicate).
   */
  async #storeConflicts(conflicts: readonly PendingStore[]): Promise<void> {
    const stored = conflicts.map(({ event, bodyDigest }) => buildConflictingDuplicate(event, bodyDigest));
    const jobIds = stored.map((event, index) => this.#buildJobId(event.id, conflicts[index].bodyDigest));
    const jobs = await this.#queue.addBulk(stored.map((event, index) => this.#buildJob(event, jobIds[index])));
    // Stryker disable next-line OptionalChaining: addBulk answers one job per job given.
    conflicts.forEach((pending, index) => pending.resolve(jobs[index]?.id === jobIds[index] ? 'conflicting_duplicate' : 'duplicate'));
  }
}

/** Whether the job holding the event id was stored from another body than `pending`'s. */
function isOtherBody(heldBy: string, pending: PendingStore): boolean {
  const firstDigest = readDigestOfJobId(heldBy, pending.event.id);
  return firstDigest !== null && firstDigest !== pending.bodyDigest;
}
