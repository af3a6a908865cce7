import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Queue, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { actionRegistry } from '../../../src/actions/registry.js';
import type { BridgeEvent } from '../../../src/events/event.js';
import { createRedisConnection } from '../../../src/infra/redis.js';
import type { ActionJobData } from '../../../src/queue/action-job.js';
import { EventIntake, type EventsQueueJobData } from '../../../src/queue/event-intake.js';
import { EVENT_RETRY_POLICY, type RetryPolicy } from '../../../src/delivery/delivery-policy.js';
import { startEventsWorker } from '../../../src/queue/events-worker.js';
import { ACTIONS_QUEUE, EVENTS_QUEUE } from '../../../src/queue/names.js';
import { BridgeOperations } from '../../../src/queue/operations.js';
import { readEventTrace } from '../../../src/queue/trace.js';
import { compileRuleFiles } from '../../../src/rules/compile-rules.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { OwnRedisServer } from '../../support/redis-server.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';
import { eventsWorkerOptionsForTests, isEventJobDone } from '../../support/events-stack.js';

const RULES = `rules:
  - id: lead-alert
    on: firstpromoter.lead_signup
    do:
      - slack.post_message: { channel: "#leads", text: "{{ data.email }}" }
`;

const delivery = JSON.parse(readFileSync(new URL('../../fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));
const normalize = (body: Record<string, unknown>): BridgeEvent =>
  sourceRegistry.firstpromoter.normalize(body, { receivedAt: new Date(), strippedFields: ['auth_token', 'temp_password'] });

/** Fast enough for a test, long enough to outlast a Redis restart: waits of about 0.3, 0.6, 1.2, 2.4 s. */
const TEST_EVENT_RETRIES: RetryPolicy = { attempts: 5, baseDelayMs: 400, maxDelayMs: 6_400 };

/**
 * Event jobs are retried: planning an event writes the bridge's own keys (trace, quarantine list,
 * plan failures), and a transient Redis error there must not fail the event for good. The queue
 * lives on the shared Redis; the bridge's own keys on a redis-server of the test's own, which the
 * test stops and starts again on its port, as a restart or failover would.
 */
describe('event jobs: attempts with backoff, events failed and events retry (real Redis)', function () {
  this.timeout(60_000);
  let prefix: string;
  let redis: Redis;
  let workerConnection: Redis;
  let ownRedis: OwnRedisServer;
  let state: Redis;
  let events: Queue<EventsQueueJobData>;
  let actions: Queue<ActionJobData>;
  let worker: Worker;
  let operations: BridgeOperations;
  const loaded = compileRuleFiles([{ file: 'rules/leads.yaml', content: RULES }], { actions: actionRegistry });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const ruleSet = loaded.ruleSet;

  beforeEach(async () => {
    prefix = randomPrefix('event-retries');
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    workerConnection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    ownRedis = await OwnRedisServer.start();
    // The bridge's `state` role: a few tries per command, then the command fails.
    state = createRedisConnection(ownRedis.url, 'state');
    state.on('error', () => undefined);
    events = new Queue(EVENTS_QUEUE, { connection: redis, prefix });
    actions = new Queue(ACTIONS_QUEUE, { connection: redis, prefix });
    operations = new BridgeOperations(redis, prefix);
    worker = startEventsWorker(eventsWorkerOptionsForTests({ connection: workerConnection, state, prefix, actionsQueue: actions, ruleSet }));
  });

  afterEach(async () => {
    await worker.close();
    await Promise.all([events.close(), actions.close(), operations.close()]);
    state.disconnect();
    await ownRedis.destroy();
    await deleteKeys(redis, prefix);
    redis.disconnect();
    workerConnection.disconnect();
  });

  it('every event job gets the named policy: 8 attempts with jittered exponential backoff', async () => {
    const intake = new EventIntake({ queue: events, dedupTtlMs: 60_000 });
    await worker.pause();
    const event = normalize(delivery);
    expect(await intake.store(event)).to.equal('stored');
    const [job] = await events.getJobs(['waiting']);
    expect(job.opts.attempts).to.equal(EVENT_RETRY_POLICY.attempts).and.to.equal(8);
    expect(job.opts.backoff).to.deep.equal({ type: 'exponential', delay: 1_000, jitter: 0.5 });
  });

  it('a transient Redis error while the event is planned ends in a planned event, not a failed one', async () => {
    const intake = new EventIntake({ queue: events, dedupTtlMs: 60_000, eventRetryPolicy: TEST_EVENT_RETRIES });
    await ownRedis.stop();
    const event = normalize(delivery);
    expect(await intake.store(event)).to.equal('stored');
    const [job] = await events.getJobs(['waiting', 'active', 'delayed']);
    // The first attempt fails on the stopped Redis and waits for its retry; then Redis comes back.
    await waitFor(async () => (await events.getJob(job.id!))!.attemptsMade >= 1, 20_000);
    await ownRedis.start();
    await waitFor(async () => isEventJobDone(events, job.id!), 30_000);

    // Planned on a later attempt (the first one failed, above), then removed: its trace is the record.
    expect(await events.getJob(job.id!)).to.equal(undefined);
    const trace = await readEventTrace(state, prefix, event.id);
    expect(trace?.runs.map((run) => run.actionJobIds)).to.deep.equal([[`${event.id}.lead-alert.0`]]);
    // Re-running the event job enqueued the same action job id: one action, not one per attempt.
    expect(await actions.count()).to.equal(1);
    expect(await operations.listFailedEvents()).to.deep.equal([]);
  });

  it('an event job that used all its attempts is listed by events failed and planned by events retry', async () => {
    const intake = new EventIntake({ queue: events, dedupTtlMs: 60_000, eventRetryPolicy: { attempts: 1, baseDelayMs: 10, maxDelayMs: 10 } });
    await ownRedis.stop();
    const event = normalize(delivery);
    await intake.store(event);
    const failed = await waitFor(async () => {
      const listed = await operations.listFailedEvents();
      return listed.length === 1 ? listed : null;
    }, 20_000);
    expect(failed[0]).to.deep.include({ eventId: event.id, type: 'firstpromoter.lead_signup', replayGeneration: 0, attemptsMade: 1 });
    expect(failed[0].jobId).to.match(/^firstpromoter-22736304\.[0-9a-f]{16}\./);
    expect(failed[0].error).to.be.a('string').and.not.equal('');

    await ownRedis.start();
    await operations.retryEvent(failed[0].jobId);
    await waitFor(async () => isEventJobDone(events, failed[0].jobId), 20_000);
    expect(await operations.listFailedEvents()).to.deep.equal([]);
    expect((await readEventTrace(state, prefix, event.id))?.runs).to.have.length(1);
  });
});
