import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { startSlackFake, type SlackFake } from '../fakes/slack-fake.js';
import { readDocumentedOpsRule } from '../support/bridge-events.js';
import { bridgeTestEnv } from '../support/bridge-env.js';
import { BridgeProcess, runCli } from '../support/bridge-process.js';
import { postFirstPromoter, TEST_FIRSTPROMOTER_TOKEN } from '../support/intake-app.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../support/redis.js';

const SLACK_TOKEN = 'xoxb-e2e-failure-events-7d6c5b4a';

/**
 * The composition root (roles/start-workers.ts) wires the reporter into both workers: the real
 * process, a lead alert posting to a channel that does not exist, and the documented ops rule.
 */
describe('bridge.action.failed end to end (real process, real Redis, fake Slack)', function () {
  this.timeout(60_000);
  let slack: SlackFake;
  let bridge: BridgeProcess | undefined;
  let rulesDir: string;
  let redis: Redis;
  const prefix = randomPrefix('e2e-failed');

  before(async () => {
    slack = await startSlackFake({ token: SLACK_TOKEN, missingChannels: ['#gone'] });
    rulesDir = await mkdtemp(path.join(tmpdir(), 'bridge-failed-rules-'));
    await writeFile(path.join(rulesDir, 'leads.yaml'), 'rules:\n  - id: lead-alert\n    on: firstpromoter.lead_signup\n    do:\n      - slack.post_message: { channel: "#gone", text: "lead {{ data.email }}" }\n');
    await writeFile(path.join(rulesDir, 'ops.yaml'), readDocumentedOpsRule());
    redis = new Redis(SHARED_REDIS_URL);
  });

  after(async () => {
    await bridge?.stop();
    await slack?.close();
    await rm(rulesDir, { recursive: true, force: true });
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('a Slack post that fails permanently reaches #affiliate-ops with the retry command; the report is an event like any other', async () => {
    const env = bridgeTestEnv({ prefix, rulesDir, slack: { url: slack.url, token: SLACK_TOKEN } });
    bridge = await BridgeProcess.start({ env });
    const delivery = JSON.parse(await readFile(new URL('../fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));
    expect((await postFirstPromoter(bridge.baseUrl, JSON.stringify(delivery))).status).to.equal(202);
    const eventId = `firstpromoter-${delivery.event.id}`;
    const jobId = `${eventId}.lead-alert.0`;

    const message = await waitFor(() => slack.received.find((received) => received.channel === '#affiliate-ops'), 30_000);
    expect(message.text).to.match(
      new RegExp(`^slack\\.post_message of rule lead-alert failed for event ${eventId} \\(stage run, attempts: 1\\): channel_not_found: .+\\. Once fixed: affiliate-bridge actions retry ${jobId.replace(/[.]/g, '\\.')}$`),
    );

    // Traced like any event: `events trace` shows it with source bridge and the ops rule matched.
    const stored = bridge.logs.find((line) => line.msg === 'bridge.action.failed stored');
    expect(stored).to.include({ stage: 'run', deadLetterId: jobId, outcome: 'emitted' });
    const trace = await runCli(['events', 'trace', String(stored!.reportId), '--json'], env);
    expect(trace.code, trace.stderr).to.equal(0);
    const traced = JSON.parse(trace.stdout) as { event: { source: string; type: string }; runs: Array<{ matched: Array<{ ruleId: string }> }> };
    expect(traced.event).to.include({ source: 'bridge', type: 'bridge.action.failed' });
    expect(traced.runs[0].matched.map((rule) => rule.ruleId)).to.deep.equal(['action-failures-to-ops']);

    const metrics = await (await fetch(`${bridge.baseUrl}/metrics`)).text();
    expect(metrics).to.contain('bridge_failure_events_total{stage="run",outcome="emitted"} 1');
    expect(metrics).to.contain('bridge_events_total{type="bridge.action.failed",outcome="planned"} 1');
    // Nobody can deliver one: there is no webhook route for the bridge's own events.
    const posted = await fetch(`${bridge.baseUrl}/webhooks/bridge?token=${TEST_FIRSTPROMOTER_TOKEN}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(posted.status).to.equal(404);
    expect(bridge.output() + JSON.stringify(slack.received.map((received) => received.text))).not.to.contain(SLACK_TOKEN);
  });
});
