import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Queue, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { BridgeEvent } from '../../../src/events/event.js';
import type { ActionJobData } from '../../../src/queue/action-job.js';
import type { EventsQueueJobData } from '../../../src/queue/event-intake.js';
import { ACTION_JOB_LOGS_KEPT, FAILED_JOBS_KEPT_SECONDS, buildActionJobOptions } from '../../../src/delivery/delivery-policy.js';
import { QUARANTINED_EVENTS_KEPT } from '../../../src/queue/events-worker.js';
import { bridgeKeys } from '../../../src/queue/names.js';
import { BridgeOperations } from '../../../src/queue/operations.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { waitFor } from '../../support/redis.js';
import { isEventJobDone, startEventsStack, type EventsStack } from '../../support/events-stack.js';

const RULES = `rules:
  - id: reward-alert
    on: firstpromoter.reward_created
    do:
      - slack.post_message: { channel: "#affiliates", text: "{{ data.id }}" }
`;

const TRACE_TTL_MS = 60_000;
const FIXED_NOW = Date.parse('2024-10-03T14:00:00.000Z');
const delivery = JSON.parse(readFileSync(new URL('../../fixtures/deliveries/firstpromoter/reward_created.json', import.meta.url), 'utf8'));
const normalize = (body: Record<string, unknown>, receivedAt = new Date(FIXED_NOW)): BridgeEvent =>
  sourceRegistry.firstpromoter.normalize(body, { receivedAt, strippedFields: ['auth_token', 'temp_password'] });

/** Every key the bridge writes beside BullMQ's is capped or expires: each cap, tested. */
describe('Redis bounds: quarantine list, replay counters, job logs (real Redis)', () => {
  let stack: EventsStack;
  let prefix: string;
  let redis: Redis;
  let events: Queue<EventsQueueJobData>;
  let actions: Queue<ActionJobData>;
  let worker: Worker;
  let operations: BridgeOperations;

  beforeEach(() => {
    stack = startEventsStack({ label: 'bounds', rules: { file: 'rules/rewards.yaml', content: RULES }, traceTtlMs: TRACE_TTL_MS, now: () => FIXED_NOW });
    ({ prefix, redis, events, actions, worker, operations } = stack);
  });

  afterEach(() => stack.stop());

  const processEvent = async (event: BridgeEvent, jobId: string) => {
    await events.add('event', { event }, { jobId });
    await waitFor(async () => isEventJobDone(events, jobId));
  };
  const quarantinedEvent = (id: number) => normalize({ ...delivery, event: { ...delivery.event, id }, data: { ...delivery.data, amount: 'two hundred' } });

  it(`keeps the quarantine list to ${QUARANTINED_EVENTS_KEPT.toLocaleString('en')} ids within the dedup window, and lets it expire with its traces`, async () => {
    const key = bridgeKeys(prefix).quarantined;
    // A full list, plus one id older than the window: written directly, as a long attack would leave it.
    const members = Array.from({ length: QUARANTINED_EVENTS_KEPT }, (_, i) => [FIXED_NOW - 1_000 + i / 100, `firstpromoter-${i}`] as const);
    await redis.zadd(key, ...members.flat());
    await redis.zadd(key, FIXED_NOW - TRACE_TTL_MS - 1, 'firstpromoter-expired');
    const event = quarantinedEvent(99_999_999);
    await processEvent(event, `${event.id}.a`);
    expect(await redis.zcard(key)).to.equal(QUARANTINED_EVENTS_KEPT);
    expect(await redis.zscore(key, 'firstpromoter-expired')).to.equal(null);
    expect(await redis.zscore(key, 'firstpromoter-0')).to.equal(null);
    expect(await redis.zscore(key, event.id)).not.to.equal(null);
    const ttl = await redis.pttl(key);
    expect(ttl).to.be.greaterThan(0).and.at.most(TRACE_TTL_MS);
  });

  it('expires a replay counter: at the latest with a failed replay job, then with the trace it numbers', async () => {
    const event = normalize(delivery);
    await processEvent(event, `${event.id}.a`);
    await worker.pause();
    await operations.replayEvent(event.id);
    const counter = bridgeKeys(prefix).replayGeneration(event.id);
    const pending = await redis.pttl(counter);
    expect(pending).to.be.greaterThan(FAILED_JOBS_KEPT_SECONDS * 1000 - 60_000).and.at.most(FAILED_JOBS_KEPT_SECONDS * 1000);
    worker.resume();
    await waitFor(async () => isEventJobDone(events, `${event.id}.replay1`));
    const renewed = await redis.pttl(counter);
    expect(renewed).to.be.greaterThan(0).and.at.most(TRACE_TTL_MS);
    expect(await redis.get(counter)).to.equal('1');
  });

  it(`keeps the newest ${ACTION_JOB_LOGS_KEPT} history lines of an action job`, async () => {
    const job = await actions.add('slack.post_message', {} as ActionJobData, buildActionJobOptions('e.r.0', { attempts: 1, baseDelayMs: 10 }));
    for (let i = 0; i < ACTION_JOB_LOGS_KEPT + 20; i += 1) await job.log(`attempt ${i}`);
    const { logs, count } = await actions.getJobLogs('e.r.0');
    expect(count).to.equal(ACTION_JOB_LOGS_KEPT);
    expect(logs.at(-1)).to.equal(`attempt ${ACTION_JOB_LOGS_KEPT + 19}`);
    expect(logs[0]).to.equal('attempt 20');
  });
});
