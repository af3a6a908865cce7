import { readFileSync } from 'node:fs';
import { Worker } from 'bullmq';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { EventJobData } from '../../../src/queue/event-intake.js';
import { EVENTS_QUEUE } from '../../../src/queue/names.js';
import { postFirstPromoter, readJson, startIntakeApp } from '../../support/intake-app.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';

const body = readFileSync(new URL('../../fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8');
const DEDUP_TTL_MS = 2_000;

/**
 * The README's claim "a delivered event id is remembered for DEDUP_TTL": a redelivery is a
 * duplicate also after the first delivery was processed and its job removed (FirstPromoter and
 * Rewardful resend after a lost answer, often minutes later), and the id is forgotten once the TTL
 * has passed. A dedup record that lived only as long as the job would pass every test that
 * redelivers while the first job is still waiting.
 */
describe('deduplication window (real app, real Redis, a real BullMQ worker)', function () {
  this.timeout(20_000);
  let prefix: string;
  let redis: Redis;
  let app: Awaited<ReturnType<typeof startIntakeApp>>;
  let worker: Worker<EventJobData>;
  const processed: string[] = [];

  beforeEach(async () => {
    prefix = randomPrefix('dedup');
    redis = new Redis(SHARED_REDIS_URL);
    app = await startIntakeApp({ redisUrl: SHARED_REDIS_URL, prefix, dedupTtlMs: DEDUP_TTL_MS });
    processed.length = 0;
    // Completed jobs are removed at once: the strictest retention, so only the dedup record remembers.
    worker = new Worker<EventJobData>(EVENTS_QUEUE, async (job) => void processed.push(job.data.event.id), {
      connection: new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null }),
      prefix,
      removeOnComplete: { count: 0 },
    });
  });

  afterEach(async () => {
    await worker.close();
    await app.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  const deliver = async () => {
    const response = await postFirstPromoter(app.baseUrl, body);
    expect(response.status).to.equal(202);
    return (await readJson(response)).outcome as string;
  };

  it('answers a redelivery after the first was processed and removed as a duplicate, and processes nothing twice', async () => {
    expect(await deliver()).to.equal('stored');
    await waitFor(() => processed.length === 1);
    await waitFor(async () => (await app.queue.getJobCounts('completed', 'waiting', 'active')).completed === 0 && processed.length === 1);
    const started = Date.now();
    expect(await deliver()).to.equal('duplicate');
    expect(Date.now() - started, 'redelivered inside the window').to.be.lessThan(DEDUP_TTL_MS);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(processed).to.deep.equal(['firstpromoter-22736304']);
  });

  it('forgets the id once DEDUP_TTL has passed: the next delivery is stored and processed', async () => {
    expect(await deliver()).to.equal('stored');
    await waitFor(() => processed.length === 1);
    await new Promise((resolve) => setTimeout(resolve, DEDUP_TTL_MS + 200));
    expect(await deliver()).to.equal('stored');
    await waitFor(() => processed.length === 2);
  });
});
