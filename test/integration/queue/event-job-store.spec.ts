import { Queue, Worker, type Job } from 'bullmq';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { buildEventJobOptions } from '../../../src/delivery/delivery-policy.js';
import type { BridgeEvent } from '../../../src/events/event.js';
import { digestEventBody } from '../../../src/queue/conflicting-duplicates.js';
import { serializeEventJob, type EventJobData, type EventsQueueJobData } from '../../../src/queue/event-intake.js';
import { encodeEventJobOptions, storeEventJobs, type EventJobRecord } from '../../../src/queue/event-job-store.js';
import { DELIVERY_BATCH_JOB_NAME, EVENT_JOB_NAME, EVENTS_QUEUE } from '../../../src/queue/names.js';
import { buildEvent, eventFromFixture } from '../../unit/rules/fixture-events.js';
import { countCalls, deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';
import { OwnRedisServer } from '../../support/redis-server.js';

/**
 * The intake's own write (event-job-store.ts) must store what BullMQ's add stores for the same
 * deduplicated job, so BullMQ's workers, getJob, retries and the dashboard read it as their own.
 * Checked against BullMQ itself on real Redis: same job hash, same dedup key, same wait list.
 */
describe('storeEventJobs: the intake write, as BullMQ stores a deduplicated job (real Redis)', () => {
  const DEDUP_TTL_MS = 60_000;
  let connection: Redis;
  let prefixes: string[];

  beforeEach(() => {
    connection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    prefixes = [];
  });

  afterEach(async () => {
    for (const prefix of prefixes) await deleteKeys(connection, prefix);
    connection.disconnect();
  });

  function openQueue(redis: Redis = connection): Queue<EventsQueueJobData> {
    const prefix = randomPrefix('job-store');
    prefixes.push(prefix);
    return new Queue<EventsQueueJobData>(EVENTS_QUEUE, { connection: redis, prefix });
  }

  const event = eventFromFixture('firstpromoter/lead_signup.json', { data: { note: 'ünïcode "quoted" \u2028', nested: { list: [1, null, true] } } });
  const record = (jobId: string, stored: BridgeEvent = event): EventJobRecord => ({
    jobId,
    dedupId: stored.id,
    name: EVENT_JOB_NAME,
    dataJson: serializeEventJob(stored).dataJson,
    opts: buildEventJobOptions(jobId),
  });

  it('writes the job hash, dedup key, wait list and marker that BullMQ writes for the same job', async () => {
    const ours = openQueue();
    const bullmq = openQueue();
    const jobId = `${event.id}.0123456789abcdef.t1`;
    const added = await bullmq.add(EVENT_JOB_NAME, { event }, { ...buildEventJobOptions(jobId), deduplication: { id: event.id, ttl: DEDUP_TTL_MS } });
    expect(await storeEventJobs(ours, [record(jobId)], { dedupTtlMs: DEDUP_TTL_MS, timestamp: added.timestamp })).to.deep.equal([jobId]);

    const [ourHash, theirHash] = await Promise.all([ours, bullmq].map((queue) => connection.hgetall(`${queue.keys['']}${jobId}`)));
    // The opts JSON is an object whose key order Lua's cjson does not keep: compare it parsed.
    expect({ ...ourHash, opts: JSON.parse(ourHash.opts!) }).to.deep.equal({ ...theirHash, opts: JSON.parse(theirHash.opts!) });
    expect(JSON.parse(ourHash.data!)).to.deep.equal({ event });
    for (const queue of [ours, bullmq]) {
      expect(await connection.get(`${queue.keys.de}:${event.id}`)).to.equal(jobId);
      expect(await connection.pttl(`${queue.keys.de}:${event.id}`)).to.be.within(DEDUP_TTL_MS - 5_000, DEDUP_TTL_MS);
      expect(await connection.lrange(queue.keys.wait, 0, -1)).to.deep.equal([jobId]);
      expect(await connection.zrange(queue.keys.marker, 0, -1, 'WITHSCORES')).to.deep.equal(['0', '0']);
    }
    const job = await ours.getJob(jobId);
    expect(job?.data).to.deep.equal({ event });
    expect(job?.opts).to.deep.include({ attempts: 8, deduplication: { id: event.id, ttl: DEDUP_TTL_MS } });
    expect(job?.deduplicationId).to.equal(event.id);
    expect(await ours.getJobState(jobId)).to.equal('waiting');
  });

  it('stores two or more new deliveries as one job of deliveries, as BullMQ stores that job, each dedup key holding its delivery job id', async () => {
    const ours = openQueue();
    const bullmq = openQueue();
    const other = buildEvent('firstpromoter.lead_signup', { id: 2 }, { id: 'firstpromoter-2' });
    const batchJobId = 'deliveries.t1';
    const batch = { jobId: batchJobId, name: DELIVERY_BATCH_JOB_NAME, opts: buildEventJobOptions(batchJobId) };
    const deliveries = [
      { jobId: `${event.id}.a`, event },
      { jobId: `${other.id}.b`, event: other },
    ];
    const added = await bullmq.add(DELIVERY_BATCH_JOB_NAME, { deliveries }, batch.opts);
    // The third delivery repeats the first's event id: a duplicate, left out of the job.
    const answers = await storeEventJobs(ours, [record(`${event.id}.a`), record(`${other.id}.b`, other), record(`${event.id}.c`)], {
      dedupTtlMs: DEDUP_TTL_MS,
      batch,
      timestamp: added.timestamp,
    });
    expect(answers).to.deep.equal([`${event.id}.a`, `${other.id}.b`, `${event.id}.a`]);

    const [ourHash, theirHash] = await Promise.all([ours, bullmq].map((queue) => connection.hgetall(`${queue.keys['']}${batchJobId}`)));
    expect({ ...ourHash, opts: JSON.parse(ourHash.opts!), data: JSON.parse(ourHash.data!) }).to.deep.equal({ ...theirHash, opts: JSON.parse(theirHash.opts!), data: JSON.parse(theirHash.data!) });
    expect(JSON.parse(ourHash.data!)).to.deep.equal({ deliveries });
    expect(await connection.lrange(ours.keys.wait, 0, -1)).to.deep.equal([batchJobId]);
    expect(await connection.zcard(ours.keys.marker)).to.equal(1);
    for (const delivery of deliveries) {
      expect(await connection.get(`${ours.keys.de}:${delivery.event.id}`)).to.equal(delivery.jobId);
      expect(await connection.pttl(`${ours.keys.de}:${delivery.event.id}`)).to.be.within(DEDUP_TTL_MS - 5_000, DEDUP_TTL_MS);
      expect(await connection.exists(`${ours.keys['']}${delivery.jobId}`)).to.equal(0);
    }
    // A BullMQ worker takes it as any job.
    const seen: unknown[] = [];
    const worker = new Worker(EVENTS_QUEUE, async (job: Job) => void seen.push([job.name, job.data]), { connection: connection.duplicate(), prefix: ours.opts.prefix });
    try {
      await waitFor(async () => (await ours.getJobState(batchJobId)) === 'completed');
    } finally {
      await worker.close();
    }
    expect(seen).to.deep.equal([[DELIVERY_BATCH_JOB_NAME, { deliveries }]]);
  });

  it('a lone new delivery among duplicates is stored as its own event job, not as a job of deliveries', async () => {
    const queue = openQueue();
    await storeEventJobs(queue, [record(`${event.id}.a`)], { dedupTtlMs: DEDUP_TTL_MS });
    const other = buildEvent('firstpromoter.lead_signup', { id: 2 }, { id: 'firstpromoter-2' });
    const batch = { jobId: 'deliveries.t2', name: DELIVERY_BATCH_JOB_NAME, opts: buildEventJobOptions('deliveries.t2') };
    expect(await storeEventJobs(queue, [record(`${event.id}.b`), record(`${other.id}.c`, other)], { dedupTtlMs: DEDUP_TTL_MS, batch })).to.deep.equal([`${event.id}.a`, `${other.id}.c`]);
    expect(await queue.getJob('deliveries.t2')).to.equal(undefined);
    expect((await queue.getJob(`${other.id}.c`))?.data).to.deep.equal({ event: other });
    // Nothing new at all: nothing written, no marker.
    await connection.del(queue.keys.marker);
    expect(await storeEventJobs(queue, [record(`${event.id}.d`), record(`${other.id}.e`, other)], { dedupTtlMs: DEDUP_TTL_MS, batch: { ...batch, jobId: 'deliveries.t3' } })).to.deep.equal([`${event.id}.a`, `${other.id}.c`]);
    expect(await connection.zcard(queue.keys.marker)).to.equal(0);
    expect(await queue.getJob('deliveries.t3')).to.equal(undefined);
  });

  it('one run when every delivery of a batch is new; when new and known ones mix, a second run stores the new ones together', async () => {
    const queue = openQueue();
    const other = buildEvent('firstpromoter.lead_signup', { id: 2 }, { id: 'firstpromoter-2' });
    const third = buildEvent('firstpromoter.lead_signup', { id: 3 }, { id: 'firstpromoter-3' });
    const batch = (jobId: string) => ({ jobId, name: DELIVERY_BATCH_JOB_NAME, opts: buildEventJobOptions(jobId) });
    await storeEventJobs(queue, [record(`${event.id}.a`)], { dedupTtlMs: DEDUP_TTL_MS });
    const runs = countCalls(connection, 'evalsha');

    expect(await storeEventJobs(queue, [record(`${other.id}.b`, other), record(`${third.id}.c`, third)], { dedupTtlMs: DEDUP_TTL_MS, batch: batch('deliveries.t1') })).to.deep.equal([
      `${other.id}.b`,
      `${third.id}.c`,
    ]);
    expect(runs.count).to.equal(1);

    const fourth = buildEvent('firstpromoter.lead_signup', { id: 4 }, { id: 'firstpromoter-4' });
    const fifth = buildEvent('firstpromoter.lead_signup', { id: 5 }, { id: 'firstpromoter-5' });
    const mixed = [record(`${fourth.id}.d`, fourth), record(`${event.id}.e`), record(`${fifth.id}.f`, fifth), record(`${other.id}.g`, other)];
    expect(await storeEventJobs(queue, mixed, { dedupTtlMs: DEDUP_TTL_MS, batch: batch('deliveries.t2') })).to.deep.equal([
      `${fourth.id}.d`,
      `${event.id}.a`,
      `${fifth.id}.f`,
      `${other.id}.b`,
    ]);
    expect(runs.count).to.equal(3);
    expect((await queue.getJob('deliveries.t2'))?.data).to.deep.equal({
      deliveries: [
        { jobId: `${fourth.id}.d`, event: fourth },
        { jobId: `${fifth.id}.f`, event: fifth },
      ],
    });
    expect(await connection.lrange(queue.keys.wait, 0, -1)).to.deep.equal(['deliveries.t2', 'deliveries.t1', `${event.id}.a`]);
  });

  it('the run that finds known deliveries in a batch writes nothing: when the second run fails, no dedup key is left without its job', async () => {
    const queue = openQueue();
    const other = buildEvent('firstpromoter.lead_signup', { id: 2 }, { id: 'firstpromoter-2' });
    const third = buildEvent('firstpromoter.lead_signup', { id: 3 }, { id: 'firstpromoter-3' });
    await storeEventJobs(queue, [record(`${event.id}.a`)], { dedupTtlMs: DEDUP_TTL_MS });
    countCalls(connection, 'evalsha', 2);
    const batch = { jobId: 'deliveries.t1', name: DELIVERY_BATCH_JOB_NAME, opts: buildEventJobOptions('deliveries.t1') };
    const error = await storeEventJobs(queue, [record(`${other.id}.b`, other), record(`${event.id}.c`), record(`${third.id}.d`, third)], { dedupTtlMs: DEDUP_TTL_MS, batch }).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).to.be.instanceOf(Error).with.property('message', 'connection lost');
    expect(await connection.exists(`${queue.keys.de}:${other.id}`, `${queue.keys.de}:${third.id}`, `${queue.keys['']}deliveries.t1`)).to.equal(0);
    expect(await connection.lrange(queue.keys.wait, 0, -1)).to.deep.equal([`${event.id}.a`]);
  });

  it('answers, per job, the job id holding its event id: its own when stored, the first one when known', async () => {
    const queue = openQueue();
    const other = buildEvent('firstpromoter.lead_signup', { id: 2 }, { id: 'firstpromoter-2' });
    expect(await storeEventJobs(queue, [record(`${event.id}.a`), record(`${other.id}.b`, other), record(`${event.id}.c`)], { dedupTtlMs: DEDUP_TTL_MS })).to.deep.equal([
      `${event.id}.a`,
      `${other.id}.b`,
      `${event.id}.a`,
    ]);
    expect(await storeEventJobs(queue, [record(`${event.id}.d`)], { dedupTtlMs: DEDUP_TTL_MS })).to.deep.equal([`${event.id}.a`]);
    expect(await queue.getJob(`${event.id}.c`)).to.equal(undefined);
    expect(await connection.lrange(queue.keys.wait, 0, -1)).to.deep.equal([`${other.id}.b`, `${event.id}.a`]);
  });

  it('forgets an event id after the dedup TTL: the next delivery is stored', async () => {
    const queue = openQueue();
    expect(await storeEventJobs(queue, [record(`${event.id}.a`)], { dedupTtlMs: 50 })).to.deep.equal([`${event.id}.a`]);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await storeEventJobs(queue, [record(`${event.id}.b`)], { dedupTtlMs: 50 })).to.deep.equal([`${event.id}.b`]);
  });

  it('adds no marker while the queue is paused, so no worker takes the job until it is resumed', async () => {
    const queue = openQueue();
    await queue.pause();
    await storeEventJobs(queue, [record(`${event.id}.a`)], { dedupTtlMs: DEDUP_TTL_MS });
    expect(await connection.zcard(queue.keys.marker)).to.equal(0);
    expect(await queue.getJobState(`${event.id}.a`)).to.equal('waiting');
    await queue.resume();
    expect(await connection.zcard(queue.keys.marker)).to.equal(1);
  });

  it('adds no marker while the queue is at its global concurrency', async () => {
    const queue = openQueue();
    await queue.setGlobalConcurrency(1);
    await connection.lpush(queue.keys.active, 'someone-else');
    await storeEventJobs(queue, [record(`${event.id}.a`)], { dedupTtlMs: DEDUP_TTL_MS });
    expect(await connection.zcard(queue.keys.marker)).to.equal(0);
    await connection.del(queue.keys.active);
    await storeEventJobs(queue, [record(`firstpromoter-2.b`, { ...event, id: 'firstpromoter-2' })], { dedupTtlMs: DEDUP_TTL_MS });
    expect(await connection.zcard(queue.keys.marker)).to.equal(1);
  });

  it('a BullMQ worker takes the job, and retries it with its attempts and backoff when it fails', async () => {
    const queue = openQueue();
    const jobId = `${event.id}.a`;
    await storeEventJobs(queue, [{ ...record(jobId), opts: buildEventJobOptions(jobId, { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 }) }], { dedupTtlMs: DEDUP_TTL_MS });
    const seen: { data: unknown; attemptsMade: number }[] = [];
    const worker = new Worker<EventJobData>(
      EVENTS_QUEUE,
      async (job: Job<EventJobData>) => {
        seen.push({ data: job.data, attemptsMade: job.attemptsMade });
        if (seen.length === 1) throw new Error('first attempt fails');
      },
      { connection: connection.duplicate(), prefix: queue.opts.prefix },
    );
    try {
      await waitFor(async () => (await queue.getJobState(jobId)) === 'completed');
    } finally {
      await worker.close();
    }
    expect(seen).to.deep.equal([
      { data: { event }, attemptsMade: 0 },
      { data: { event }, attemptsMade: 1 },
    ]);
  });

  it('sends the script itself when Redis does not have it cached (a new or restarted Redis)', async () => {
    const redis = await OwnRedisServer.start();
    const own = new Redis(redis.url, { maxRetriesPerRequest: null });
    try {
      const queue = openQueue(own);
      expect(await own.script('FLUSH')).to.equal('OK');
      expect(await storeEventJobs(queue, [record(`${event.id}.a`)], { dedupTtlMs: DEDUP_TTL_MS })).to.deep.equal([`${event.id}.a`]);
      expect(await storeEventJobs(queue, [record(`firstpromoter-2.b`, { ...event, id: 'firstpromoter-2' })], { dedupTtlMs: DEDUP_TTL_MS })).to.deep.equal(['firstpromoter-2.b']);
      expect(await queue.count()).to.equal(2);
      await queue.close();
    } finally {
      own.disconnect();
      await redis.destroy();
    }
  });

  it('a command failing inside the script throws (the intake answers 503 for the batch)', async () => {
    const queue = openQueue();
    // A wrong-typed dedup key makes SET fail inside the script for the second job.
    await connection.hset(`${queue.keys.de}:firstpromoter-2`, 'x', '1');
    // The script is cached in Redis after one use; after that, only a missing script is worth
    // sending the script for: count the sends.
    await storeEventJobs(queue, [record('firstpromoter-3.c', { ...event, id: 'firstpromoter-3' })], { dedupTtlMs: DEDUP_TTL_MS });
    const scriptSends = countCalls(connection, 'eval');
    const error = await storeEventJobs(queue, [record(`${event.id}.a`), record('firstpromoter-2.b', { ...event, id: 'firstpromoter-2' })], { dedupTtlMs: DEDUP_TTL_MS }).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).to.be.instanceOf(Error).with.property('message').that.matches(/WRONGTYPE/);
    expect(scriptSends.count).to.equal(0);
    // What the script wrote before the error is undone: no dedup key without its job, so the
    // senders' retries (the intake answers 503 for the whole batch) are stored afresh.
    expect(await connection.exists(`${queue.keys.de}:${event.id}`, `${queue.keys['']}${event.id}.a`)).to.equal(0);
    expect(await connection.lrange(queue.keys.wait, 0, -1)).to.deep.equal(['firstpromoter-3.c']);
    expect(await storeEventJobs(queue, [record(`${event.id}.b`)], { dedupTtlMs: DEDUP_TTL_MS })).to.deep.equal([`${event.id}.b`]);
  });
});

describe('serializeEventJob: the event job data, serialised once', () => {
  const events: BridgeEvent[] = [
    eventFromFixture('firstpromoter/lead_signup.json'),
    eventFromFixture('firstpromoter/lead_signup.json', { data: { text: 'ünïcode "quoted" \\ \u2028 \u0000', list: [1, 2.5, null, { a: [] }] } }),
    eventFromFixture('firstpromoter/lead_signup.json', { status: 'quarantined', validationErrors: ['x'], envelope: { action: 'create' } }),
  ];

  it('stores what BullMQ would store for { event }: the same JSON, the payload serialised once', () => {
    for (const event of events) {
      const { dataJson } = serializeEventJob(event);
      expect(JSON.parse(dataJson)).to.deep.equal({ event });
      expect(dataJson).to.have.length(JSON.stringify({ event }).length);
    }
  });

  it('gives the digest of digestEventBody, so job ids written before stay comparable', () => {
    for (const event of events) expect(serializeEventJob(event).bodyDigest).to.equal(digestEventBody(event)).and.match(/^[0-9a-f]{16}$/);
    expect(serializeEventJob(events[0]!).bodyDigest).to.not.equal(serializeEventJob(events[1]!).bodyDigest);
  });

  it('serialises an object holding data alone', () => {
    const event = { data: { a: 1 } } as unknown as BridgeEvent;
    expect(serializeEventJob(event).dataJson).to.equal('{"event":{"data":{"a":1}}}');
  });

  it('keeps an event without data readable and digestible', () => {
    const event = { ...events[0]!, data: undefined } as unknown as BridgeEvent;
    const { data: _data, ...rest } = event;
    expect(JSON.parse(serializeEventJob(event).dataJson)).to.deep.equal({ event: rest });
    expect(serializeEventJob(event).bodyDigest).to.equal(digestEventBody(event));
  });

  it('encodes job options in BullMQ’s stored form', () => {
    expect(JSON.parse(encodeEventJobOptions(buildEventJobOptions('j1'), 'e1', 5_000))).to.deep.equal({
      jobId: 'j1',
      attempts: 8,
      backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 },
      de: { id: 'e1', ttl: 5_000 },
    });
  });
});
