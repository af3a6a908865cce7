import { expect } from 'chai';
import { Queue, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { ActionName, ActionRunner } from '../../../src/actions/action.js';
import { actionRegistry } from '../../../src/actions/registry.js';
import { loadConfig } from '../../../src/config/config.js';
import { BridgeMetrics } from '../../../src/observability/metrics.js';
import type { ActionJobData, ActionJobResult } from '../../../src/queue/action-job.js';
import { startActionsWorker } from '../../../src/queue/actions-worker.js';
import { ACTIONS_QUEUE, bridgeKeys } from '../../../src/queue/names.js';
import { ACTION_BACKOFF_TYPE, fastRetriesForTests } from '../../../src/delivery/delivery-policy.js';
import { startSlackFake, type SlackFake } from '../../fakes/slack-fake.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';

const SLACK_TOKEN = 'xoxb-actions-worker-test-token';

describe('actions worker (real Redis, real Slack client against the fake)', () => {
  let prefix: string;
  let redis: Redis;
  let workerConnection: Redis;
  let actions: Queue<ActionJobData, ActionJobResult>;
  let worker: Worker;
  let slack: SlackFake;
  let metrics: BridgeMetrics;
  let runners: Record<ActionName, ActionRunner<unknown>>;

  const start = (withToken = true) => {
    const config = loadConfig({
      SLACK_API_URL: slack.url,
      ...(withToken ? { SLACK_BOT_TOKEN: SLACK_TOKEN } : {}),
      SLACK_MESSAGES_PER_SECOND: '100',
      SLACK_MESSAGES_PER_MINUTE: '60000',
      ACTION_TIMEOUT: '2s',
    });
    const logger = pino({ level: 'silent' });
    runners = Object.fromEntries(
      Object.entries(actionRegistry).map(([name, action]) => [name, action.connect({ config, redis, keyPrefix: prefix, logger, now: Date.now })]),
    ) as Record<ActionName, ActionRunner<unknown>>;
    worker = startActionsWorker({
      connection: workerConnection,
      state: redis,
      prefix,
      runners,
      retryPolicy: fastRetriesForTests,
      actionTimeoutMs: config.actionTimeoutMs,
      completionTtlMs: 60_000,
      logger,
      metrics,
    });
  };

  const addSlackJob = (jobId: string, extra: Partial<ActionJobData> = {}) =>
    actions.add(
      'slack.post_message',
      {
        action: 'slack.post_message',
        params: { channel: '#ops', text: `message ${jobId}` },
        provenance: { eventId: 'firstpromoter-1', ruleId: 'rule-a', ruleFile: 'rules/a.yaml', ruleFileHash: 'f'.repeat(64), actionIndex: 0 },
        eventType: 'firstpromoter.lead_signup',
        eventReceivedAt: new Date().toISOString(),
        backoffBaseMs: 20,
        ...extra,
      },
      { jobId, attempts: fastRetriesForTests.attempts, backoff: { type: ACTION_BACKOFF_TYPE } },
    );

  const finalState = (jobId: string) =>
    waitFor(async () => {
      const state = await actions.getJobState(jobId);
      return state === 'completed' || state === 'failed' ? state : null;
    }, 15_000);

  beforeEach(async () => {
    prefix = randomPrefix('actions');
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    workerConnection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    actions = new Queue(ACTIONS_QUEUE, { connection: redis, prefix });
    slack = await startSlackFake({ token: SLACK_TOKEN, missingChannels: ['#gone'] });
    metrics = new BridgeMetrics();
  });

  afterEach(async () => {
    await worker?.close();
    await Promise.all(Object.values(runners ?? {}).map((runner) => runner.close?.()));
    await actions.close();
    await slack.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
    workerConnection.disconnect();
  });

  it('sends once, records completion before acknowledging, and returns the result', async () => {
    start();
    await addSlackJob('job-ok');
    expect(await finalState('job-ok')).to.equal('completed');
    expect(slack.received.map((m) => m.text)).to.deep.equal(['message job-ok']);
    const record = JSON.parse((await redis.get(bridgeKeys(prefix).actionDone('job-ok')))!);
    expect(record.outcome).to.equal('succeeded');
    expect(record.detail.ts).to.be.a('string');
    const metricsText = await metrics.registry.metrics();
    expect(metricsText).to.contain('bridge_actions_total{action="slack.post_message",outcome="succeeded"} 1');
  });

  it('does not send an action whose completion record exists (the worker died after the call)', async () => {
    await redis.set(bridgeKeys(prefix).actionDone('job-done'), JSON.stringify({ outcome: 'succeeded', detail: { ts: '1.0' } }));
    start();
    await addSlackJob('job-done');
    expect(await finalState('job-done')).to.equal('completed');
    expect((await actions.getJob('job-done'))!.returnvalue).to.include({ alreadyDone: true });
    expect(slack.received).to.have.length(0);
  });

  it('fails a permanent Slack error at once, with the code and the attempt history', async () => {
    start();
    await addSlackJob('job-gone', { params: { channel: '#gone', text: 'nobody home' } });
    expect(await finalState('job-gone')).to.equal('failed');
    const job = (await actions.getJob('job-gone'))!;
    expect(job.attemptsMade).to.equal(1);
    expect(job.failedReason).to.match(/^channel_not_found: /);
    const { logs } = await actions.getJobLogs('job-gone');
    expect(logs).to.have.length(1);
    expect(logs[0]).to.match(/^attempt 1 .*channel_not_found/);
  });

  it('retries transient failures with backoff until they succeed', async () => {
    // Scoped to the post: a retry after a 503 (an unknown outcome) first reads the token's scopes
    // with auth.test (issue 12), which must not eat the scripted failures.
    slack.script({ kind: 'http_status', status: 503, times: 2, method: 'chat.postMessage' });
    start();
    await addSlackJob('job-flaky');
    expect(await finalState('job-flaky')).to.equal('completed');
    const job = (await actions.getJob('job-flaky'))!;
    // BullMQ counts the successful attempt too: two failures, then success.
    expect(job.attemptsMade).to.equal(3);
    expect((await actions.getJobLogs('job-flaky')).logs).to.have.length(2);
    expect(slack.received).to.have.length(1);
  });

  it('waits out a 429 without spending an attempt', async () => {
    slack.script({ kind: 'rate_limit', retryAfterSeconds: 1, times: 1 });
    start();
    const startedAt = Date.now();
    await addSlackJob('job-limited');
    expect(await finalState('job-limited')).to.equal('completed');
    expect(Date.now() - startedAt).to.be.greaterThanOrEqual(1000);
    // Only the successful attempt counts: the rate-limited one was a delay, not an attempt.
    expect((await actions.getJob('job-limited'))!.attemptsMade).to.equal(1);
    expect(slack.received).to.have.length(1);
  });

  it('runs as dry-run without a token: records the request, sends nothing', async () => {
    start(false);
    await addSlackJob('job-dry');
    expect(await finalState('job-dry')).to.equal('completed');
    const result = (await actions.getJob('job-dry'))!.returnvalue;
    expect(result.outcome).to.equal('dry_run');
    expect(JSON.stringify(result.request)).to.contain('message job-dry');
    expect(slack.requests).to.have.length(0);
  });

  it('a HubSpot dry run keeps what it noted: a property that rendered empty is left out, and says why', async () => {
    start(false);
    await actions.add(
      'hubspot.upsert_contact',
      {
        action: 'hubspot.upsert_contact',
        params: { email: 'Jane.Doe@Example.COM', properties: { firstname: '', affiliate_status: 'active' } },
        provenance: { eventId: 'firstpromoter-2', ruleId: 'rule-b', ruleFile: 'rules/b.yaml', ruleFileHash: 'f'.repeat(64), actionIndex: 0 },
        eventType: 'firstpromoter.promoter_accepted',
        eventReceivedAt: new Date().toISOString(),
        backoffBaseMs: 20,
      },
      { jobId: 'job-hubspot-dry', attempts: 1 },
    );
    expect(await finalState('job-hubspot-dry')).to.equal('completed');
    const result = (await actions.getJob('job-hubspot-dry'))!.returnvalue as {
      outcome: string;
      request: { body: { inputs: Array<Record<string, unknown>> } };
      detail: { notes: string[] };
    };
    expect(result.outcome).to.equal('dry_run');
    expect(result.request.body.inputs[0]).to.deep.include({ id: 'jane.doe@example.com', properties: { affiliate_status: 'active' } });
    expect(result.detail.notes).to.deep.equal([
      'email sent as jane.doe@example.com (trimmed, lower-cased; rendered "Jane.Doe@Example.COM")',
      'property firstname left out: it rendered empty, and an empty value would clear it in HubSpot (when_empty: clear does that on purpose)',
    ]);
  });
});
