import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { BridgeEvent } from '../events/event.js';
import { StorageUnavailableError } from '../errors.js';
import { EVENT_RETRY_POLICY, buildEventJobOptions, type RetryPolicy } from '../delivery/delivery-policy.js';
import { buildConflictingDuplicate, buildDeliveryTag, digestSerializedEventBody, readDigestOfJobId } from './conflicting-duplicates.js';
import { storeEventJobs, type EventJobRecord } from './event-job-store.js';
import { DELIVERY_BATCH_JOB_NAME, EVENT_JOB_NAME, buildDeliveryBatchJobId, buildEventJobId } from './names.js';

/** What the events queue holds for one event. */
export interface EventJobData {
  readonly event: BridgeEvent;
  /** Set on a replay: plan even a quarantined event, and give its actions a new generation. */
  readonly replayGeneration?: number;
}

/** One delivery of a {@link DeliveryBatchJobData}: the event and the event job id its dedup key holds. */
export interface BatchedDelivery {
  readonly jobId: string;
  readonly event: BridgeEvent;
}

/**
 * What the events queue holds for deliveries stored together (two or more new events in one
 * write, see event-job-store.ts): each is planned as its own event job would be.
 */
export interface DeliveryBatchJobData {
  readonly deliveries: readonly BatchedDelivery[];
}

/** Any job of the events queue: one event, or deliveries stored together. */
export type EventsQueueJobData = EventJobData | DeliveryBatchJobData;

/** Whether an events-queue job carries several deliveries (else it is one event's job). */
export function isDeliveryBatch(data: EventsQueueJobData): data is DeliveryBatchJobData {
  return 'deliveries' in data;
}

/** The events a job of the events queue carries: its one event, or each delivery's. */
export function eventsOfJob(data: EventsQueueJobData): BridgeEvent[] {
  return isDeliveryBatch(data) ? data.deliveries.map((delivery) => delivery.event) : [data.event];
}

/**
 * `stored`: a first delivery; `duplicate`: the same body again under a known id (nothing new);
 * `conflicting_duplicate`: a known id with a different body, stored as its own quarantined
 * `<source>.conflicting_duplicate` event.
 */
export type StoreOutcome = 'stored' | 'duplicate' | 'conflicting_duplicate';

export interface EventIntakeOptions {
  /** The events queue, on an intake connection (fail fast while Redis is away). */
  readonly queue: Queue<EventsQueueJobData>;
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
  /** The job's data as stored, `{"event":…}`. */
  readonly dataJson: string;
  resolve(outcome: StoreOutcome): void;
  reject(error: unknown): void;
}

/**
 * Stores events durably in the events queue, deduplicating by event id for `dedupTtlMs`.
 *
 * Requests that arrive together are written together: stores are collected until the current
 * I/O turn ends and sent as one script (event-job-store.ts: one round trip), so storage costs
 * little per request under load. The dedup record is BullMQ's deduplication key, written by the
 * same script as the job, so there is no moment where one exists without the other. A delivery
 * stored alone is its own BullMQ event job; deliveries stored together share one job, in which the
 * events worker plans each event on its own (and splits off one that fails as its own event job,
 * under the job id its dedup key holds): each event is traced, retried and replayed alone.
 * The payload is serialised once: the stored JSON and the body digest come from the same string.
 *
 * A duplicate is the same event id with the same body digest; the same id with another body is a
 * conflicting duplicate (see conflicting-duplicates.ts), stored with a second write.
 */
export class EventIntake {
  readonly #queue: Queue<EventsQueueJobData>;
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
      const { dataJson, bodyDigest } = serializeEventJob(event);
      this.#pending.push({ event, jobId: this.#buildJobId(event.id, bodyDigest), bodyDigest, dataJson, resolve, reject });
      if (this.#pending.length >= this.#maxBatchSize) {
        void this.#flush();
      } else if (!this.#flushScheduled) {
        // Stryker disable next-line BooleanLiteral: a second scheduled flush finds the batch taken and returns (tested: no empty batch).
        this.#flushScheduled = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  /** Unique per delivery and per job of deliveries without a syscall per request: this process's random tag and a counter. */
  #nextUniqueTag(): string {
    // Stryker disable next-line AssignmentOperator: counting down is as unique as counting up.
    this.#deliveryCounter += 1;
    return `${PROCESS_TAG}${this.#deliveryCounter.toString(36)}`;
  }

  #buildJobId(eventId: string, bodyDigest: string): string {
    return buildEventJobId(eventId, buildDeliveryTag(bodyDigest, this.#nextUniqueTag()));
  }

  #buildJob(event: BridgeEvent, jobId: string, dataJson: string): EventJobRecord {
    return { jobId, dedupId: event.id, name: EVENT_JOB_NAME, dataJson, opts: buildEventJobOptions(jobId, this.#retryPolicy) };
  }

  /** One round trip for the batch; per job, the id of the job holding its event id. */
  #write(jobs: readonly EventJobRecord[]): Promise<string[]> {
    if (jobs.length === 1) return storeEventJobs(this.#queue, jobs, { dedupTtlMs: this.#dedupTtlMs });
    const batchJobId = buildDeliveryBatchJobId(this.#nextUniqueTag());
    const batch = { jobId: batchJobId, name: DELIVERY_BATCH_JOB_NAME, opts: buildEventJobOptions(batchJobId, this.#retryPolicy) };
    return storeEventJobs(this.#queue, jobs, { dedupTtlMs: this.#dedupTtlMs, batch });
  }

  async #flush(): Promise<void> {
    this.#flushScheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    try {
      const heldByIds = await this.#write(batch.map(({ event, jobId, dataJson }) => this.#buildJob(event, jobId, dataJson)));
      // A deduplicated add answers with the id of the job that already holds the event id, and
      // that id carries the first delivery's body digest.
      const conflicts: PendingStore[] = [];
      batch.forEach((pending, index) => {
        const heldBy = heldByIds[index];
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
    const heldByIds = await this.#write(stored.map((event, index) => this.#buildJob(event, jobIds[index], serializeEventJob(event).dataJson)));
    conflicts.forEach((pending, index) => pending.resolve(heldByIds[index] === jobIds[index] ? 'conflicting_duplicate' : 'duplicate'));
  }
}

/**
 * The event job's data as stored (`{"event":…}`, what BullMQ's add would write for `{ event }`)
 * and the body digest, from one serialisation of the payload: the data is serialised alone and
 * spliced in, and the digest hashes that same string.
 */
export function serializeEventJob(event: BridgeEvent): { dataJson: string; bodyDigest: string } {
  const { data, ...rest } = event;
  const payloadJson: string | undefined = JSON.stringify(data);
  const restJson = JSON.stringify(rest);
  const eventJson = payloadJson === undefined ? restJson : restJson === '{}' ? `{"data":${payloadJson}}` : `${restJson.slice(0, -1)},"data":${payloadJson}}`;
  return { dataJson: `{"event":${eventJson}}`, bodyDigest: digestSerializedEventBody(event, payloadJson) };
}

/** Whether the job holding the event id was stored from another body than `pending`'s. */
function isOtherBody(heldBy: string, pending: PendingStore): boolean {
  const firstDigest = readDigestOfJobId(heldBy, pending.event.id);
  return firstDigest !== null && firstDigest !== pending.bodyDigest;
}
