import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import type { Server } from 'node:http';
import { expect } from 'chai';
import { Queue, type Worker } from 'bullmq';
import express from 'express';
import { Redis } from 'ioredis';
import type { ActionName, ActionRunner } from '../../../src/actions/action.js';
import { pauseKey, readPause } from '../../../src/actions/pause.js';
import { actionRegistry } from '../../../src/actions/registry.js';
import { loadConfig } from '../../../src/config/config.js';
import { fastRetriesForTests, ACTION_BACKOFF_TYPE } from '../../../src/delivery/delivery-policy.js';
import { createOperationalRouter } from '../../../src/http/app.js';
import { loadOverview } from '../../../src/http/admin/admin-data.js';
import { renderDashboardPage } from '../../../src/http/admin/admin-pages.js';
import { BridgeMetrics } from '../../../src/observability/metrics.js';
import type { ActionJobData, ActionJobResult } from '../../../src/queue/action-job.js';
import { startActionsWorker } from '../../../src/queue/actions-worker.js';
import { ACTIONS_QUEUE } from '../../../src/queue/names.js';
import { BridgeOperations } from '../../../src/queue/operations.js';
import { checkIntegrationsRunning } from '../../../src/roles/start-http.js';
import { IntegrationPausedError } from '../../../src/errors.js';
import { startHubspotFake, type HubspotFake } from '../../fakes/hubspot-fake.js';
import { startSlackFake, type SlackFake } from '../../fakes/slack-fake.js';
import { captureLogger } from '../actions/support.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';

const SLACK_TOKEN = 'xoxb-PAUSE-spec-token-3b7f';
const HUBSPOT_TOKEN = 'pat-na1-PAUSE-spec-token-8e21';
/** Short enough for a test; the real interval is 30 s. */
const PROBE_INTERVAL_MS = 300;

/**
 * Point 9: a refused token pauses the integration (state in Redis, shared by every worker) instead
 * of dead-lettering each job: jobs wait without spending attempts, /readyz, the metric and the
 * dashboard say so, one log line at the start, and a probe resumes it once the token works.
 * Two real workers on real Redis, real SDK clients against the fakes.
 */
describe('actions worker: a refused token pauses the integration (real Redis, two workers, fakes)', function () {
  this.timeout(30_000);
  let prefix: string;
  let redis: Redis;
  let connections: Redis[];
  let actions: Queue<ActionJobData, ActionJobResult>;
  let workers: Worker[];
  let runners: Array<Record<ActionName, ActionRunner<unknown>>>;
  let slack: SlackFake;
  let hubspot: HubspotFake;
  let metrics: BridgeMetrics;
  let captured: ReturnType<typeof captureLogger>;
  let server: Server | undefined;

  const startWorkers = (count = 2, pauseLogIntervalMs?: number) => {
    const config = loadConfig({
      SLACK_API_URL: slack.url,
      SLACK_BOT_TOKEN: SLACK_TOKEN,
      SLACK_MESSAGES_PER_SECOND: '1000',
      HUBSPOT_BASE_URL: hubspot.url,
      HUBSPOT_ACCESS_TOKEN: HUBSPOT_TOKEN,
      ACTION_TIMEOUT: '2s',
    });
    for (let index = 0; index < count; index += 1) {
      const connection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
      connections.push(connection);
      const workerRunners = Object.fromEntries(
        Object.entries(actionRegistry).map(([name, action]) => [name, action.connect({ config, redis, keyPrefix: prefix, logger: captured.logger, now: Date.now })]),
      ) as Record<ActionName, ActionRunner<unknown>>;
      runners.push(workerRunners);
      workers.push(
        startActionsWorker({
          connection,
          state: redis,
          prefix,
          runners: workerRunners,
          retryPolicy: fastRetriesForTests,
          actionTimeoutMs: config.actionTimeoutMs,
          completionTtlMs: 60_000,
          logger: captured.logger,
          metrics,
          pauseProbeIntervalMs: PROBE_INTERVAL_MS,
          pauseLogIntervalMs,
        }),
      );
    }
  };

  const addJob = (jobId: string, action: ActionName, params: Record<string, unknown>) =>
    actions.add(
      action,
      {
        action,
        params,
        provenance: { eventId: 'firstpromoter-1', ruleId: 'rule-a', ruleFile: 'rules/a.yaml', ruleFileHash: 'f'.repeat(64), actionIndex: 0 },
        eventType: 'firstpromoter.lead_signup',
        eventReceivedAt: new Date().toISOString(),
        backoffBaseMs: 20,
      },
      // Three fast attempts: spending them would dead-letter the jobs within a second.
      { jobId, attempts: fastRetriesForTests.attempts, backoff: { type: ACTION_BACKOFF_TYPE } },
    );

  const states = async (ids: readonly string[]) => Promise.all(ids.map((id) => actions.getJobState(id)));
  const logLines = (pattern: RegExp) => captured.lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((line) => pattern.test(line.msg));

  const startReadyzServer = async () => {
    const app = express();
    app.use(createOperationalRouter({ metrics, readinessChecks: [checkIntegrationsRunning(redis, prefix, ['slack', 'hubspot'])] }));
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  beforeEach(async () => {
    prefix = randomPrefix('pause');
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    connections = [];
    workers = [];
    runners = [];
    actions = new Queue(ACTIONS_QUEUE, { connection: redis, prefix });
    slack = await startSlackFake({ token: SLACK_TOKEN });
    hubspot = await startHubspotFake({ token: HUBSPOT_TOKEN });
    metrics = new BridgeMetrics();
    captured = captureLogger();
  });

  afterEach(async () => {
    await Promise.all(workers.map((worker) => worker.close()));
    await Promise.all(runners.flatMap((set) => Object.values(set).map((runner) => runner.close?.())));
    if (server) await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    await actions.close();
    await Promise.all([slack.close(), hubspot.close()]);
    await deleteKeys(redis, prefix);
    for (const connection of connections) connection.disconnect();
    redis.disconnect();
  });

  it('Slack token_revoked: jobs wait unspent, /readyz and the metric say slack: paused, one log line; the token fixed, a probe resumes and every job completes', async () => {
    // The operator's token was revoked: Slack answers token_revoked to every method, auth.test included.
    slack.setToken('xoxb-the-new-token-nobody-configured-yet', 'token_revoked');
    startWorkers(2);
    const readyz = await startReadyzServer();
    const ids = ['job-1', 'job-2', 'job-3', 'job-4', 'job-5'];
    for (const id of ids) await addJob(id, 'slack.post_message', { channel: `#ops-${id}`, text: `alert ${id}` });

    await waitFor(async () => (await readPause(redis, prefix, 'slack'))?.reason === 'token_revoked');
    // Several probe intervals: with attempts spent, three fast attempts would have dead-lettered every job.
    await new Promise((resolve) => setTimeout(resolve, 5 * PROBE_INTERVAL_MS));
    expect(await states(ids)).to.satisfy((all: string[]) => all.every((state) => state === 'delayed' || state === 'waiting' || state === 'active'));
    for (const id of ids) expect((await actions.getJob(id))!.attemptsMade, id).to.equal(0);
    expect(slack.received).to.have.length(0);
    // Only the jobs already in flight when the first answer came reached chat.postMessage; the
    // rest waited. auth.test ran at most once per interval across both workers.
    const posts = slack.requests.filter((request) => request.path === '/api/chat.postMessage').length;
    expect(posts).to.be.within(1, ids.length);
    const elapsedIntervals = (Date.now() - (await readPause(redis, prefix, 'slack'))!.since) / PROBE_INTERVAL_MS;
    expect(slack.authTests()).to.be.within(1, Math.ceil(elapsedIntervals) + 1);

    const notReady = await fetch(`${readyz}/readyz`);
    expect(notReady.status).to.equal(503);
    expect(await notReady.json()).to.deep.equal({ status: 'not_ready', reasons: ['slack: paused (token_revoked)'] });
    const metricsText = await metrics.registry.metrics();
    expect(metricsText).to.contain('bridge_integration_paused{integration="slack",reason="token_revoked"} 1');
    const overview = await loadOverview(new BridgeOperations(redis, prefix), new Date(), ['slack', 'hubspot']);
    expect(overview.integrations.map((status) => status.summary)).to.deep.equal(['slack: paused (token_revoked)', 'hubspot: running']);
    const page = renderDashboardPage({ overview, failed: [], quarantined: [], recent: [], lookup: null });
    expect(page).to.match(/<li class="alert" data-integration="slack" data-state="paused">slack: paused \(token_revoked\)/);
    expect(page).to.contain('<li data-integration="hubspot" data-state="running">hubspot: running</li>');

    // One line when the pause began, whatever the number of jobs, workers and probes.
    expect(logLines(/^slack: paused/)).to.have.length(1);
    expect(logLines(/^slack: paused/)[0].level).to.equal(50);
    expect(captured.lines.join('\n')).not.to.include(SLACK_TOKEN);

    // The operator fixes the token: the next probe resumes, and every job goes out once.
    slack.setToken(SLACK_TOKEN);
    await waitFor(async () => (await states(ids)).every((state) => state === 'completed'), 15_000);
    expect(await redis.exists(pauseKey(prefix, 'slack'))).to.equal(0);
    expect([...slack.countByText().values()]).to.deep.equal([1, 1, 1, 1, 1]);
    // The successful attempt is the only one counted.
    for (const id of ids) expect((await actions.getJob(id))!.attemptsMade, id).to.equal(1);
    expect(logLines(/slack: resumed/)).to.have.length(1);

    const ready = await fetch(`${readyz}/readyz`);
    expect(ready.status).to.equal(200);
    const after = await metrics.registry.metrics();
    expect(after).to.contain('bridge_integration_paused{integration="slack",reason=""} 0');
    expect(after).not.to.contain('reason="token_revoked"');
    expect(after).to.contain('bridge_actions_total{action="slack.post_message",outcome="paused"}');
  });

  it('a pause ends by itself once the token works, with no job waiting (the probe timer), and logs at most one line a minute', async () => {
    slack.setToken('xoxb-rotated', 'invalid_auth');
    startWorkers(2);
    await addJob('lone', 'slack.post_message', { channel: '#ops', text: 'lone alert' });
    await waitFor(async () => (await readPause(redis, prefix, 'slack'))?.reason === 'invalid_auth');
    await actions.remove('lone');
    await new Promise((resolve) => setTimeout(resolve, 4 * PROBE_INTERVAL_MS));
    expect(slack.authTests()).to.be.at.least(1);
    expect(await redis.exists(pauseKey(prefix, 'slack'))).to.equal(1);
    slack.setToken(SLACK_TOKEN);
    await waitFor(async () => (await redis.exists(pauseKey(prefix, 'slack'))) === 0, 5_000);
    expect(logLines(/^slack: paused/)).to.have.length(1);
  });

  it('while jobs wait, "still paused" comes once per log interval across all workers, not once per job', async () => {
    const logIntervalMs = 500;
    slack.setToken('xoxb-rotated', 'account_inactive');
    startWorkers(2, logIntervalMs);
    const ids = Array.from({ length: 20 }, (_, index) => `many-${index}`);
    for (const id of ids) await addJob(id, 'slack.post_message', { channel: `#c${id}`, text: id });
    await waitFor(async () => (await readPause(redis, prefix, 'slack'))?.reason === 'account_inactive');
    const since = (await readPause(redis, prefix, 'slack'))!.since;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const elapsed = Date.now() - since;
    const lines = logLines(/^slack: paused \(account_inactive\)/);
    // The start (error) and then at most one warning per interval, while 20 jobs came back ~6 times each.
    expect(lines.filter((line) => line.level === 50)).to.have.length(1);
    expect(lines.filter((line) => line.level === 40).length).to.be.within(1, Math.ceil(elapsed / logIntervalMs) + 1);
    expect(lines.length).to.be.below(ids.length);
  });

  it('an integration whose runner declares no probe: on its probe turn one job runs as the probe, and its success resumes the rest', async () => {
    let isRefused = true;
    const calls: string[] = [];
    const toy: ActionRunner<unknown> = {
      async execute(params) {
        calls.push((params as { id: string }).id);
        if (isRefused) throw new IntegrationPausedError('token_refused', 'the toy API refused the token');
        return { outcome: 'succeeded' };
      },
    };
    const connection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    connections.push(connection);
    workers.push(
      startActionsWorker({
        connection, state: redis, prefix, runners: { 'toy.do_thing': toy }, retryPolicy: fastRetriesForTests, actionTimeoutMs: 2_000,
        completionTtlMs: 60_000, logger: captured.logger, metrics, pauseProbeIntervalMs: PROBE_INTERVAL_MS,
      }),
    );
    const ids = ['t1', 't2', 't3'];
    for (const id of ids) await addJob(id, 'toy.do_thing', { id });
    await waitFor(async () => (await readPause(redis, prefix, 'toy'))?.reason === 'token_refused');
    await new Promise((resolve) => setTimeout(resolve, 3 * PROBE_INTERVAL_MS));
    for (const id of ids) expect((await actions.getJob(id))!.attemptsMade, id).to.equal(0);
    const callsWhilePaused = calls.length;
    // At most the first wave plus one probe job per interval.
    expect(callsWhilePaused).to.be.at.most(ids.length + 4);
    isRefused = false;
    await waitFor(async () => (await states(ids)).every((state) => state === 'completed'), 10_000);
    expect(await redis.exists(pauseKey(prefix, 'toy'))).to.equal(0);
    expect(logLines(/^toy: resumed/)).to.have.length(1);
  });

  it('HubSpot 401: pauses (unauthorized) instead of dead-lettering; the token fixed, the probe (a property read) resumes and the contact is written', async () => {
    hubspot.setToken('pat-na1-someone-elses-token');
    startWorkers(1);
    await addJob('contact-1', 'hubspot.upsert_contact', { email: 'lead@example.com', properties: { firstname: 'Lee' } });
    await waitFor(async () => (await readPause(redis, prefix, 'hubspot'))?.reason === 'unauthorized');
    await new Promise((resolve) => setTimeout(resolve, 4 * PROBE_INTERVAL_MS));
    expect(await actions.getJobState('contact-1')).to.be.oneOf(['delayed', 'waiting', 'active']);
    expect((await actions.getJob('contact-1'))!.attemptsMade).to.equal(0);
    const probes = hubspot.calls.filter((call) => call.method === 'GET' && call.path === '/crm/v3/properties/contacts/email');
    expect(probes.length).to.be.at.least(1);
    expect(probes.every((call) => call.status === 401)).to.equal(true);
    expect(await metrics.registry.metrics()).to.contain('bridge_integration_paused{integration="hubspot",reason="unauthorized"} 1');

    hubspot.setToken(HUBSPOT_TOKEN);
    await waitFor(async () => (await actions.getJobState('contact-1')) === 'completed', 10_000);
    expect(hubspot.contacts.get('lead@example.com')).to.include({ firstname: 'Lee' });
    expect(await redis.exists(pauseKey(prefix, 'hubspot'))).to.equal(0);
  });
});
