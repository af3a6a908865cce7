import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Queue, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import * as yup from 'yup';
import { actionRegistry } from '../../../src/actions/registry.js';
import type { BridgeEvent } from '../../../src/events/event.js';
import { BridgeMetrics } from '../../../src/observability/metrics.js';
import type { ActionJobData } from '../../../src/queue/action-job.js';
import type { EventsQueueJobData } from '../../../src/queue/event-intake.js';
import { StateConflictError } from '../../../src/errors.js';
import { fastRetriesForTests } from '../../../src/delivery/delivery-policy.js';
import { processDeliveryBatch, processEventJob, startEventsWorker, type EventsWorkerOptions } from '../../../src/queue/events-worker.js';
import { createRedisConnection } from '../../../src/infra/redis.js';
import { checkEventAgainst } from '../../../src/sources/check-event.js';
import { ACTIONS_QUEUE, EVENTS_QUEUE, bridgeKeys } from '../../../src/queue/names.js';
import { BridgeOperations } from '../../../src/queue/operations.js';
import { readRecentEventSummaries } from '../../../src/queue/event-search.js';
import { readStoredEvents } from '../../../src/queue/stored-events.js';
import { COMPACT_TRACE_FORMAT, decodeStoredTrace, type EventTrace } from '../../../src/queue/trace.js';
import { compileRuleFiles } from '../../../src/rules/compile-rules.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { countSocketWrites, deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';
import { eventsWorkerOptionsForTests, isEventJobDone } from '../../support/events-stack.js';

const RULES = `rules:
  - id: reward-alert
    on: firstpromoter.reward_created
    if: data.status == "approved"
    do:
      - slack.post_message: { channel: "#affiliates", text: "{{ data.amount | money }} for {{ data.promoter.email }}" }
      - hubspot.upsert_contact: { email: "{{ data.promoter.email }}", properties: { affiliate_status: "{{ data.status }}" } }
  - id: big-rewards
    on: firstpromoter.reward_created
    # plan_name is null in the seed: dyn() keeps check from refusing what must fail at run time here.
    if: dyn(data).lead.plan_name.startsWith("Pro")
    do:
      - slack.post_message: { channel: "#big", text: "big" }
  - id: needs-lead-email
    on: firstpromoter.reward_created
    do:
      - hubspot.upsert_contact: { email: "{{ data['missing_email_field'] }}" }
`;

/** The workers' clock: traces and plan failures carry this time. */
const FIXED_NOW = Date.parse('2024-10-03T14:00:00.000Z');

const delivery = JSON.parse(readFileSync(new URL('../../fixtures/deliveries/firstpromoter/reward_created.json', import.meta.url), 'utf8'));
const normalize = (body: Record<string, unknown>): BridgeEvent =>
  sourceRegistry.firstpromoter.normalize(body, { receivedAt: new Date(), strippedFields: ['auth_token', 'temp_password'] });

describe('events worker (real Redis, real rules)', () => {
  let prefix: string;
  let redis: Redis;
  let workerConnection: Redis;
  let events: Queue<EventsQueueJobData>;
  let actions: Queue<ActionJobData>;
  let worker: Worker;
  let operations: BridgeOperations;
  let metrics: BridgeMetrics;
  const loaded = compileRuleFiles([{ file: 'rules/rewards.yaml', content: RULES }], { actions: actionRegistry });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const ruleSet = loaded.ruleSet;

  beforeEach(async () => {
    prefix = randomPrefix('events');
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    workerConnection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    events = new Queue(EVENTS_QUEUE, { connection: redis, prefix });
    actions = new Queue(ACTIONS_QUEUE, { connection: redis, prefix });
    operations = new BridgeOperations(redis, prefix);
    metrics = new BridgeMetrics();
    worker = startEventsWorker(workerOptions());
  });

  const workerOptions = (): EventsWorkerOptions =>
    eventsWorkerOptionsForTests({ connection: workerConnection, state: redis, prefix, actionsQueue: actions, ruleSet }, { metrics, now: () => FIXED_NOW });

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

  it('plans one action job per action with deterministic ids and provenance, and keeps a trace', async () => {
    const event = normalize(delivery);
    await processEvent(event, `${event.id}.a`);
    const jobs = await actions.getJobs(['waiting', 'failed', 'delayed']);
    const ids = jobs.map((job) => job.id).sort();
    // The action that cannot be planned is not a job: it is in the dead-letter list (next test).
    expect(ids).to.deep.equal([
      'firstpromoter-22737431.reward-alert.0',
      'firstpromoter-22737431.reward-alert.1',
    ]);
    const slack = jobs.find((job) => job.id === 'firstpromoter-22737431.reward-alert.0')!;
    expect(slack.data.params).to.deep.equal({ channel: '#affiliates', text: '$2.00 for promoter@example.com' });
    expect(slack.data.provenance).to.deep.include({ eventId: event.id, ruleId: 'reward-alert', ruleFile: 'rules/rewards.yaml', actionIndex: 0 });
    expect(slack.data.provenance.ruleFileHash).to.match(/^[0-9a-f]{64}$/);
    expect(slack.opts.attempts).to.equal(fastRetriesForTests.attempts);

    const trace = (await operations.getEventTrace(event.id)) as EventTrace;
    expect(trace.event.id).to.equal(event.id);
    const [run] = trace.runs;
    expect(run.matched.map((m) => m.ruleId)).to.deep.equal(['reward-alert', 'needs-lead-email']);
    // plan_name is null in the seed: the condition errors, which counts as not matched and is said why.
    expect(run.unmatched).to.have.length(1);
    expect(run.unmatched[0]).to.include({ ruleId: 'big-rewards', reason: 'condition_error' });
    expect(run.failures.map((f) => f.ruleId)).to.deep.equal(['needs-lead-email']);
    expect(run.at).to.equal(new Date(FIXED_NOW).toISOString());
  });

  it('stores the payload once: the planned event job is removed, the trace (readable JSON) holds the event, action jobs hold rendered params only', async () => {
    const event = normalize(delivery);
    await processEvent(event, `${event.id}.a`);
    expect(await events.getJob(`${event.id}.a`)).to.equal(undefined);
    const traceJson = (await redis.get(bridgeKeys(prefix).trace(event.id)))!;
    expect(decodeStoredTrace(traceJson).event).to.deep.equal(event);

    // Every value under the prefix, read whatever its type: the payload occurs in one of them, once.
    const payload = JSON.stringify(event.data);
    const values: string[] = [];
    for (const key of await redis.keys(`${prefix}:*`)) {
      const type = await redis.type(key);
      if (type === 'string') values.push((await redis.get(key))!);
      else if (type === 'hash') values.push(...Object.values(await redis.hgetall(key)));
      else if (type === 'list') values.push(...(await redis.lrange(key, 0, -1)));
      else if (type === 'zset' || type === 'set') values.push(...(type === 'zset' ? await redis.zrange(key, 0, -1) : await redis.smembers(key)));
      else if (type === 'stream') values.push(...(await redis.xrange(key, '-', '+')).flatMap(([, fields]) => fields));
    }
    const copies = values.reduce((count, value) => count + value.split(payload).length - 1, 0);
    expect(copies).to.equal(1);
    expect(traceJson.split(payload)).to.have.length(2);
    const [actionJob] = await actions.getJobs(['waiting']);
    expect(Object.keys(actionJob.data).sort()).to.deep.equal(['action', 'backoffBaseMs', 'eventReceivedAt', 'eventType', 'params', 'provenance']);
  });

  it('stores the trace compact (no affiliate fields, no empty lists) while every reader sees the event and runs in full', async () => {
    const event = normalize(delivery);
    await processEvent(event, `${event.id}.a`);
    const stored = JSON.parse((await redis.get(bridgeKeys(prefix).trace(event.id)))!);
    expect(stored.format).to.equal(COMPACT_TRACE_FORMAT);
    expect(stored.event).to.not.have.any.keys('affiliate', 'canonicalTypes');
    expect(stored.event.data).to.deep.equal(event.data);
    expect(stored.runs[0]).to.not.have.any.keys('suppressed', 'quarantined');

    // events trace, the dashboard's event page and replay read it through readEventTrace.
    const trace = (await operations.getEventTrace(event.id))!;
    expect(trace.event).to.deep.equal(event);
    expect(trace.event.affiliate!.promoter.email).to.equal('promoter@example.com');
    expect(trace.runs[0]).to.include({ quarantined: false });
    expect(trace.runs[0]).to.deep.include({ suppressed: [] });
    // simulate --since and what-if read the stored events; the dashboard's list and search the summaries.
    expect(await readStoredEvents(redis, prefix, 0)).to.deep.equal([event]);
    const [summary] = await readRecentEventSummaries(redis, prefix, 0, 10);
    expect(summary).to.deep.include({ eventId: event.id, canonicalTypes: event.canonicalTypes, email: event.affiliate!.lead.email });
  });

  it('counts a condition or template that fails on a real event per rule: metric, trace and the dashboard\'s list (issue 11.3)', async () => {
    const event = normalize(delivery);
    await processEvent(event, `${event.id}.a`);
    const text = await metrics.registry.metrics();
    // big-rewards: its condition failed (null.startsWith); needs-lead-email: its email rendered empty.
    expect(text).to.contain('bridge_rule_errors_total{rule="big-rewards"} 1');
    expect(text).to.contain('bridge_rule_errors_total{rule="needs-lead-email"} 1');
    const [run] = ((await operations.getEventTrace(event.id)) as EventTrace).runs;
    expect(run.unmatched[0].error).to.equal("found no matching overload for 'null.startsWith(string)'");
    const listed = await operations.listRuleErrors();
    expect(listed.map(({ ruleId, count }) => [ruleId, count])).to.deep.equal([['big-rewards', 1], ['needs-lead-email', 1]]);
    expect(listed[0].latest).to.deep.equal({
      error: "condition: found no matching overload for 'null.startsWith(string)'",
      eventId: event.id,
      at: new Date(FIXED_NOW).toISOString(),
    });
    expect(listed[1].latest?.error).to.match(/^hubspot\.upsert_contact: params invalid once rendered: email/);
  });

  it('fails an action that could not be planned at once, with the reason, without blocking the others: in the trace and the dead-letter list, never enqueued', async () => {
    const event = normalize(delivery);
    await processEvent(event, `${event.id}.a`);
    const failureId = 'firstpromoter-22737431.needs-lead-email.0';
    expect(await actions.getJob(failureId)).to.equal(undefined);
    const [failed] = await operations.listFailedActions();
    expect(failed).to.deep.include({ kind: 'plan', jobId: failureId, action: 'hubspot.upsert_contact', ruleId: 'needs-lead-email', eventId: event.id, attemptsMade: 1 });
    expect(failed.error).to.match(/^plan_error: /).and.contain('email');
    expect(failed.failedAt).to.equal(new Date(FIXED_NOW).toISOString());
    const [run] = (await operations.getEventTrace(event.id))!.runs;
    expect(run.failures).to.have.length(1);
    expect(run.failures[0]).to.include({ id: failureId, ruleId: 'needs-lead-email' });
    expect(run.failures[0].error).to.equal(failed.error.replace(/^plan_error: /, ''));
    expect(run.actionJobIds).not.to.include(failureId);
    expect(await metrics.registry.metrics()).to.contain('bridge_actions_total{action="hubspot.upsert_contact",outcome="failed"} 1');
  });

  it('answers a retry of a plan failure that it cannot succeed as is, pointing to events replay', async () => {
    const event = normalize(delivery);
    await processEvent(event, `${event.id}.a`);
    const error = await operations.retryAction('firstpromoter-22737431.needs-lead-email.0').then(() => null, (thrown: unknown) => thrown);
    expect(error).to.be.instanceOf(StateConflictError);
    expect((error as StateConflictError).code).to.equal('plan_failure_not_retryable');
    expect((error as Error).message).to.match(
      /^Action firstpromoter-22737431\.needs-lead-email\.0 could not be planned \(.*email.*\): retrying it cannot succeed as is\. Fix the rule, then run: affiliate-bridge events replay firstpromoter-22737431$/,
    );
    expect(await operations.retryAllFailedActions()).to.equal(0);
    expect((await operations.listFailedActions()).map((entry) => entry.jobId)).to.deep.equal(['firstpromoter-22737431.needs-lead-email.0']);
  });

  it('a replay supersedes the earlier plan failures of the event: the list shows what still fails', async () => {
    const event = normalize(delivery);
    await processEvent(event, `${event.id}.a`);
    await operations.replayEvent(event.id);
    await waitFor(async () => isEventJobDone(events, `${event.id}.replay1`));
    // The rule is unchanged, so the replay fails the same way, under its own id.
    expect((await operations.listFailedActions()).map((entry) => entry.jobId)).to.deep.equal(['firstpromoter-22737431.needs-lead-email.0.replay1']);
  });

  it('never duplicates actions when the same event job runs again', async () => {
    const event = normalize(delivery);
    await processEvent(event, `${event.id}.a`);
    await processEvent(event, `${event.id}.b`);
    expect(await actions.count()).to.equal(2);
    expect((await operations.getEventTrace(event.id))!.runs).to.have.length(1);
    // The plan failure is listed and counted once, as the one action job was before.
    expect(await operations.listFailedActions()).to.have.length(1);
    expect(await metrics.registry.metrics()).to.contain('bridge_actions_total{action="hubspot.upsert_contact",outcome="failed"} 1');
  });

  it('quarantines a schema-invalid event, plans nothing, and lists it; a replay plans it anyway and keeps it listed while still invalid', async () => {
    const body = structuredClone(delivery);
    body.data.amount = 'two hundred';
    const event = normalize(body);
    expect(event.status).to.equal('valid');
    await processEvent(event, `${event.id}.a`);
    expect(await actions.count()).to.equal(0);
    const quarantined = await operations.listQuarantinedEvents();
    expect(quarantined.map((q) => q.eventId)).to.deep.equal([event.id]);
    expect(quarantined[0].validationErrors).to.deep.equal(['data.amount must be a number']);

    const generation = await operations.replayEvent(event.id);
    expect(generation).to.equal(1);
    await waitFor(async () => isEventJobDone(events, `${event.id}.replay1`));
    // Planned: a waiting job, or (the amount is still not a number, so money fails) a dead letter.
    const ids = [...(await actions.getJobs(['waiting', 'failed'])).map((job) => job.id), ...(await operations.listFailedActions()).map((entry) => entry.jobId)];
    expect(ids).to.include('firstpromoter-22737431.reward-alert.0.replay1');
    // Still invalid: still listed, with the problems found by this replay's check.
    const afterReplay = await operations.listQuarantinedEvents();
    expect(afterReplay.map((q) => [q.eventId, q.validationErrors])).to.deep.equal([[event.id, ['data.amount must be a number']]]);
    const trace = (await operations.getEventTrace(event.id))!;
    expect(trace.runs.map((run) => [run.generation, run.quarantined])).to.deep.equal([[0, true], [1, true]]);
    expect(trace.event.status).to.equal('quarantined');
  });

  it('a replay after the schema accepts the payload makes the event valid and takes it off the quarantine list', async () => {
    const body = structuredClone(delivery);
    body.data.amount = '200';
    const event = normalize(body);
    await processEvent(event, `${event.id}.a`);
    expect((await operations.listQuarantinedEvents()).map((q) => q.eventId)).to.deep.equal([event.id]);

    // The fix: a bridge whose schema takes the amount as text (as a newer provider API might send it).
    await worker.close();
    const shipped = sourceRegistry.firstpromoter.schemasFor('reward_created')!;
    const fixed = { ...shipped, data: (shipped.data as yup.AnyObjectSchema).shape({ amount: yup.string().required() }) };
    worker = startEventsWorker({ ...workerOptions(), checkSchema: (stored) => checkEventAgainst(fixed, stored) });
    await operations.replayEvent(event.id);
    await waitFor(async () => isEventJobDone(events, `${event.id}.replay1`));

    expect(await operations.listQuarantinedEvents()).to.deep.equal([]);
    const trace = (await operations.getEventTrace(event.id))!;
    expect(trace.runs.map((run) => [run.generation, run.quarantined])).to.deep.equal([[0, true], [1, false]]);
    expect(trace.event.status).to.equal('valid');
    expect(trace.event.validationErrors).to.equal(undefined);
  });

  it('a replay of an event quarantined at intake (unknown type) keeps it listed', async () => {
    const body = structuredClone(delivery);
    body.event.type = 'reward_invented';
    const event = normalize(body);
    expect(event.status).to.equal('quarantined');
    await processEvent(event, `${event.id}.a`);
    await operations.replayEvent(event.id);
    await waitFor(async () => isEventJobDone(events, `${event.id}.replay1`));
    const listed = await operations.listQuarantinedEvents();
    expect(listed.map((q) => [q.eventId, q.validationErrors])).to.deep.equal([[event.id, ['Unknown FirstPromoter event type "reward_invented"']]]);
  });

  it('adds the action jobs, and writes the traces, of the events of a job of deliveries together: one socket write for each step', async () => {
    // The bridge's own state connection (auto-pipelining), for the bridge's keys and the actions queue, as start-workers.ts gives them.
    const state = createRedisConnection(SHARED_REDIS_URL, 'state');
    const actionsOnState = new Queue<ActionJobData>(ACTIONS_QUEUE, { connection: state, prefix });
    try {
      const options = eventsWorkerOptionsForTests({ connection: workerConnection, state, prefix, actionsQueue: actionsOnState, ruleSet }, { metrics, now: () => FIXED_NOW });
      const reward = (id: number) => normalize({ ...delivery, event: { ...delivery.event, id }, data: { ...delivery.data, id } });
      // Not counted: BullMQ's first add on a connection also loads its script.
      await processEventJob({ id: 'warm-up', data: { event: reward(1) } }, options);
      const deliveries = [2, 3, 4].map((id) => ({ jobId: `firstpromoter-${id}.a`, event: reward(id) }));

      const writes = countSocketWrites(state);
      await processDeliveryBatch({ id: 'batch', data: { deliveries } }, options);
      // The three events' adds in one write, then their traces (with the plan failures) in one: 2, where each event's own addBulk and trace pipeline made 6.
      expect(writes.count).to.equal(2);
      const added = (await actions.getJobs(['waiting'])).map((job) => job.id);
      for (const id of [2, 3, 4]) {
        expect(added).to.include.members([`firstpromoter-${id}.reward-alert.0`, `firstpromoter-${id}.reward-alert.1`]);
        expect((await operations.getEventTrace(`firstpromoter-${id}`))!.runs[0].actionJobIds).to.deep.equal([`firstpromoter-${id}.reward-alert.0`, `firstpromoter-${id}.reward-alert.1`]);
      }
    } finally {
      await actionsOnState.close();
      state.disconnect();
    }
  });
});
