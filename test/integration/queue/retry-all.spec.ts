import { expect } from 'chai';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { ActionJobData } from '../../../src/queue/action-job.js';
import type { EventsQueueJobData } from '../../../src/queue/event-intake.js';
import { buildActionJobOptions, buildEventJobOptions } from '../../../src/delivery/delivery-policy.js';
import { ACTIONS_QUEUE, EVENTS_QUEUE } from '../../../src/queue/names.js';
import { BridgeOperations } from '../../../src/queue/operations.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';

const JOBS = 40;

/**
 * "Retry all" against jobs that fail again at once: a real BullMQ worker whose processor always
 * throws, so every retried job re-enters the failed list while the retry is still going.
 */
describe('retry all: a snapshot of the failed ids, each retried once (real Redis)', () => {
  let prefix: string;
  let redis: Redis;
  let workerConnection: Redis;
  let operations: BridgeOperations;
  let worker: Worker | undefined;
  const runsPerJob = new Map<string, number>();

  beforeEach(() => {
    prefix = randomPrefix('retry-all');
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    workerConnection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    operations = new BridgeOperations(redis, prefix);
    runsPerJob.clear();
  });

  afterEach(async () => {
    await worker?.close();
    worker = undefined;
    await operations.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
    workerConnection.disconnect();
  });

  /** A worker on `queueName` that fails every job at once, counting runs per job id. */
  function startFailingWorker(queueName: string): Worker {
    return new Worker(
      queueName,
      async (job) => {
        runsPerJob.set(job.id!, (runsPerJob.get(job.id!) ?? 0) + 1);
        throw new UnrecoverableError('still failing');
      },
      { connection: workerConnection, prefix, concurrency: 10 },
    );
  }

  it('actions retry --all: retries each failed action once and reports how many, while they fail again at once', async () => {
    const queue = new Queue<ActionJobData>(ACTIONS_QUEUE, { connection: redis, prefix });
    worker = startFailingWorker(ACTIONS_QUEUE);
    const data = (i: number): ActionJobData => ({
      action: 'slack.post_message',
      params: { channel: '#x', text: String(i) },
      provenance: { eventId: `e-${i}`, ruleId: 'r', ruleFile: 'rules/r.yaml', ruleFileHash: 'h', actionIndex: 0 },
      eventType: 'firstpromoter.lead_signup',
      eventReceivedAt: new Date().toISOString(),
      backoffBaseMs: 10,
    });
    await queue.addBulk(Array.from({ length: JOBS }, (_, i) => ({ name: 'slack.post_message', data: data(i), opts: buildActionJobOptions(`e-${i}.r.0`, { attempts: 1, baseDelayMs: 10 }) })));
    await waitFor(async () => (await queue.getFailedCount()) === JOBS);

    expect(await operations.retryAllFailedActions()).to.equal(JOBS);
    await waitFor(async () => (await queue.getFailedCount()) === JOBS);
    // Each job ran once before and once for the retry: never again because it failed again.
    expect([...runsPerJob.values()].every((runs) => runs === 2)).to.equal(true);
    expect(runsPerJob.size).to.equal(JOBS);
    await queue.close();
  });

  it('events retry --all: the same for event jobs', async () => {
    const queue = new Queue<EventsQueueJobData>(EVENTS_QUEUE, { connection: redis, prefix });
    worker = startFailingWorker(EVENTS_QUEUE);
    const event = (i: number) => ({
      id: `firstpromoter-${i}`,
      source: 'firstpromoter',
      type: 'firstpromoter.lead_signup',
      providerType: 'lead_signup',
      occurredAt: new Date().toISOString(),
      receivedAt: new Date().toISOString(),
      status: 'valid' as const,
      data: {},
    });
    await queue.addBulk(Array.from({ length: JOBS }, (_, i) => ({ name: 'event', data: { event: event(i) }, opts: buildEventJobOptions(`firstpromoter-${i}.a`, { attempts: 1, baseDelayMs: 10, maxDelayMs: 10 }) })));
    await waitFor(async () => (await queue.getFailedCount()) === JOBS);

    expect(await operations.retryAllFailedEvents()).to.equal(JOBS);
    await waitFor(async () => (await queue.getFailedCount()) === JOBS);
    expect([...runsPerJob.values()].every((runs) => runs === 2)).to.equal(true);
    expect(runsPerJob.size).to.equal(JOBS);
    await queue.close();
  });
});
