import { Queue } from 'bullmq';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { EVENT_RETRY_POLICY } from '../../../src/delivery/delivery-policy.js';
import { StorageUnavailableError } from '../../../src/errors.js';
import type { BridgeEvent } from '../../../src/events/event.js';
import { EventIntake, eventsOfJob, type DeliveryBatchJobData, type EventsQueueJobData } from '../../../src/queue/event-intake.js';
import { buildEventJobId, DELIVERY_BATCH_JOB_NAME, EVENT_JOB_NAME, EVENTS_QUEUE } from '../../../src/queue/names.js';
import { buildEvent } from '../../unit/rules/fixture-events.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL } from '../../support/redis.js';

/**
 * EventIntake on real Redis: the micro-batches it writes (one script, one round trip, per batch)
 * and the dedup decisions it takes from the script's answer. The queue is the real one; a
 * recording wrapper on the connection notes the size of each script call and lets it run.
 */
describe('EventIntake (real BullMQ queue, real Redis)', () => {
  let prefix: string;
  let connection: Redis;
  let queue: Queue<EventsQueueJobData>;
  let batchSizes: number[];

  beforeEach(async () => {
    prefix = randomPrefix('intake');
    connection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    queue = new Queue<EventsQueueJobData>(EVENTS_QUEUE, { connection, prefix });
    batchSizes = [];
    // Each batch is one script call (event-job-store.ts) whose KEYS are 5 queue keys and 2 per delivery.
    const evalsha = connection.evalsha.bind(connection);
    connection.evalsha = ((sha: string, numberOfKeys: number, ...rest: (string | number)[]) => {
      batchSizes.push((numberOfKeys - 5) / 2);
      return evalsha(sha, numberOfKeys, ...rest);
    }) as typeof connection.evalsha;
  });

  afterEach(async () => {
    await queue.close();
    await deleteKeys(connection, prefix);
    connection.disconnect();
  });

  const lead = (n: number): BridgeEvent => ({ ...buildEvent('firstpromoter.lead_signup', { id: n, email: `lead${n}@example.com` }), id: `firstpromoter-${n}` });

  it('needs a queue', () => {
    expect(() => new EventIntake({ queue: undefined as unknown as Queue<EventsQueueJobData>, dedupTtlMs: 1_000 })).to.throw(TypeError, 'EventIntake needs a queue');
  });

  it('writes deliveries that arrive together in batches of maxBatchSize, the rest at the end of the turn, and no empty batch', async () => {
    const intake = new EventIntake({ queue, dedupTtlMs: 60_000, maxBatchSize: 3 });
    const outcomes = await Promise.all(Array.from({ length: 7 }, (_, n) => intake.store(lead(n + 1))));
    expect(outcomes).to.deep.equal(Array(7).fill('stored'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(batchSizes).to.deep.equal([3, 3, 1]);
    // Deliveries stored together share a job; the lone one is its own event job.
    const jobs = await queue.getJobs(['waiting']);
    expect(jobs.map((job) => job.name).sort()).to.deep.equal([DELIVERY_BATCH_JOB_NAME, DELIVERY_BATCH_JOB_NAME, EVENT_JOB_NAME]);
    expect(jobs.flatMap((job) => eventsOfJob(job.data).map((event) => event.id)).sort()).to.deep.equal(Array.from({ length: 7 }, (_, n) => `firstpromoter-${n + 1}`).sort());
  });

  it('deliveries stored together: one job of deliveries, each event under the job id its own dedup key holds, in arrival order', async () => {
    const intake = new EventIntake({ queue, dedupTtlMs: 60_000 });
    // 2 is sent twice in the same turn: the second is a duplicate of the first, not a delivery of the job.
    const outcomes = await Promise.all([lead(1), lead(2), lead(2), lead(3)].map((event) => intake.store(event)));
    expect(outcomes).to.deep.equal(['stored', 'stored', 'duplicate', 'stored']);
    const [job, ...others] = await queue.getJobs(['waiting']);
    expect(others).to.have.length(0);
    expect(job.name).to.equal(DELIVERY_BATCH_JOB_NAME);
    expect(job.id).to.match(/^deliveries\./);
    expect(job.opts.attempts).to.equal(EVENT_RETRY_POLICY.attempts);
    const { deliveries } = job.data as DeliveryBatchJobData;
    expect(deliveries.map((delivery) => delivery.event)).to.deep.equal([lead(1), lead(2), lead(3)].map((event) => ({ ...event, data: JSON.parse(JSON.stringify(event.data)) })));
    for (const delivery of deliveries) {
      expect(await connection.get(`${queue.keys.de}:${delivery.event.id}`)).to.equal(delivery.jobId);
      expect(delivery.jobId.startsWith(`${delivery.event.id}.`)).to.equal(true);
      // No job of its own while it travels in the job of deliveries.
      expect(await queue.getJob(delivery.jobId)).to.equal(undefined);
    }
    // A later redelivery is a duplicate of the batched one.
    expect(await intake.store(lead(3))).to.equal('duplicate');
  });

  it('writes 200 deliveries per round trip by default', async () => {
    const intake = new EventIntake({ queue, dedupTtlMs: 60_000 });
    await Promise.all(Array.from({ length: 201 }, (_, n) => intake.store(lead(n + 1))));
    expect(batchSizes).to.deep.equal([200, 1]);
  });

  it('one delivery is one write: a plain store makes no second (conflict) write', async () => {
    const intake = new EventIntake({ queue, dedupTtlMs: 60_000 });
    expect(await intake.store(lead(1))).to.equal('stored');
    await new Promise((resolve) => setImmediate(resolve));
    expect(batchSizes).to.deep.equal([1]);
  });

  it('gives every event job the event retry policy by default', async () => {
    const intake = new EventIntake({ queue, dedupTtlMs: 60_000 });
    await intake.store(lead(1));
    const [job] = await queue.getJobs(['waiting', 'prioritized', 'delayed']);
    expect(job?.opts.attempts).to.equal(EVENT_RETRY_POLICY.attempts);
  });

  it('gives every event job the retry policy it was given instead', async () => {
    const intake = new EventIntake({ queue, dedupTtlMs: 60_000, eventRetryPolicy: { attempts: 3, baseDelayMs: 250, maxDelayMs: 1_000 } });
    await intake.store(lead(1));
    const [job] = await queue.getJobs(['waiting']);
    expect(job?.opts).to.deep.include({ attempts: 3, backoff: { type: 'exponential', delay: 250, jitter: 0.5 } });
  });

  it('rejects every delivery of a batch Redis did not store with StorageUnavailableError, the cause attached', async () => {
    // A dedup key of the wrong type makes the batch's script fail in Redis.
    await connection.hset(`${queue.keys.de}:firstpromoter-2`, 'x', '1');
    const intake = new EventIntake({ queue, dedupTtlMs: 60_000 });
    const outcomes = await Promise.allSettled([intake.store(lead(1)), intake.store(lead(2))]);
    for (const outcome of outcomes) {
      expect(outcome.status).to.equal('rejected');
      const error = (outcome as PromiseRejectedResult).reason as StorageUnavailableError;
      expect(error).to.be.instanceOf(StorageUnavailableError);
      expect([error.code, error.message]).to.deep.equal(['storage_unavailable', 'The event could not be stored in Redis']);
      expect((error.cause as Error).message).to.match(/^WRONGTYPE/);
    }
  });

  it('an id held by a job stored before body digests existed: a redelivery is a plain duplicate, never a conflict', async () => {
    const event = lead(42);
    // The job id format before digests: `<event id>.<tag>`, with no digest in the tag.
    await queue.add(EVENT_JOB_NAME, { event }, { jobId: buildEventJobId(event.id, 'k2x9f1'), deduplication: { id: event.id, ttl: 60_000 } });
    const intake = new EventIntake({ queue, dedupTtlMs: 60_000 });
    expect(await intake.store({ ...event, data: { ...event.data, email: 'other@example.com' } })).to.equal('duplicate');
    expect(batchSizes).to.deep.equal([1]);
  });
});
