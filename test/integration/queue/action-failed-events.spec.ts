import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { ActionName, ActionRunner } from '../../../src/actions/action.js';
import { actionRegistry } from '../../../src/actions/registry.js';
import { loadConfig } from '../../../src/config/config.js';
import { fastRetriesForTests } from '../../../src/delivery/delivery-policy.js';
import { StorageUnavailableError } from '../../../src/errors.js';
import type { BridgeEvent } from '../../../src/events/event.js';
import { BridgeMetrics } from '../../../src/observability/metrics.js';
import type { ActionJobData } from '../../../src/queue/action-job.js';
import { startActionsWorker } from '../../../src/queue/actions-worker.js';
import { EventIntake, eventsOfJob, type EventsQueueJobData } from '../../../src/queue/event-intake.js';
import { startEventsWorker } from '../../../src/queue/events-worker.js';
import { FailureReporter, UNREPORTED_FAILURE_DELAY_MS } from '../../../src/queue/failure-events.js';
import { ACTIONS_QUEUE, EVENTS_QUEUE } from '../../../src/queue/names.js';
import { BridgeOperations } from '../../../src/queue/operations.js';
import type { EventTrace } from '../../../src/queue/trace.js';
import { compileRuleFiles } from '../../../src/rules/compile-rules.js';
import { planActions } from '../../../src/rules/plan.js';
import { Secret } from '../../../src/secret.js';
import { checkSchemaOf, labelEventType, sourceRegistry } from '../../../src/sources/registry.js';
import { createSecretScrubber } from '../../../src/sources/scrub-secrets.js';
import { startSlackFake, type SlackFake } from '../../fakes/slack-fake.js';
import { readDocumentedOpsRule } from '../../support/bridge-events.js';
import { createCapturingLogger } from '../../support/log-capture.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';

const SLACK_TOKEN = 'xoxb-failure-events-test-token';

/** A lead alert posting to a channel that does not exist: Slack answers channel_not_found, a permanent error. */
const LEAD_TO_MISSING_CHANNEL = `rules:
  - id: lead-alert
    on: firstpromoter.lead_signup
    do:
      - slack.post_message: { channel: "#gone", text: "lead {{ data.email }}" }
`;

/** An action that cannot be planned: the field it reads is absent, so the email renders empty. */
const LEAD_TO_UNPLANNABLE_UPSERT = `rules:
  - id: needs-lead-email
    on: firstpromoter.lead_signup
    do:
      - hubspot.upsert_contact: { email: "{{ data['missing_email_field'] }}" }
`;

/** An ops rule whose own action cannot be planned either (for the loop guard's plan stage). */
const UNPLANNABLE_OPS_RULE = `rules:
  - id: ops-upsert
    on: bridge.action.failed
    do:
      - hubspot.upsert_contact: { email: "{{ data['not_a_field'] }}" }
`;

const delivery = JSON.parse(readFileSync(new URL('../../fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));
const leadEvent = (): BridgeEvent => sourceRegistry.firstpromoter.normalize(delivery, { receivedAt: new Date(), strippedFields: ['auth_token', 'temp_password'] });

describe('bridge.action.failed (real Redis, real workers, real Slack client against the fake)', () => {
  let prefix: string;
  let redis: Redis;
  let eventsConnection: Redis;
  let actionsConnection: Redis;
  let events: Queue<EventsQueueJobData>;
  let actions: Queue<ActionJobData>;
  let operations: BridgeOperations;
  let slack: SlackFake;
  let metrics: BridgeMetrics;
  let runners: Record<ActionName, ActionRunner<unknown>>;
  let workers: Worker[];
  let captured: ReturnType<typeof createCapturingLogger>;

  /**
   * Both workers, wired as start-workers.ts wires them: one intake on the events queue, one
   * reporter shared by the actions worker (run failures) and the events worker (plan failures).
   * `intakeFault` may fail a store, as Redis refusing the write would.
   */
  const start = (ruleFiles: readonly string[], intakeFault?: () => boolean) => {
    const loaded = compileRuleFiles(
      ruleFiles.map((content, index) => ({ file: `rules/${index}.yaml`, content })),
      { actions: actionRegistry },
    );
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    const config = loadConfig({ SLACK_API_URL: slack.url, SLACK_BOT_TOKEN: SLACK_TOKEN, SLACK_MESSAGES_PER_SECOND: '100', SLACK_MESSAGES_PER_MINUTE: '60000', ACTION_TIMEOUT: '2s' });
    runners = Object.fromEntries(
      Object.entries(actionRegistry).map(([name, action]) => [name, action.connect({ config, redis, keyPrefix: prefix, logger: captured.logger, now: Date.now })]),
    ) as Record<ActionName, ActionRunner<unknown>>;
    const intake = new EventIntake({ queue: events, dedupTtlMs: 60_000 });
    const failureReporter = new FailureReporter({
      intake: {
        store: (event) => (intakeFault?.() ? Promise.reject(new StorageUnavailableError('storage_unavailable', 'The event could not be stored in Redis')) : intake.store(event)),
      },
      secretScrubber: createSecretScrubber([new Secret(SLACK_TOKEN)]),
      logger: captured.logger,
      metrics,
    });
    workers = [
      startEventsWorker({
        connection: eventsConnection,
        state: redis,
        prefix,
        actionsQueue: actions,
        plan: (event) => planActions(loaded.ruleSet, event, { strictTemplates: false }),
        checkSchema: (event) => checkSchemaOf(sourceRegistry, event),
        labelEventType: (type) => labelEventType(type, sourceRegistry),
        retryPolicy: fastRetriesForTests,
        traceTtlMs: 60_000,
        logger: captured.logger,
        metrics,
        failureReporter,
      }),
      startActionsWorker({
        connection: actionsConnection,
        state: redis,
        prefix,
        runners,
        actions: actionRegistry,
        retryPolicy: fastRetriesForTests,
        actionTimeoutMs: config.actionTimeoutMs,
        completionTtlMs: 60_000,
        logger: captured.logger,
        metrics,
        failureReporter,
      }),
    ];
    return intake;
  };

  /**
   * The bridge's own events stored so far, oldest first: those still in the events queue, and the
   * planned ones (a planned event job is removed; its trace, in the recent-events index, is the record).
   */
  const storedBridgeEvents = async (): Promise<BridgeEvent[]> => {
    const byId = new Map<string, BridgeEvent>();
    for (const job of await events.getJobs(['waiting', 'active', 'delayed', 'failed'])) for (const event of eventsOfJob(job.data)) byId.set(event.id, event);
    for (const id of await operations.listRecentEventIds(10_000)) {
      const trace = await operations.getEventTrace(id);
      if (trace) byId.set(id, trace.event);
    }
    return [...byId.values()].filter((event) => event.source === 'bridge').sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
  };

  const opsMessages = () => slack.received.filter((message) => message.channel === '#affiliate-ops').map((message) => message.text);

  const actionState = (jobId: string) => actions.getJobState(jobId);

  beforeEach(async () => {
    prefix = randomPrefix('failure-events');
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    eventsConnection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    actionsConnection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    events = new Queue(EVENTS_QUEUE, { connection: redis, prefix });
    actions = new Queue(ACTIONS_QUEUE, { connection: redis, prefix });
    operations = new BridgeOperations(redis, prefix);
    metrics = new BridgeMetrics();
    captured = createCapturingLogger('info');
    slack = await startSlackFake({ token: SLACK_TOKEN, missingChannels: ['#gone'] });
    workers = [];
  });

  afterEach(async () => {
    await Promise.all(workers.map((worker) => worker.close()));
    await Promise.all(Object.values(runners ?? {}).map((runner) => runner.close?.()));
    await Promise.all([events.close(), actions.close(), operations.close()]);
    await slack.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
    eventsConnection.disconnect();
    actionsConnection.disconnect();
  });

  it('an action that fails permanently (channel_not_found) → a bridge.action.failed event → the documented ops rule posts every field to #affiliate-ops', async () => {
    const intake = start([LEAD_TO_MISSING_CHANNEL, readDocumentedOpsRule()]);
    const lead = leadEvent();
    expect(await intake.store(lead)).to.equal('stored');
    const jobId = `${lead.id}.lead-alert.0`;

    const [text] = await waitFor(() => (opsMessages().length > 0 ? opsMessages() : null), 15_000);
    const [failed] = await operations.listFailedActions();
    expect(failed).to.include({ jobId, kind: 'action' });
    expect(text).to.equal(
      `slack.post_message of rule lead-alert failed for event ${lead.id} (stage run, attempts: 1): ${failed.error}. Once fixed: affiliate-bridge actions retry ${jobId}`,
    );
    expect(failed.error).to.match(/^channel_not_found: /);

    // Stored through the intake like any event: one, of source bridge, traced, listed for the dashboard, counted.
    const [reported] = await storedBridgeEvents();
    expect(await storedBridgeEvents()).to.have.length(1);
    expect(reported).to.deep.include({ source: 'bridge', type: 'bridge.action.failed', status: 'valid' });
    expect(reported.id).to.match(new RegExp(`^bridge-${jobId.replace(/[.]/g, '\\.')}\\.[0-9a-z]+$`));
    expect(reported.data).to.deep.include({
      stage: 'run',
      rule_id: 'lead-alert',
      rule_file: 'rules/0.yaml',
      action: 'slack.post_message',
      error: failed.error,
      event_id: lead.id,
      event_type: 'firstpromoter.lead_signup',
      source: 'firstpromoter',
      attempts: 1,
      job_id: jobId,
      dead_letter_id: jobId,
      retry_command: `affiliate-bridge actions retry ${jobId}`,
    });
    const trace = (await operations.getEventTrace(reported.id)) as EventTrace;
    expect(trace.event.source).to.equal('bridge');
    expect(trace.runs[0].matched.map((rule) => rule.ruleId)).to.deep.equal(['action-failures-to-ops']);
    expect(await operations.listRecentEventIds()).to.include(reported.id);
    const metricsText = await metrics.registry.metrics();
    expect(metricsText).to.contain('bridge_events_total{type="bridge.action.failed",outcome="planned"} 1');
    expect(metricsText).to.contain('bridge_failure_events_total{stage="run",outcome="emitted"} 1');
    // No secret reaches the event, the message or the logs.
    expect(JSON.stringify(reported) + text + captured.text()).not.to.contain(SLACK_TOKEN);
  });

  it('a dead letter retried that fails again reports again, once per failure', async () => {
    const intake = start([LEAD_TO_MISSING_CHANNEL, readDocumentedOpsRule()]);
    const lead = leadEvent();
    await intake.store(lead);
    const jobId = `${lead.id}.lead-alert.0`;
    await waitFor(() => (opsMessages().length === 1 ? true : null), 15_000);
    await operations.retryAction(jobId);
    await waitFor(() => (opsMessages().length === 2 ? true : null), 15_000);
    expect(await actionState(jobId)).to.equal('failed');
    const reports = await storedBridgeEvents();
    expect(reports.map((event) => event.data.dead_letter_id)).to.deep.equal([jobId, jobId]);
    expect(new Set(reports.map((event) => event.id)).size).to.equal(2);
    expect(await metrics.registry.metrics()).to.contain('bridge_failure_events_total{stage="run",outcome="emitted"} 2');
  });

  it('a job of an action this worker does not run (queued by another version) → a dead letter at once, reported', async () => {
    start([readDocumentedOpsRule()]);
    const jobId = 'firstpromoter-1.lead-alert.0';
    await actions.add(
      'teams.post_message' as ActionName,
      {
        action: 'teams.post_message' as ActionName,
        params: { text: 'hi' },
        provenance: { eventId: 'firstpromoter-1', ruleId: 'lead-alert', ruleFile: 'rules/leads.yaml', ruleFileHash: 'x', actionIndex: 0 },
        eventType: 'firstpromoter.lead_signup',
        eventReceivedAt: new Date().toISOString(),
        backoffBaseMs: 10,
      },
      { jobId, attempts: 5 },
    );
    const [text] = await waitFor(() => (opsMessages().length > 0 ? opsMessages() : null), 15_000);
    const job = await actions.getJob(jobId);
    expect([await job!.getState(), job!.attemptsMade, job!.failedReason]).to.deep.equal(['failed', 1, 'unknown_action: no action named teams.post_message']);
    expect(text).to.equal(
      `teams.post_message of rule lead-alert failed for event firstpromoter-1 (stage run, attempts: 1): unknown_action: no action named teams.post_message. Once fixed: affiliate-bridge actions retry ${jobId}`,
    );
    expect(await metrics.registry.metrics()).to.contain('bridge_actions_total{action="teams.post_message",outcome="failed"} 1');
  });

  it('an action that cannot be planned → a bridge.action.failed event of stage plan, with the replay command', async () => {
    const intake = start([LEAD_TO_UNPLANNABLE_UPSERT, readDocumentedOpsRule()]);
    const lead = leadEvent();
    await intake.store(lead);
    const failureId = `${lead.id}.needs-lead-email.0`;
    const [text] = await waitFor(() => (opsMessages().length > 0 ? opsMessages() : null), 15_000);
    const [failed] = await operations.listFailedActions();
    expect(failed).to.include({ jobId: failureId, kind: 'plan' });
    expect(text).to.equal(
      `hubspot.upsert_contact of rule needs-lead-email failed for event ${lead.id} (stage plan, attempts: 0): ${failed.error}. Once fixed: affiliate-bridge events replay ${lead.id}`,
    );
    expect(failed.error).to.match(/^plan_error: params invalid once rendered: email/);
    const [reported] = await storedBridgeEvents();
    expect(reported.data).to.deep.include({ stage: 'plan', dead_letter_id: failureId, job_id: failureId, event_id: lead.id, error: failed.error });
    expect(await metrics.registry.metrics()).to.contain('bridge_failure_events_total{stage="plan",outcome="emitted"} 1');
  });

  it('no loops: an ops action that fails (its channel is gone, or it cannot be planned) is logged and counted, never reported again', async () => {
    // The ops channel itself does not exist: the ops rule's post fails permanently too.
    await slack.close();
    slack = await startSlackFake({ token: SLACK_TOKEN, missingChannels: ['#gone', '#affiliate-ops'] });
    const intake = start([LEAD_TO_MISSING_CHANNEL, readDocumentedOpsRule(), UNPLANNABLE_OPS_RULE]);
    const lead = leadEvent();
    await intake.store(lead);
    const [reported] = await waitFor(async () => {
      const stored = await storedBridgeEvents();
      return stored.length > 0 ? stored : null;
    }, 15_000);
    const opsJobId = `${reported.id}.action-failures-to-ops.0`;
    await waitFor(async () => ((await actionState(opsJobId)) === 'failed' ? true : null), 15_000);

    // The report is stored before a job is dead-lettered: with the ops job failed, any report of it would be there.
    const stored = await storedBridgeEvents();
    expect(stored.map((event) => event.id)).to.deep.equal([reported.id]);
    const metricsText = await metrics.registry.metrics();
    expect(metricsText).to.contain('bridge_failure_events_total{stage="run",outcome="loop_suppressed"} 1');
    expect(metricsText).to.contain('bridge_failure_events_total{stage="plan",outcome="loop_suppressed"} 1');
    expect(metricsText).to.contain('bridge_failure_events_total{stage="run",outcome="emitted"} 1');
    const suppressed = captured.lines().map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => String(line.msg).includes('not reported as bridge.action.failed again'));
    expect(suppressed.map((line) => [line.stage, line.ruleId, line.level])).to.have.deep.members([
      ['run', 'action-failures-to-ops', 50],
      ['plan', 'ops-upsert', 50],
    ]);
    // Still in the dead-letter list, like any failed action.
    expect((await operations.listFailedActions()).map((entry) => entry.jobId)).to.include(opsJobId);
  });

  it('a report that cannot be stored keeps the job from becoming a silent dead letter: it waits, runs again and reports then', async function () {
    this.timeout(30_000);
    let refusals = 1;
    const intake = start([LEAD_TO_MISSING_CHANNEL, readDocumentedOpsRule()], () => refusals-- > 0);
    const lead = leadEvent();
    await intake.store(lead);
    const jobId = `${lead.id}.lead-alert.0`;
    await waitFor(async () => ((await actionState(jobId)) === 'delayed' ? true : null), 10_000);
    expect(await storedBridgeEvents()).to.deep.equal([]);
    expect(await metrics.registry.metrics()).to.contain('bridge_failure_events_total{stage="run",outcome="unavailable"} 1');

    await waitFor(() => (opsMessages().length > 0 ? true : null), UNREPORTED_FAILURE_DELAY_MS + 10_000);
    expect(await actionState(jobId)).to.equal('failed');
    expect(await storedBridgeEvents()).to.have.length(1);
    // The wait did not spend an attempt.
    expect((await actions.getJob(jobId))!.attemptsMade).to.equal(1);
  });

  it('reporting the same failure twice stores it once (the id fixes the event)', async () => {
    start([readDocumentedOpsRule()]);
    const reporter = new FailureReporter({ intake: new EventIntake({ queue: events, dedupTtlMs: 60_000 }), logger: captured.logger, metrics });
    const failure = {
      stage: 'run' as const,
      ruleId: 'r',
      ruleFile: 'rules/r.yaml',
      action: 'slack.post_message',
      error: 'channel_not_found: gone',
      eventId: 'firstpromoter-1',
      eventType: 'firstpromoter.lead_signup',
      attempts: 1,
      jobId: 'firstpromoter-1.r.0',
      deadLetterId: 'firstpromoter-1.r.0',
      runStartedAtMs: 1_700_000_000_000,
    };
    expect(await reporter.report({ ...failure, failedAtMs: 1_700_000_000_500 })).to.equal('emitted');
    expect(await reporter.report({ ...failure, failedAtMs: 1_700_000_000_500 })).to.equal('duplicate');
    expect(await storedBridgeEvents()).to.have.length(1);
  });
  it('a job whose workers died holding it more than BullMQ allows (failed by BullMQ at its next fetch, no processor code) is reported too', async function () {
    this.timeout(20_000);
    // The job is taken by a worker that then dies: taken (active, locked) by a BullMQ worker that
    // never runs it, and its lock gone as when it expires. BullMQ's own stalled check, run by a
    // second worker with maxStalledCount 0, then marks it for a deferred failure and puts it back
    // (moveStalledJobsToWait: `defa` "job stalled more than allowable limit").
    const provenance = { eventId: 'firstpromoter-stalled-1', ruleId: 'lead-alert', ruleFile: 'rules/0.yaml', ruleFileHash: 'abc', actionIndex: 0 };
    const data: ActionJobData = { action: 'slack.post_message', params: { channel: '#leads', text: 'x' }, provenance, eventType: 'firstpromoter.lead_signup', eventReceivedAt: new Date().toISOString(), backoffBaseMs: 100 };
    const jobId = 'firstpromoter-stalled-1.lead-alert.0';
    await actions.add('slack.post_message', data, { jobId, attempts: 3 });
    const dying = new Worker(ACTIONS_QUEUE, null, { connection: redis.duplicate(), prefix, autorun: false });
    const taken = await dying.getNextJob('dying-worker-token');
    expect(taken?.id).to.equal(jobId);
    await dying.close(true);
    await redis.del(`${prefix}:${ACTIONS_QUEUE}:${jobId}:lock`);
    const checker = new Worker(ACTIONS_QUEUE, null, { connection: redis.duplicate(), prefix, autorun: false, maxStalledCount: 0, stalledInterval: 100 });
    void checker.startStalledCheckTimer();
    await waitFor(async () => (await redis.hget(`${prefix}:${ACTIONS_QUEUE}:${jobId}`, 'defa')) !== null, 10_000);
    await checker.close();

    // The bridge's workers: the actions worker fetches it, BullMQ fails it without calling the processor.
    start([readDocumentedOpsRule()]);
    const [text] = await waitFor(() => (opsMessages().length > 0 ? opsMessages() : null), 15_000);
    expect(await actionState(jobId)).to.equal('failed');
    expect(slack.received.filter((message) => message.channel === '#leads')).to.have.length(0);
    const [reported] = await storedBridgeEvents();
    expect(reported.data).to.deep.include({ stage: 'run', rule_id: 'lead-alert', action: 'slack.post_message', event_id: 'firstpromoter-stalled-1', job_id: jobId, dead_letter_id: jobId });
    expect(reported.data.error).to.equal('stalled: job stalled more than allowable limit (the workers holding it stopped before it finished)');
    expect(text).to.contain(`slack.post_message of rule lead-alert failed for event firstpromoter-stalled-1`);
    expect(await metrics.registry.metrics()).to.contain('bridge_actions_total{action="slack.post_message",outcome="failed"} 1');
    expect(captured.text()).to.contain('action failed: stalled: job stalled more than allowable limit');
  });
});
