import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { RetryPolicy } from '../../../src/delivery/delivery-policy.js';
import type { BridgeEvent } from '../../../src/events/event.js';
import { EventIntake, type DeliveryBatchJobData, type EventsQueueJobData } from '../../../src/queue/event-intake.js';
import type { EventsWorkerOptions } from '../../../src/queue/events-worker.js';
import { DELIVERY_BATCH_JOB_NAME, EVENTS_QUEUE } from '../../../src/queue/names.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { startEventsStack, type EventsStack } from '../../support/events-stack.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';

const RULES = `rules:
  - id: lead-alert
    on: firstpromoter.lead_signup
    do:
      - slack.post_message: { channel: "#leads", text: "{{ data.email }}" }
`;

const FAST: RetryPolicy = { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 };

const delivery = JSON.parse(readFileSync(new URL('../../fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));
const lead = (n: number): BridgeEvent =>
  sourceRegistry.firstpromoter.normalize(
    { ...delivery, event: { ...delivery.event, id: n }, data: { ...delivery.data, id: n, email: `lead${n}@example.com` } },
    { receivedAt: new Date(), strippedFields: ['auth_token'] },
  );

/**
 * Deliveries stored together share one job of the events queue (event-job-store.ts); the events
 * worker plans each event of it as its own event job would be, and splits off one that fails.
 * Real intake, real worker, real Redis.
 */
describe('jobs of deliveries: each event planned alone (real intake, worker and Redis)', () => {
  let prefix: string;
  let redis: Redis;
  let events: Queue<EventsQueueJobData>;
  let stack: EventsStack | undefined;

  beforeEach(() => {
    prefix = randomPrefix('batches');
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    events = new Queue(EVENTS_QUEUE, { connection: redis, prefix });
  });

  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
    await events.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  /** The real events worker on the stored jobs, planning 2 events at a time. */
  const startWorker = (workerOptions: (stackEvents: Queue<EventsQueueJobData>) => Partial<EventsWorkerOptions> = () => ({})): EventsStack => {
    stack = startEventsStack({
      label: 'batches',
      prefix,
      rules: { file: 'rules/leads.yaml', content: RULES },
      traceTtlMs: 60_000,
      workerOptions: (stackEvents) => ({ concurrency: 2, ...workerOptions(stackEvents) }),
    });
    return stack;
  };

  /** Stores the leads in one turn, so they share a job of deliveries; resolves with that job's id. */
  const storeTogether = async (leads: readonly BridgeEvent[]): Promise<string> => {
    const intake = new EventIntake({ queue: events, dedupTtlMs: 60_000, eventRetryPolicy: FAST });
    expect(await Promise.all(leads.map((event) => intake.store(event)))).to.deep.equal(leads.map(() => 'stored'));
    const [job, ...others] = await events.getJobs(['waiting']);
    expect([job?.name, others.length]).to.deep.equal([DELIVERY_BATCH_JOB_NAME, 0]);
    return job!.id!;
  };

  const actionJobIds = async () => (await stack!.actions.getJobs(['waiting', 'delayed', 'failed', 'completed'])).map((job) => job.id).sort();
  const tracesOf = (leads: readonly BridgeEvent[]) => Promise.all(leads.map((event) => stack!.operations.getEventTrace(event.id)));

  it('plans every event of the job on its own: a trace and action jobs each, the job removed once planned', async () => {
    const leads = [1, 2, 3, 4, 5].map(lead);
    const batchJobId = await storeTogether(leads);
    startWorker();
    await waitFor(async () => (await tracesOf(leads)).every((trace) => trace !== null));
    await waitFor(async () => (await events.getJobState(batchJobId)) === 'unknown');
    expect(await actionJobIds()).to.deep.equal(leads.map((event) => `${event.id}.lead-alert.0`).sort());
    for (const trace of await tracesOf(leads)) {
      expect(trace!.runs.map((run) => [run.generation, run.matched.map((rule) => rule.ruleId)])).to.deep.equal([[0, ['lead-alert']]]);
      expect(trace!.event.affiliate).to.not.equal(undefined);
    }
  });

  it('splits an event that fails off as its own event job, under the job id its dedup key holds; the others are planned once', async () => {
    const leads = [1, 2, 3].map(lead);
    await storeTogether(leads);
    const failing = leads[1]!;
    const heldBy = await redis.get(`${events.keys.de}:${failing.id}`);
    const attempts: string[] = [];
    const { operations } = startWorker((stackEvents) => ({
      eventsQueue: stackEvents,
      eventRetryPolicy: FAST,
      recordMilestone: async (event) => {
        attempts.push(event.id);
        if (event.id === failing.id) throw new Error('the ledger is unreachable');
        return null;
      },
    }));
    // Its own job uses its two attempts and is listed as failed, alone, under its delivery's job id.
    await waitFor(async () => (await operations.listFailedEvents()).length === 1);
    const [failed] = await operations.listFailedEvents();
    expect([failed!.jobId, failed!.eventId, failed!.error]).to.deep.equal([heldBy, failing.id, 'the ledger is unreachable']);
    expect(attempts.filter((id) => id === failing.id)).to.have.length(3);
    expect(attempts.filter((id) => id !== failing.id).sort()).to.deep.equal([leads[0]!.id, leads[2]!.id]);
    expect(await actionJobIds()).to.deep.equal([`${leads[0]!.id}.lead-alert.0`, `${leads[2]!.id}.lead-alert.0`]);
    expect(await operations.getEventTrace(failing.id)).to.equal(null);
  });

  it('without an events queue to split into, the whole job fails and runs again: nothing planned twice', async () => {
    const leads = [1, 2, 3].map(lead);
    const batchJobId = await storeTogether(leads);
    let failures = 0;
    startWorker(() => ({
      recordMilestone: async (event) => {
        if (event.id === leads[2]!.id && failures === 0) {
          failures += 1;
          throw new Error('the ledger is unreachable');
        }
        return null;
      },
    }));
    await waitFor(async () => (await tracesOf(leads)).every((trace) => trace !== null));
    await waitFor(async () => (await events.getJobState(batchJobId)) === 'unknown');
    expect(failures).to.equal(1);
    expect(await actionJobIds()).to.deep.equal(leads.map((event) => `${event.id}.lead-alert.0`).sort());
    // The events planned on the first run were planned again: their one run replaced, not added.
    for (const trace of await tracesOf(leads)) expect(trace!.runs).to.have.length(1);
  });

  it('lists each event of a job of deliveries that used its attempts, with the job id a retry takes', async () => {
    const leads = [1, 2].map(lead);
    const batchJobId = await storeTogether(leads);
    const { operations } = startWorker(() => ({
      recordMilestone: async () => {
        throw new Error('the ledger is unreachable');
      },
    }));
    await waitFor(async () => (await events.getJobState(batchJobId)) === 'failed');
    const listed = await operations.listFailedEvents();
    expect(listed.map(({ jobId, eventId }) => [jobId, eventId])).to.deep.equal(leads.map((event) => [batchJobId, event.id]));
    const job = await events.getJob(batchJobId);
    expect((job!.data as DeliveryBatchJobData).deliveries.map((entry) => entry.event.id)).to.deep.equal(leads.map((event) => event.id));
  });
});
