import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { startSlackFake, type SlackFake } from '../fakes/slack-fake.js';
import { bridgeTestEnv } from '../support/bridge-env.js';
import { BridgeProcess, runCli } from '../support/bridge-process.js';
import { postFirstPromoter } from '../support/intake-app.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../support/redis.js';

const SLACK_TOKEN = 'xoxb-e2e-threads-token-8c7d6e5f4a3b';
const CHANNEL_ID = 'C0JOURNEY1';

/** One thread per lead: the root shows the lead's current state, the thread keeps the history. */
const RULES = `rules:
  - id: lead-journey
    on: firstpromoter.lead_signup
    do:
      - slack.post_message:
          channel: "#lead-journey"
          text: "Lead {{ data.email }}: {{ data.state }}"
          thread_key: "{{ data.email }}"
          reply_broadcast: true
          root_text: "Lead {{ data.email }} now {{ data.state }}"
`;

const fixture = new URL('../fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url);

/**
 * Issue 12, points 1 and 3–5, end to end: the real process (`start`), the real Redis, the fake
 * Slack with the history scopes. Every message names its job in metadata; one lead's events form
 * one thread whose root is edited to the latest state; a deleted root starts a new thread.
 */
describe('Slack threads and exactly-once metadata end to end (real process)', function () {
  this.timeout(60_000);
  let slack: SlackFake;
  let bridge: BridgeProcess;
  let rulesDir: string;
  let env: Record<string, string>;
  let redis: Redis;
  const prefix = randomPrefix('e2e-threads');
  let nextEventId = 88_000_001;

  before(async () => {
    slack = await startSlackFake({
      token: SLACK_TOKEN,
      scopes: ['chat:write', 'channels:read', 'channels:history'],
      channels: [{ id: CHANNEL_ID, name: 'lead-journey' }],
    });
    rulesDir = await mkdtemp(path.join(tmpdir(), 'bridge-e2e-threads-'));
    await writeFile(path.join(rulesDir, 'journey.yaml'), RULES);
    redis = new Redis(SHARED_REDIS_URL);
    env = bridgeTestEnv({ prefix, rulesDir, slack: { url: slack.url, token: SLACK_TOKEN }, extra: { SLACK_THREAD_TTL: '2d' } });
    bridge = await BridgeProcess.start({ env });
  });

  after(async () => {
    await bridge?.stop();
    await slack?.close();
    await rm(rulesDir, { recursive: true, force: true });
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  /** Sends one lead_signup for `email` in `state` and waits for its message. */
  async function sendLead(email: string, state: string): Promise<{ eventId: string; message: SlackFake['received'][number] }> {
    const delivery = JSON.parse(await readFile(fixture, 'utf8'));
    delivery.event.id = nextEventId++;
    delivery.data.email = email;
    delivery.data.state = state;
    expect((await postFirstPromoter(bridge.baseUrl, JSON.stringify(delivery))).status).to.equal(202);
    const text = `Lead ${email}: ${state}`;
    const message = await waitFor(() => slack.received.find((candidate) => candidate.text === text));
    return { eventId: `firstpromoter-${delivery.event.id}`, message };
  }

  it('start-up finds the history scopes: no warning', async () => {
    await waitFor(() => slack.requests.some((request) => request.path === '/api/auth.test'));
    expect(bridge.output()).not.to.contain('lacks channels:history');
  });

  it('one lead, three events: one root, two broadcast replies in its thread, the root edited to the latest state; every message names its job', async () => {
    const signup = await sendLead('jane@example.com', 'signup');
    const active = await sendLead('jane@example.com', 'active');
    const cancelled = await sendLead('jane@example.com', 'cancelled');
    expect(signup.message.thread_ts).to.equal(undefined);
    expect([active.message.thread_ts, cancelled.message.thread_ts]).to.deep.equal([signup.message.ts, signup.message.ts]);
    expect([active.message.reply_broadcast, cancelled.message.reply_broadcast]).to.deep.equal([true, true]);
    await waitFor(() => slack.currentText(CHANNEL_ID, signup.message.ts) === 'Lead jane@example.com now cancelled');
    for (const { eventId, message } of [signup, active, cancelled]) {
      expect(message.metadata).to.deep.equal({ event_type: 'affiliate_bridge', event_payload: { job_id: `${eventId}.lead-journey.0` } });
    }
    // Another lead is another thread.
    const other = await sendLead('joe@example.com', 'signup');
    expect(other.message.thread_ts).to.equal(undefined);
  });

  it('a root deleted in Slack: the next event starts a new thread, and the action succeeds', async () => {
    const first = await sendLead('gone@example.com', 'signup');
    slack.deleteMessage(CHANNEL_ID, first.message.ts);
    const next = await sendLead('gone@example.com', 'active');
    expect(next.message.thread_ts, 'a new root').to.equal(undefined);
    const trace = await waitFor(async () => {
      const shown = await runCli(['events', 'trace', next.eventId, '--json'], env);
      const actions = (JSON.parse(shown.stdout) as { actions: Array<{ state: string; result?: { detail?: Record<string, unknown> } }> }).actions;
      return actions[0]?.state === 'completed' ? actions[0] : undefined;
    });
    expect(trace.result?.detail).to.deep.include({ thread: 'root', newThreadBecause: 'thread_not_found' });
    const reply = await sendLead('gone@example.com', 'cancelled');
    expect(reply.message.thread_ts).to.equal(next.message.ts);
  });

  it('simulate shows the thread options and what they will do', async () => {
    const { code, stdout } = await runCli(['simulate', fileURLToPath(fixture), '--rules', rulesDir]);
    expect(code).to.equal(0);
    expect(stdout).to.contain('thread_key: goqucugo@mailinator.com');
    expect(stdout).to.contain(
      'note: thread_key "goqucugo@mailinator.com": the first message of this key in #lead-journey starts a thread (kept SLACK_THREAD_TTL), later ones reply in it; simulate reads no Redis, so it cannot say which this one is',
    );
    expect(stdout).to.contain('note: root_text: as a reply, it then edits the thread\'s root to "Lead goqucugo@mailinator.com now signup"');
  });

  it('a token without the history scopes: one start-up warning that a retry of unknown outcome may post twice', async () => {
    const noHistory = await startSlackFake({ token: SLACK_TOKEN, scopes: ['chat:write'] });
    const otherPrefix = randomPrefix('e2e-threads-noscope');
    const worker = await BridgeProcess.start({ role: 'worker', env: { ...env, QUEUE_PREFIX: otherPrefix, SLACK_API_URL: noHistory.url } });
    try {
      await waitFor(() => worker.output().includes('lacks channels:history'));
      expect(worker.logs.filter((line) => String(line.msg).includes('lacks channels:history'))).to.have.length(1);
    } finally {
      await worker.stop();
      await noHistory.close();
      await deleteKeys(redis, otherPrefix);
    }
  });
});
