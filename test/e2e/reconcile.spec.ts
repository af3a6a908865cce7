import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { startSlackFake, type SlackFake } from '../fakes/slack-fake.js';
import { FirstPromoterApiFake, fakeFirstPromoterReferral } from '../fakes/firstpromoter-fake.js';
import { RewardfulApiFake, fakeRewardfulCommission } from '../fakes/rewardful-fake.js';
import { bridgeTestEnv } from '../support/bridge-env.js';
import { BridgeProcess, runCli } from '../support/bridge-process.js';
import { TEST_FIRSTPROMOTER_TOKEN, TEST_REWARDFUL_SECRET } from '../support/intake-app.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../support/redis.js';

const SLACK_TOKEN = 'xoxb-reconcile-e2e';
const FP_KEY = 'fp-e2e-api-key-0123456789';
const FP_ACCOUNT = '90210';
const RW_SECRET = 'rw-e2e-api-secret-0123456789';
const ADMIN_TOKEN = 'admin-e2e-token-0123456789';

// One message per milestone; its text names the object, so a duplicate is a repeated text.
const RULES = `rules:
  - id: every-milestone
    on: [firstpromoter.referral.*, rewardful.commission.*]
    do:
      - slack.post_message: { channel: "#affiliate-ops", text: "{{ event.type }} {{ data.id }} ({{ event.origin | default: 'webhook' }})" }
`;

describe('reconciliation end to end (real process, real Redis, fake provider APIs and Slack)', function () {
  this.timeout(90_000);
  let slack: SlackFake;
  let fp: FirstPromoterApiFake;
  let rw: RewardfulApiFake;
  let rulesDir: string;
  let redis: Redis;
  let bridge: BridgeProcess | undefined;
  let prefix: string;

  const apiEnv = () => ({
    FIRSTPROMOTER_API_KEY: FP_KEY,
    FIRSTPROMOTER_ACCOUNT_ID: FP_ACCOUNT,
    FIRSTPROMOTER_API_URL: fp.url,
    REWARDFUL_API_SECRET: RW_SECRET,
    REWARDFUL_API_URL: rw.url,
  });
  const baseEnv = (extra: Record<string, string> = {}) =>
    bridgeTestEnv({ prefix, rulesDir, slack: { url: slack.url, token: SLACK_TOKEN }, extra: { ADMIN_TOKEN, ...extra } });
  const startBridge = async (extra: Record<string, string> = {}) => {
    bridge = await BridgeProcess.start({ env: baseEnv(extra) });
    fp.webhookUrl = `${bridge.baseUrl}/webhooks/firstpromoter?token=${TEST_FIRSTPROMOTER_TOKEN}`;
    rw.webhookUrl = `${bridge.baseUrl}/webhooks/rewardful`;
    return bridge;
  };
  const texts = () => slack.received.map((message) => String(message.text));
  const countOf = (text: string) => texts().filter((candidate) => candidate === text).length;

  beforeEach(async () => {
    prefix = randomPrefix('reconcile-e2e');
    slack = await startSlackFake({ token: SLACK_TOKEN });
    fp = await FirstPromoterApiFake.start({ apiKey: FP_KEY, accountId: FP_ACCOUNT });
    rw = await RewardfulApiFake.start({ apiSecret: RW_SECRET, signingSecret: TEST_REWARDFUL_SECRET });
    rulesDir = await mkdtemp(path.join(tmpdir(), 'bridge-reconcile-rules-'));
    await writeFile(path.join(rulesDir, 'ops.yaml'), RULES);
    redis = new Redis(SHARED_REDIS_URL);
  });

  afterEach(async () => {
    await bridge?.stop();
    bridge = undefined;
    await Promise.all([slack.close(), fp.close(), rw.close()]);
    await rm(rulesDir, { recursive: true, force: true });
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('`reconcile` refuses what it cannot do, with exact messages and exit 1', async () => {
    const env = baseEnv();
    const none = await runCli(['reconcile'], env);
    expect([none.code, none.stderr.trim()]).to.deep.equal([1, 'No source can be reconciled: set FIRSTPROMOTER_API_KEY and FIRSTPROMOTER_ACCOUNT_ID, or REWARDFUL_API_SECRET.']);
    const badSince = await runCli(['reconcile', '--since', 'yesterday'], env);
    expect([badSince.code, badSince.stderr.trim()]).to.deep.equal([1, '--since must be a duration such as 30m, 24h or 7d, not "yesterday"']);
    const half = await runCli(['reconcile', '--source', 'firstpromoter'], { ...env, FIRSTPROMOTER_API_KEY: FP_KEY });
    expect([half.code, half.stderr.trim()]).to.deep.equal([1, 'firstpromoter: FirstPromoter cannot be reconciled: set FIRSTPROMOTER_ACCOUNT_ID']);
    const refused = await runCli(['reconcile', '--source', 'rewardful', '--json'], { ...env, ...apiEnv(), REWARDFUL_API_SECRET: 'not-the-secret-123' });
    expect([refused.code, refused.stderr.trim(), refused.stdout.trim()]).to.deep.equal([1, 'rewardful: Rewardful API answered 401 to GET /referrals: check its API credentials', 'null']);
    expect(refused.stdout + refused.stderr).to.not.contain('not-the-secret-123');
  });

  it('the bridge is down while FirstPromoter sends; `reconcile` recovers each lost event once, a second run and a late webhook add nothing', async () => {
    // Without API credentials the bridge schedules no reconciliation, but its ledger records
    // every delivered milestone: `reconcile` by hand then knows what arrived.
    await startBridge();
    const delivered = fp.add('referrals', fakeFirstPromoterReferral());
    expect(await fp.deliver('referral.created', delivered)).to.equal(202);
    await waitFor(() => countOf(`firstpromoter.referral.created ${String(delivered.id)} (webhook)`) === 1);

    await bridge!.stop();
    const lostReferral = fp.add('referrals', fakeFirstPromoterReferral());
    const converted = fp.update('referrals', delivered.id as number, { customer_since: new Date().toISOString(), state: 'active' });
    expect(await fp.deliver('referral.created', lostReferral)).to.equal('lost');
    expect(await fp.deliver('referral.converted', converted)).to.equal('lost');

    await startBridge();
    const cliEnv = { ...baseEnv(), ...apiEnv() };
    const run = await runCli(['reconcile', '--source', 'firstpromoter', '--since', '2h', '--json'], cliEnv);
    expect(run.code, run.stderr).to.equal(0);
    expect(JSON.parse(run.stdout)).to.deep.equal({
      source: 'firstpromoter',
      checked: 2,
      missing: 2,
      synthesized: [
        { eventId: `firstpromoter-reconciled.referral.${String(delivered.id)}.converted`, type: 'firstpromoter.referral.converted', objectId: String(delivered.id) },
        { eventId: `firstpromoter-reconciled.referral.${String(lostReferral.id)}.created`, type: 'firstpromoter.referral.created', objectId: String(lostReferral.id) },
      ],
    });
    // One log line per gap, on stderr (stdout is the JSON).
    expect(run.stderr.split('\n').filter((line) => line.includes('never delivered'))).to.have.length(2);
    await waitFor(() => texts().length === 3);

    const again = await runCli(['reconcile', '--source', 'firstpromoter', '--since', '2h', '--json'], cliEnv);
    expect(JSON.parse(again.stdout)).to.deep.include({ missing: 0, synthesized: [] });

    // FirstPromoter's v2 retry of the lost delivery finally arrives: stored, not planned again.
    expect(await fp.deliver('referral.created', lostReferral)).to.equal(202);
    await waitFor(() => bridge!.logs.some((entry) => String(entry.msg).startsWith('event not planned')));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(texts().sort()).to.deep.equal(
      [
        `firstpromoter.referral.created ${String(delivered.id)} (webhook)`,
        `firstpromoter.referral.converted ${String(delivered.id)} (reconciled)`,
        `firstpromoter.referral.created ${String(lostReferral.id)} (reconciled)`,
      ].sort(),
    );
    expect([...slack.countByText().values()].every((count) => count === 1)).to.equal(true);
    // The API key never reaches the logs.
    expect(bridge!.output() + run.stderr + run.stdout).to.not.contain(FP_KEY);
  });

  it('with credentials set, the workers reconcile by themselves: the first run records a baseline, later ones recover lost events (Rewardful)', async () => {
    const before = rw.add('commissions', fakeRewardfulCommission());
    await startBridge({ ...apiEnv(), RECONCILE_INTERVAL: '1s' });
    const overview = async () => {
      const response = await fetch(`${bridge!.baseUrl}/admin/api/overview`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
      return (await response.json()) as { reconciliation: Array<{ source: string; lastSuccessAt: string | null }> };
    };
    await waitFor(async () => (await overview()).reconciliation.every((status) => status.lastSuccessAt !== null), 20_000);
    expect((await overview()).reconciliation.map((status) => status.source)).to.deep.equal(['firstpromoter', 'rewardful']);
    const page = await (await fetch(`${bridge!.baseUrl}/admin`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(page).to.match(/<li data-reconcile-source="rewardful">rewardful: last reconciled <time datetime="[^"]+">/);

    const lost = rw.add('commissions', fakeRewardfulCommission({ state: 'paid', paid_at: new Date().toISOString() }));
    expect(await rw.deliver('commission.created', lost, { lost: true })).to.equal('lost');
    expect(await rw.deliver('commission.paid', lost, { lost: true })).to.equal('lost');
    await waitFor(() => texts().length === 2, 20_000);
    expect(texts().sort()).to.deep.equal([`rewardful.commission.created ${String(lost.id)} (reconciled)`, `rewardful.commission.paid ${String(lost.id)} (reconciled)`]);
    // The baseline: the commission that existed before reconciliation was turned on is not replayed.
    expect(texts().some((text) => text.includes(String(before.id)))).to.equal(false);

    const metrics = await (await fetch(`${bridge!.baseUrl}/metrics`)).text();
    expect(metrics).to.contain('bridge_reconciled_events_total{source="rewardful",type="rewardful.commission.paid"} 1');
    expect(metrics).to.match(/bridge_reconcile_runs_total\{source="rewardful",outcome="succeeded"\} [1-9]/);
    const gaps = bridge!.logs.filter((entry) => String(entry.msg).includes('never delivered'));
    expect(gaps.map((entry) => entry.eventId).sort()).to.deep.equal([`rewardful-reconciled.commission.${String(lost.id)}.created`, `rewardful-reconciled.commission.${String(lost.id)}.paid`]);
  });
});
