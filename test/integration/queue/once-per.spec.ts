import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Queue, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { actionRegistry } from '../../../src/actions/registry.js';
import type { BridgeEvent } from '../../../src/events/event.js';
import { BridgeMetrics } from '../../../src/observability/metrics.js';
import type { ActionJobData } from '../../../src/queue/action-job.js';
import type { EventsQueueJobData } from '../../../src/queue/event-intake.js';
import { startEventsWorker } from '../../../src/queue/events-worker.js';
import { ACTIONS_QUEUE, EVENTS_QUEUE, bridgeKeys } from '../../../src/queue/names.js';
import { BridgeOperations } from '../../../src/queue/operations.js';
import { compileRuleFiles } from '../../../src/rules/compile-rules.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { createCapturingLogger } from '../../support/log-capture.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';
import { eventsWorkerOptionsForTests, isEventJobDone } from '../../support/events-stack.js';

const RULES = `rules:
  - id: reward-to-fulfil
    on: firstpromoter.fulfilment_pending
    do:
      - slack.post_message: { channel: "#affiliates", text: "reward {{ data.id }} to fulfil" }
        once_per: "{{ data.id }}"
      - hubspot.upsert_contact: { email: "{{ data.promoter.email }}", properties: { affiliate_status: "{{ data.status }}" } }
  - id: short-window
    on: firstpromoter.fulfilment_pending
    do:
      # throttle, the general form of once_per: one claim, one trace wording for both.
      - slack.post_message: { channel: "#short", text: "reward {{ data.id }}" }
        throttle: { key: "{{ data.id }}", window: 300ms }
`;

const TRACE_TTL_MS = 60_000;
const delivery = JSON.parse(readFileSync(new URL('../../fixtures/deliveries/firstpromoter/fulfilment_pending.json', import.meta.url), 'utf8'));

/** FirstPromoter re-sends fulfilment_pending at each fulfilment check: a new event id, the same reward (data.id). */
function fulfilmentCheck(eventId: number, rewardId = delivery.data.id as number): BridgeEvent {
  const body = structuredClone(delivery);
  body.event.id = eventId;
  body.data.id = rewardId;
  return sourceRegistry.firstpromoter.normalize(body, { receivedAt: new Date(), strippedFields: ['auth_token', 'temp_password'] });
}

describe('once_per and throttle through the events worker (real Redis, real rules)', () => {
  let prefix: string;
  let redis: Redis;
  let workerConnection: Redis;
  let events: Queue<EventsQueueJobData>;
  let actions: Queue<ActionJobData>;
  let worker: Worker;
  let operations: BridgeOperations;
  let metrics: BridgeMetrics;
  let capture: ReturnType<typeof createCapturingLogger>;
  const loaded = compileRuleFiles([{ file: 'rules/rewards.yaml', content: RULES }], { actions: actionRegistry });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const ruleSet = loaded.ruleSet;

  beforeEach(async () => {
    prefix = randomPrefix('once-per');
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    workerConnection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    events = new Queue(EVENTS_QUEUE, { connection: redis, prefix });
    actions = new Queue(ACTIONS_QUEUE, { connection: redis, prefix });
    operations = new BridgeOperations(redis, prefix);
    metrics = new BridgeMetrics();
    capture = createCapturingLogger();
    worker = startEventsWorker(
      eventsWorkerOptionsForTests({ connection: workerConnection, state: redis, prefix, actionsQueue: actions, ruleSet }, { traceTtlMs: TRACE_TTL_MS, logger: capture.logger, metrics }),
    );
  });

  afterEach(async () => {
    await worker.close();
    await Promise.all([events.close(), actions.close(), operations.close()]);
    await deleteKeys(redis, prefix);
    redis.disconnect();
    workerConnection.disconnect();
  });

  const processEvent = async (event: BridgeEvent, jobId: string, replayGeneration?: number) => {
    await events.add('event', { event, ...(replayGeneration ? { replayGeneration } : {}) }, { jobId });
    await waitFor(async () => isEventJobDone(events, jobId));
  };
  const actionJobIds = async () => (await actions.getJobs(['waiting', 'delayed', 'failed'])).map((job) => job.id!).sort();
  const lastRun = async (eventId: string) => (await operations.getEventTrace(eventId))!.runs.at(-1)!;

  it('two fulfilment checks of the same reward: one alert; the second trace shows it suppressed with the first event id', async () => {
    const first = fulfilmentCheck(13007875);
    const second = fulfilmentCheck(13007999);
    await processEvent(first, `${first.id}.a`);
    await processEvent(second, `${second.id}.a`);

    // The action without once_per runs for both; each once_per action only for the first event.
    expect(await actionJobIds()).to.deep.equal([
      'firstpromoter-13007875.reward-to-fulfil.0',
      'firstpromoter-13007875.reward-to-fulfil.1',
      'firstpromoter-13007875.short-window.0',
      'firstpromoter-13007999.reward-to-fulfil.1',
    ].sort());
    const firstRun = await lastRun(first.id);
    expect(firstRun.suppressed).to.deep.equal([]);
    const secondRun = await lastRun(second.id);
    expect(secondRun.actionJobIds).to.deep.equal(['firstpromoter-13007999.reward-to-fulfil.1']);
    expect(secondRun.suppressed).to.deep.equal([
      { ruleId: 'reward-to-fulfil', action: 'slack.post_message', actionIndex: 0, key: '2429153', heldBy: first.id },
      { ruleId: 'short-window', action: 'slack.post_message', actionIndex: 0, key: '2429153', heldBy: first.id },
    ]);
    // The claim holds the first event's id, under the bridge prefix, for the rule's window (default: the dedup window).
    const claim = bridgeKeys(prefix).actionClaim('reward-to-fulfil', 0, '2429153');
    expect(claim.startsWith(`${prefix}:once:reward-to-fulfil.0.`)).to.equal(true);
    expect(await redis.get(claim)).to.equal(first.id);
    expect(await redis.pttl(claim)).to.be.within(TRACE_TTL_MS - 5_000, TRACE_TTL_MS);

    expect(await metrics.registry.metrics()).to.contain('bridge_actions_total{action="slack.post_message",outcome="suppressed"} 2');
    const suppressedLines = capture.lines().map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'action suppressed: its throttle key is held by an earlier event');
    expect(suppressedLines.map((line) => [line.level, line.eventId, line.ruleId, line.throttleKey, line.heldBy])).to.deep.equal([
      [30, second.id, 'reward-to-fulfil', '2429153', first.id],
      [30, second.id, 'short-window', '2429153', first.id],
    ]);
  });

  it('a re-run of the first event\'s job does not suppress its own action, even when its jobs were never added', async () => {
    const first = fulfilmentCheck(13007875);
    await processEvent(first, `${first.id}.a`);
    // As if the first run had crashed after claiming but before addBulk: the claims stay, the jobs are gone.
    for (const id of await actionJobIds()) await (await actions.getJob(id))!.remove();
    expect(await actionJobIds()).to.deep.equal([]);
    await processEvent(first, `${first.id}.b`);
    expect(await actionJobIds()).to.deep.equal([
      'firstpromoter-13007875.reward-to-fulfil.0',
      'firstpromoter-13007875.reward-to-fulfil.1',
      'firstpromoter-13007875.short-window.0',
    ]);
    const trace = (await operations.getEventTrace(first.id))!;
    expect(trace.runs).to.have.length(1);
    expect(trace.runs[0].suppressed).to.deep.equal([]);
  });

  it('a re-run of a suppressed event stays suppressed and is counted once', async () => {
    const first = fulfilmentCheck(13007875);
    const second = fulfilmentCheck(13007999);
    await processEvent(first, `${first.id}.a`);
    await processEvent(second, `${second.id}.a`);
    await processEvent(second, `${second.id}.b`);
    expect((await lastRun(second.id)).suppressed?.map((entry) => entry.heldBy)).to.deep.equal([first.id, first.id]);
    expect(await metrics.registry.metrics()).to.contain('bridge_actions_total{action="slack.post_message",outcome="suppressed"} 2');
  });

  it('different rewards are not suppressed', async () => {
    const first = fulfilmentCheck(13007875, 2429153);
    const other = fulfilmentCheck(13007999, 2429154);
    await processEvent(first, `${first.id}.a`);
    await processEvent(other, `${other.id}.a`);
    expect(await actionJobIds()).to.include.members([
      'firstpromoter-13007875.reward-to-fulfil.0',
      'firstpromoter-13007999.reward-to-fulfil.0',
      'firstpromoter-13007999.short-window.0',
    ]);
    expect((await lastRun(other.id)).suppressed).to.deep.equal([]);
  });

  it('once the window has passed, the next event of the key claims it and runs the action', async () => {
    const first = fulfilmentCheck(13007875);
    const later = fulfilmentCheck(13008000);
    await processEvent(first, `${first.id}.a`);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await processEvent(later, `${later.id}.a`);
    const run = await lastRun(later.id);
    // short-window (300 ms) has expired; reward-to-fulfil (the dedup window) still holds.
    expect(run.actionJobIds).to.include('firstpromoter-13008000.short-window.0');
    expect(run.suppressed?.map((entry) => entry.ruleId)).to.deep.equal(['reward-to-fulfil']);
    expect(await redis.get(bridgeKeys(prefix).actionClaim('short-window', 0, '2429153'))).to.equal(later.id);
  });

  it('a replay ignores once_per: the operator asked, so the suppressed action is sent, and the claim stays with its holder', async () => {
    const first = fulfilmentCheck(13007875);
    const second = fulfilmentCheck(13007999);
    await processEvent(first, `${first.id}.a`);
    await processEvent(second, `${second.id}.a`);
    const generation = await operations.replayEvent(second.id);
    await waitFor(async () => isEventJobDone(events, `${second.id}.replay${generation}`));
    const replay = await lastRun(second.id);
    expect(replay.generation).to.equal(1);
    expect(replay.suppressed).to.deep.equal([]);
    expect(replay.actionJobIds).to.include('firstpromoter-13007999.reward-to-fulfil.0.replay1');
    expect(await redis.get(bridgeKeys(prefix).actionClaim('reward-to-fulfil', 0, '2429153'))).to.equal(first.id);
    // The first run's record of the suppression stays in the trace.
    expect((await operations.getEventTrace(second.id))!.runs[0].suppressed).to.have.length(2);
  });
});
