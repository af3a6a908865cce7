import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { FirstPromoterSender } from '../fakes/firstpromoter-fake.js';
import { startHubspotFake, type HubspotFake } from '../fakes/hubspot-fake.js';
import { startSlackFake, type SlackFake } from '../fakes/slack-fake.js';
import { BridgeProcess, runCli } from '../support/bridge-process.js';
import { postFirstPromoter, postRewardful, readJson, TEST_FIRSTPROMOTER_TOKEN, TEST_REWARDFUL_SECRET } from '../support/intake-app.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../support/redis.js';
import { dumpAllValues } from '../support/redis-dump.js';
import { bridgeTestEnv } from '../support/bridge-env.js';

const SLACK_TOKEN = 'xoxb-e2e-slack-token-4f9a8b7c6d5e';
const HUBSPOT_TOKEN = 'pat-e2e-hubspot-token-1a2b3c4d5e6f';
const fixturePath = (name: string) => new URL(`../fixtures/deliveries/${name}`, import.meta.url);
const readFixture = async (name: string) => JSON.parse(await readFile(fixturePath(name), 'utf8'));

/** One extra rule beside the shipped ones: a suspicious lead also goes to a channel that does not exist, and to HubSpot. */
const EXTRA_RULES = `rules:
  - id: e2e-suspicious-lead-crm
    on: firstpromoter.lead_signup
    if: data.suspicion != "no_suspicion"
    do:
      - slack.post_message:
          channel: "#gone"
          text: "lead {{ data.email }}"
      - hubspot.upsert_contact:
          email: "{{ data.email }}"
          properties:
            affiliate_suspicion: "{{ data.suspicion }}"
`;

describe('affiliate-bridge end to end (real process, real Redis, fake Slack and HubSpot)', function () {
  this.timeout(60_000);
  let slack: SlackFake;
  let hubspot: HubspotFake;
  let bridge: BridgeProcess;
  let rulesDir: string;
  let env: Record<string, string>;
  let redis: Redis;
  const prefix = randomPrefix('e2e');
  const missingChannels = ['#gone'];

  before(async () => {
    slack = await startSlackFake({ token: SLACK_TOKEN, missingChannels });
    hubspot = await startHubspotFake({ token: HUBSPOT_TOKEN });
    rulesDir = await mkdtemp(path.join(tmpdir(), 'bridge-e2e-rules-'));
    await cp(new URL('../../rules/', import.meta.url), rulesDir, { recursive: true });
    await writeFile(path.join(rulesDir, 'e2e-extra.yaml'), EXTRA_RULES);
    redis = new Redis(SHARED_REDIS_URL);
    env = bridgeTestEnv({
      prefix,
      rulesDir,
      slack: { url: slack.url, token: SLACK_TOKEN },
      hubspot: { url: hubspot.url, token: HUBSPOT_TOKEN },
      extra: { ACTION_ATTEMPTS: '3' },
    });
  });

  after(async () => {
    await bridge?.stop();
    await slack?.close();
    await hubspot?.close();
    await rm(rulesDir, { recursive: true, force: true });
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('hubspot setup-properties creates the custom properties the rules use (dry run creates nothing)', async () => {
    const dryRun = await runCli(['hubspot', 'setup-properties', '--dry-run'], env);
    expect(dryRun.code, dryRun.stderr).to.equal(0);
    expect(dryRun.stdout).to.match(/Would create: .*affiliate_status/);
    expect(hubspot.properties.has('affiliate_status')).to.equal(false);

    const real = await runCli(['hubspot', 'setup-properties'], env);
    expect(real.code, real.stderr).to.equal(0);
    for (const name of ['affiliate_status', 'affiliate_suspicion']) {
      expect(hubspot.properties.get(name)?.groupName).to.equal('affiliate');
    }
  });

  it('starts and is ready', async () => {
    bridge = await BridgeProcess.start({ env });
    expect((await fetch(`${bridge.baseUrl}/healthz`)).status).to.equal(200);
    await waitFor(async () => (await fetch(`${bridge.baseUrl}/readyz`)).status === 200);
  });

  it('reward_created → one Slack message in #affiliates with the amount as money; a duplicate delivery adds none', async () => {
    const body = JSON.stringify(await readFixture('firstpromoter/reward_created.json'));
    expect((await postFirstPromoter(bridge.baseUrl, body)).status).to.equal(202);
    const again = await postFirstPromoter(bridge.baseUrl, body);
    expect((await readJson(again)).outcome).to.equal('duplicate');
    const message = await waitFor(() => slack.received.find((m) => m.channel === '#affiliates'));
    expect(message.text).to.contain('$2.00');
    expect(message.text).to.contain('promoter@example.com');
    expect(message.token).to.equal(SLACK_TOKEN);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(slack.received.filter((m) => m.channel === '#affiliates')).to.have.length(1);
  });

  it('events trace: with a Slack token the sent message reads completed (not dry-run)', async () => {
    const statusOf = async () => {
      const { stdout } = await runCli(['events', 'trace', 'firstpromoter-22737431', '--json'], env);
      const actions = (JSON.parse(stdout) as { actions: Array<{ jobId: string; state: string; status: string }> }).actions;
      return actions.find((action) => action.jobId === 'firstpromoter-22737431.reward-approved.0');
    };
    const action = await waitFor(async () => {
      const found = await statusOf();
      return found?.state === 'completed' ? found : undefined;
    });
    expect(action.status).to.equal('completed');
    const { stdout } = await runCli(['events', 'trace', 'firstpromoter-22737431'], env);
    expect(stdout).to.contain('action firstpromoter-22737431.reward-approved.0: completed after 1 attempt(s)\n');
  });

  it('promoter_signed_up and promoter_accepted → HubSpot contacts with affiliate properties', async () => {
    for (const name of ['promoter_signed_up', 'promoter_accepted']) {
      const response = await postFirstPromoter(bridge.baseUrl, JSON.stringify(await readFixture(`firstpromoter/${name}.json`)));
      expect(response.status).to.equal(202);
    }
    const signedUp = await waitFor(() => hubspot.contacts.get('newaffiliate@example.com'));
    expect(signedUp).to.include({ firstname: 'Jane', lastname: 'Smith' });
    expect(signedUp.affiliate_status).to.be.a('string').and.not.equal('');
    const accepted = await waitFor(() => hubspot.contacts.get('promoter@example.com'));
    expect(accepted.affiliate_status).to.be.a('string').and.not.equal('');
  });

  it('rewardful referral.converted → the customer becomes a HubSpot customer', async () => {
    const delivery = await readFixture('rewardful/referral.converted.json');
    delivery.object.customer.email = 'fred.durst@example.com';
    const body = JSON.stringify(delivery);
    expect((await postRewardful(bridge.baseUrl, body)).status).to.equal(200);
    const contact = await waitFor(() => hubspot.contacts.get('fred.durst@example.com'));
    expect(contact.lifecyclestage).to.equal('customer');
  });

  it('a suspicious lead: the fraud alert and the HubSpot upsert are done although the #gone message fails permanently', async () => {
    const delivery = await readFixture('firstpromoter/lead_signup.json');
    delivery.event.id = 99_000_001;
    delivery.data.suspicion = 'self_referral';
    delivery.data.email = 'Suspicious.Lead+1@Example.com';
    expect((await postFirstPromoter(bridge.baseUrl, JSON.stringify(delivery))).status).to.equal(202);

    const alert = await waitFor(() => slack.received.find((m) => m.channel === '#affiliate-fraud'));
    expect(alert.text).to.contain('Suspicious.Lead+1@Example.com');
    // Block Kit (issue 12, point 9): the compact layout, `text` kept as the notification fallback.
    const [section, context] = alert.blocks as Array<{ type: string; text?: { text: string }; accessory?: { type: string; url: string }; elements?: Array<{ text: string }> }>;
    expect(section.text!.text).to.equal(':warning: *Possible self referral*: lead Suspicious.Lead+1@Example.com');
    expect(section.accessory).to.include({ type: 'button', url: 'https://app.firstpromoter.com/promoters/3920164' });
    expect(context.type).to.equal('context');
    expect(context.elements![0].text).to.equal('Referred by promoter@example.com · campaign Main Campaign · 2024-10-03 13:45 UTC');
    const contact = await waitFor(() => hubspot.contacts.get('suspicious.lead+1@example.com'));
    expect(contact.affiliate_suspicion).to.equal('self_referral');

    const failed = await waitFor(async () => {
      const listed = await runCli(['actions', 'failed', '--json'], env);
      const entries = JSON.parse(listed.stdout) as Array<{ jobId: string; error: string; attemptsMade: number; ruleId: string }>;
      return entries.find((entry) => entry.ruleId === 'e2e-suspicious-lead-crm');
    });
    expect(failed.error).to.match(/^channel_not_found/);
    expect(failed.attemptsMade).to.equal(1);

    const trace = await runCli(['events', 'trace', 'firstpromoter-99000001'], env);
    expect(trace.code, trace.stderr).to.equal(0);
    expect(trace.stdout).to.contain('matched     suspicious-lead-alert');
    expect(trace.stdout).to.contain('matched     e2e-suspicious-lead-crm');

    // The channel is created; retrying the dead letter delivers it.
    missingChannels.length = 0;
    const retried = await runCli(['actions', 'retry', failed.jobId], env);
    expect(retried.code, retried.stderr).to.equal(0);
    const late = await waitFor(() => slack.received.find((m) => m.channel === '#gone'));
    expect(late.text).to.equal('lead Suspicious.Lead+1@Example.com');
  });

  it('replays an event with the current rules', async () => {
    const before = slack.received.filter((m) => m.channel === '#affiliate-fraud').length;
    const replay = await runCli(['events', 'replay', 'firstpromoter-99000001'], env);
    expect(replay.code, replay.stderr).to.equal(0);
    await waitFor(() => slack.received.filter((m) => m.channel === '#affiliate-fraud').length === before + 1);
  });

  it('fulfilment_pending re-sent for the same reward: one Slack alert; the repeat is traced as suppressed (once_per), and a replay sends it', async () => {
    const sender = new FirstPromoterSender(`${bridge.baseUrl}/webhooks/firstpromoter?token=${TEST_FIRSTPROMOTER_TOKEN}`);
    const reward = { ...(await readFixture('firstpromoter/fulfilment_pending.json')).data, campaign: sender.campaign() };
    const isAlert = (m: { channel?: string; text?: string }) => m.channel === '#affiliates' && (m.text ?? '').includes('Reward to fulfil');
    // Two fulfilment checks: FirstPromoter sends a new event id each time, for the same reward.
    const first = await sender.sendFulfilmentPending(reward);
    expect(first).to.deep.include({ statuses: [202], state: 'pending' });
    const alert = await waitFor(() => slack.received.find(isAlert));
    expect(alert.text).to.contain('Mark reward 2429153 fulfilled');
    const second = await sender.sendFulfilmentPending(reward);
    const firstId = `firstpromoter-${(first.body.event as { id: number }).id}`;
    const secondId = `firstpromoter-${(second.body.event as { id: number }).id}`;
    const trace = await waitFor(async () => {
      const shown = await runCli(['events', 'trace', secondId], env);
      return shown.code === 0 && shown.stdout.includes('suppressed') ? shown : undefined;
    });
    expect(trace.stdout).to.contain(
      `  suppressed  reward-to-fulfil slack.post_message: throttle key "2429153" is held by ${firstId} (see: affiliate-bridge events trace ${firstId})`,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(slack.received.filter(isAlert)).to.have.length(1);

    // A replay ignores once_per: the operator asked for the event to run again.
    const replay = await runCli(['events', 'replay', secondId], env);
    expect(replay.code, replay.stderr).to.equal(0);
    await waitFor(() => slack.received.filter(isAlert).length === 2);
  });

  it('keeps no credential in Redis: webhook token, signing secret, Slack and HubSpot tokens', async () => {
    // FirstPromoter echoes the receiving URL, token included, as default_webhook_url (see the
    // FirstPromoter fake): one delivery carries it, as a real one would.
    const echoing = await readFixture('firstpromoter/lead_signup.json');
    echoing.event.id = 99_000_777;
    echoing.data.default_webhook_url = `${bridge.baseUrl}/webhooks/firstpromoter?token=${TEST_FIRSTPROMOTER_TOKEN}`;
    expect((await postFirstPromoter(bridge.baseUrl, JSON.stringify(echoing))).status).to.equal(202);
    await waitFor(async () => (await runCli(['events', 'trace', 'firstpromoter-99000777', '--json'], env)).code === 0);

    const everything = await dumpAllValues(redis, prefix);
    // The scan reads what the run stored: events, action jobs and results, traces, integration state.
    expect(everything).to.contain('promoter@example.com');
    expect(everything).to.contain('firstpromoter-99000777');
    for (const secret of [SLACK_TOKEN, HUBSPOT_TOKEN, TEST_FIRSTPROMOTER_TOKEN, TEST_REWARDFUL_SECRET]) {
      expect(everything, 'a credential is stored in Redis').not.to.contain(secret);
    }
  });

  it('never prints a token, and exits 0 on SIGTERM', async () => {
    expect(await bridge.stop('SIGTERM')).to.equal(0);
    const output = bridge.output();
    expect(output).to.contain('webhook stored');
    for (const secret of [SLACK_TOKEN, HUBSPOT_TOKEN, TEST_FIRSTPROMOTER_TOKEN, TEST_REWARDFUL_SECRET]) {
      expect(output).not.to.contain(secret);
    }
  });
});
