import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { startHubspotFake, type HubspotFake } from '../fakes/hubspot-fake.js';
import { startSlackFake, type SlackFake } from '../fakes/slack-fake.js';
import { BRIDGE_BIN, BridgeProcess } from '../support/bridge-process.js';
import { postFirstPromoter, postRewardful, signRewardful, TEST_FIRSTPROMOTER_TOKEN, TEST_REWARDFUL_SECRET } from '../support/intake-app.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../support/redis.js';
import { bridgeTestEnv } from '../support/bridge-env.js';

const SLACK_TOKEN = 'xoxb-logging-slack-token-3c4d5e6f7a8b';
const HUBSPOT_TOKEN = 'pat-logging-hubspot-token-9f8e7d6c5b4a';
const WRONG_TOKEN = 'wrong-token-offered-by-a-neighbour-0042';
const fixture = async (name: string) =>
  JSON.parse(await readFile(new URL(`../fixtures/deliveries/${name}`, import.meta.url), 'utf8')) as Record<string, any>;

/** The values the sources strip (`auth_token`, `temp_password`) in the seed deliveries. */
const STRIPPED_VALUES = [
  'nu9NhM6Hza-kybjZZJivC-FgMtxMrT_o',
  'VKD-uS',
  'hjsmLQwMounBWxeqQS2cMXYp8epADJmB',
  'XPQ-rT',
  'zK8mNpQwRtUvXyA2BcDeFgHiJkLmNoP',
  'RjCBDM8EkjfzzzCgpNBdV6VVLqMfttb',
];

/** A rule that tries to render the stripped fields into a message: they must come out empty. */
const PROBE_RULES = `rules:
  - id: logging-secret-probe
    on: firstpromoter.promoter_accepted
    do:
      - slack.post_message:
          channel: "#probe"
          text: "probe token={{ data.promoter.auth_token | default: 'stripped' }} pw={{ data.promoter.temp_password | default: 'stripped' }} hook={{ data.campaign.default_webhook_url }}"
`;

type LogLine = Record<string, unknown> & { msg?: string; level?: number };

describe('logs (real process at LOG_LEVEL=debug)', function () {
  this.timeout(60_000);
  let slack: SlackFake;
  let hubspot: HubspotFake;
  let rulesDir: string;
  let redis: Redis;
  let bridge: BridgeProcess | undefined;
  let ttyChild: ChildProcess | undefined;
  const prefix = randomPrefix('logging');
  let env: Record<string, string>;

  before(async () => {
    slack = await startSlackFake({ token: SLACK_TOKEN });
    hubspot = await startHubspotFake({ token: HUBSPOT_TOKEN, properties: ['affiliate_status', 'affiliate_suspicion', 'affiliate_source', 'affiliate_campaign', 'affiliate_referral_link', 'referred_by_affiliate'] });
    rulesDir = await mkdtemp(path.join(tmpdir(), 'bridge-logging-rules-'));
    await cp(new URL('../../rules/', import.meta.url), rulesDir, { recursive: true });
    await writeFile(path.join(rulesDir, 'logging-probe.yaml'), PROBE_RULES);
    redis = new Redis(SHARED_REDIS_URL);
    env = bridgeTestEnv({
      prefix,
      rulesDir,
      slack: { url: slack.url, token: SLACK_TOKEN },
      hubspot: { url: hubspot.url, token: HUBSPOT_TOKEN },
      extra: { LOG_LEVEL: 'debug' },
    });
  });

  after(async () => {
    await bridge?.stop('SIGKILL').catch(() => undefined);
    if (ttyChild && ttyChild.exitCode === null && ttyChild.signalCode === null) ttyChild.kill('SIGKILL');
    await slack?.close();
    await hubspot?.close();
    if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
    await deleteKeys(redis, prefix);
    redis?.disconnect();
  });

  it('one JSON line per webhook, event and action, tied together by eventId (and ruleId, jobId on actions); no secret in any line', async () => {
    bridge = await BridgeProcess.start({ env });
    const base = bridge.baseUrl;

    // Every way a token or signature can arrive, and the seeds' secret payload fields.
    const reward = await fixture('firstpromoter/reward_created.json');
    const signedUp = await fixture('firstpromoter/promoter_signed_up.json');
    const accepted = await fixture('firstpromoter/promoter_accepted.json');
    // FirstPromoter echoes the receiving URL, ?token= included (test/fakes/firstpromoter-fake.ts).
    accepted.data.campaign.default_webhook_url = `${base}/webhooks/firstpromoter?token=${TEST_FIRSTPROMOTER_TOKEN}`;
    const lead = await fixture('firstpromoter/lead_signup.json');
    lead.data.suspicion = 'self_referral';
    const referral = await fixture('rewardful/referral.converted.json');
    // A customer of its own, so this test's HubSpot upsert is recognisable.
    referral.object.customer.email = 'logging.customer@example.com';
    const converted = JSON.stringify(referral);
    const rewardfulSignature = signRewardful(converted);
    expect((await postFirstPromoter(base, JSON.stringify(reward), { bearer: TEST_FIRSTPROMOTER_TOKEN })).status).to.equal(202);
    expect((await postFirstPromoter(base, JSON.stringify(signedUp), { query: TEST_FIRSTPROMOTER_TOKEN })).status).to.equal(202);
    expect((await postFirstPromoter(base, JSON.stringify(accepted), { basicPassword: TEST_FIRSTPROMOTER_TOKEN })).status).to.equal(202);
    expect((await postFirstPromoter(base, JSON.stringify(lead))).status).to.equal(202);
    expect((await postRewardful(base, converted, rewardfulSignature)).status).to.equal(200);
    // Rejected credentials are not logged either.
    expect((await postFirstPromoter(base, JSON.stringify(reward), { query: WRONG_TOKEN })).status).to.equal(401);
    expect((await postFirstPromoter(base, JSON.stringify(reward), { basicPassword: WRONG_TOKEN })).status).to.equal(401);
    expect((await postRewardful(base, converted, signRewardful(converted, WRONG_TOKEN))).status).to.equal(401);

    const eventIds = ['firstpromoter-22737431', `firstpromoter-${signedUp.event.id}`, `firstpromoter-${accepted.event.id}`, `firstpromoter-${lead.event.id}`];
    const logs = () => bridge!.logs as LogLine[];
    const withMsg = (msg: string) => logs().filter((line) => line.msg === msg);
    // Wait until every planned action has its result line.
    await waitFor(() => {
      const planned = withMsg('event planned');
      if (planned.length < 5) return false;
      const jobIds = planned.flatMap((line) => line.actionJobIds as string[]);
      return jobIds.length > 0 && jobIds.every((jobId) => withMsg('action succeeded').some((line) => line.jobId === jobId));
    }, 20_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${bridge!.rawOutput.filter((line) => !line.includes('"level":20')).join('\n')}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Every line is JSON (BridgeProcess keeps non-JSON lines in rawOutput only).
    expect(bridge.rawOutput.length).to.equal(bridge.logs.length);
    for (const line of logs()) expect(line).to.include.keys('level', 'time', 'pid', 'msg');

    const stored = withMsg('webhook stored');
    const planned = withMsg('event planned');
    const succeeded = withMsg('action succeeded');
    expect(stored).to.have.length(5);
    expect(planned).to.have.length(5);
    const rewardfulEventId = stored.find((line) => line.source === 'rewardful')!.eventId as string;
    expect(rewardfulEventId).to.match(/^rewardful-/);
    const allEventIds = [...eventIds, rewardfulEventId];
    expect(stored.map((line) => line.eventId)).to.have.members(allEventIds);
    expect(planned.map((line) => line.eventId)).to.have.members(allEventIds);

    // Each action line: eventId, ruleId, jobId, one line per action job, tied to its event's plan.
    const plannedJobIds = planned.flatMap((line) => (line.actionJobIds as string[]).map((jobId) => ({ jobId, eventId: line.eventId as string })));
    expect(plannedJobIds.length).to.be.at.least(5);
    expect(succeeded).to.have.length(plannedJobIds.length);
    for (const { jobId, eventId } of plannedJobIds) {
      const lines = succeeded.filter((line) => line.jobId === jobId);
      expect(lines, jobId).to.have.length(1);
      expect(lines[0].eventId).to.equal(eventId);
      expect(lines[0].ruleId).to.be.a('string').and.not.equal('');
      expect(jobId.startsWith(`${eventId}.${lines[0].ruleId as string}.`), jobId).to.equal(true);
      expect(lines[0].action).to.be.oneOf(['slack.post_message', 'hubspot.upsert_contact']);
    }
    expect(succeeded.map((line) => line.action)).to.include.members(['slack.post_message', 'hubspot.upsert_contact']);

    // Debug lines exist (so the redaction below was tested at debug), including the 401 reasons.
    expect(logs().some((line) => line.level === 20)).to.equal(true);
    expect(withMsg('webhook rejected: unauthorized')).to.have.length(3);

    const output = bridge.output();
    const basic = (password: string) => Buffer.from(`firstpromoter:${password}`).toString('base64');
    const secrets = {
      firstpromoterToken: TEST_FIRSTPROMOTER_TOKEN,
      basicCredentials: basic(TEST_FIRSTPROMOTER_TOKEN),
      rewardfulSecret: TEST_REWARDFUL_SECRET,
      rewardfulSignature,
      slackToken: SLACK_TOKEN,
      hubspotToken: HUBSPOT_TOKEN,
      wrongToken: WRONG_TOKEN,
      wrongBasic: basic(WRONG_TOKEN),
      ...Object.fromEntries(STRIPPED_VALUES.map((value, index) => [`stripped${index}`, value])),
    };
    for (const [name, secret] of Object.entries(secrets)) expect(output.includes(secret), `${name} appears in the logs`).to.equal(false);
    // Stripped before storage: a rule cannot render them either.
    // The token inside the echoed URL is scrubbed by value before storage: a rule renders `[redacted]`.
    expect(slack.received.find((message) => message.channel === '#probe')?.text).to.equal(
      `probe token=stripped pw=stripped hook=${base}/webhooks/firstpromoter?token=[redacted]`,
    );
    expect(JSON.stringify(slack.received)).to.not.contain(TEST_FIRSTPROMOTER_TOKEN);
  });

  it('prints human-readable lines, not JSON, when stdout is a terminal (run under `script`)', async () => {
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(BRIDGE_BIN)} start`;
    ttyChild = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', ...env, LOG_LEVEL: 'info', PORT: '0', TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    ttyChild.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // eslint-disable-next-line no-control-regex
    const plain = () => output.replace(/\u001b\[[0-9;]*m/g, '').replace(/\r/g, '');
    await waitFor(() => /affiliate-bridge started/.test(plain()), 20_000);

    const lines = plain().split('\n').filter((line) => line.trim() !== '');
    const started = lines.find((line) => line.includes('affiliate-bridge started'))!;
    // pino-pretty: `[time] INFO (pid): message`
    const match = /^\[[^\]]+\] INFO \((\d+)\): affiliate-bridge started$/.exec(started);
    expect(match, started).to.not.equal(null);
    for (const line of lines) {
      expect(() => JSON.parse(line), line).to.throw();
    }
    // eslint-disable-next-line no-control-regex -- ANSI colour codes are what this test looks for
    expect(output).to.match(/\u001b\[/); // colours, as on a terminal

    // SIGTERM to the bridge itself (its pid is in the line): it exits 0, and `script` with it (-e).
    const exited = once(ttyChild, 'exit');
    process.kill(Number(match![1]), 'SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).to.equal(0);
    expect(plain()).to.contain('affiliate-bridge stopped');
  });
});
