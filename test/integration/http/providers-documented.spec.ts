import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { actionRegistry } from '../../../src/actions/registry.js';
import { loadConfig } from '../../../src/config/config.js';
import type { BridgeEvent } from '../../../src/events/event.js';
import type { EventJobData } from '../../../src/queue/event-intake.js';
import { compileRuleFiles } from '../../../src/rules/compile-rules.js';
import { planActions } from '../../../src/rules/plan.js';
import { applySchemaCheck } from '../../../src/sources/check-event.js';
import { firstpromoter } from '../../../src/sources/firstpromoter/index.js';
import { FirstPromoterSender, FULFILMENT_RETRIES } from '../../fakes/firstpromoter-fake.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL } from '../../support/redis.js';
import { dumpAllValues } from '../../support/redis-dump.js';
import { OwnRedisServer } from '../../support/redis-server.js';
import {
  postFirstPromoter,
  postRewardful,
  readJson,
  startIntakeApp,
  TEST_FIRSTPROMOTER_TOKEN,
  TEST_REWARDFUL_SECRET,
} from '../../support/intake-app.js';

/*
 * FirstPromoter and Rewardful as their documentation describes them (issue 15, points 11–15), through
 * the real HTTP app on real Redis. The FirstPromoter side is test/fakes/firstpromoter-fake.ts, a
 * sender that models each documented behaviour with its source.
 */

 
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../fixtures/deliveries/${name}`, import.meta.url), 'utf8')) as Record<string, any>;

/** The config the bridge would load from the environment, with both webhook secrets set. */
const configFor = (extra: Record<string, string> = {}) =>
  loadConfig({ FIRSTPROMOTER_WEBHOOK_TOKEN: TEST_FIRSTPROMOTER_TOKEN, REWARDFUL_SIGNING_SECRET: TEST_REWARDFUL_SECRET, ...extra });

describe('FirstPromoter and Rewardful as documented (real app, real Redis)', function () {
  this.timeout(30_000);
  let prefix: string;
  let redis: Redis;
  let app: Awaited<ReturnType<typeof startIntakeApp>>;
  let sender: FirstPromoterSender;

  const storedEvents = async (): Promise<BridgeEvent[]> =>
    (await app.queue.getJobs(['waiting', 'active', 'completed', 'delayed'])).filter(Boolean).map((job) => (job.data as EventJobData).event);

  const start = async (integrations?: Record<string, unknown>) => {
    app = await startIntakeApp({ redisUrl: SHARED_REDIS_URL, prefix, ...(integrations ? { integrations } : {}) });
    // FirstPromoter authenticates with the token in the URL it was given: the URL it echoes.
    sender = new FirstPromoterSender(`${app.baseUrl}/webhooks/firstpromoter?token=${TEST_FIRSTPROMOTER_TOKEN}`);
  };

  beforeEach(() => {
    prefix = randomPrefix('documented');
    redis = new Redis(SHARED_REDIS_URL);
  });

  afterEach(async () => {
    await app?.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  describe('11. a secret inside a payload is scrubbed by value before the event is stored', () => {
    beforeEach(() => start(configFor().integrations));

    it('promoter_accepted: the echoed default_webhook_url and an arbitrary string field lose the token; Redis and the logs never hold it', async () => {
      const data = fixture('firstpromoter/promoter_accepted.json').data;
      data.campaign = sender.campaign({ description: `ask ops, the hook token is ${TEST_FIRSTPROMOTER_TOKEN}.` });
      data.promoter.note = `${TEST_FIRSTPROMOTER_TOKEN}${TEST_FIRSTPROMOTER_TOKEN}`;
      data.promoter.profile.social_accounts[`x-${TEST_FIRSTPROMOTER_TOKEN}`] = { url: 'https://example.com' };
      const sent = await sender.sendClassic('promoter_accepted', data);
      expect(sent.outcome).to.equal('delivered');
      expect(sent.statuses).to.deep.equal([202]);

      const [event] = await storedEvents();
      const campaign = event!.data.campaign as Record<string, unknown>;
      expect(campaign.default_webhook_url).to.equal(`${app.baseUrl}/webhooks/firstpromoter?token=[redacted]`);
      expect(campaign.description).to.equal('ask ops, the hook token is [redacted].');
      const promoter = event!.data.promoter as { profile: { social_accounts: Record<string, unknown> }; note: string };
      expect(promoter.note).to.equal('[redacted][redacted]');
      expect(promoter.profile.social_accounts).to.have.property('x-[redacted]');
      // Every key and value of the prefix, the event job and the dedup record included.
      expect(await dumpAllValues(redis, prefix)).to.not.contain(TEST_FIRSTPROMOTER_TOKEN);
      expect(app.logText()).to.contain('webhook stored');
      expect(app.logText()).to.not.contain(TEST_FIRSTPROMOTER_TOKEN);
    });

    it('fulfilment_pending: the campaign it carries loses the token too', async () => {
      const data = { ...fixture('firstpromoter/reward_created.json').data, status: 'pending', unit: 'free_months', campaign: sender.campaign() };
      const sent = await sender.sendFulfilmentPending(data);
      expect(sent.statuses).to.deep.equal([202]);
      const [event] = await storedEvents();
      expect((event!.data.campaign as Record<string, unknown>).default_webhook_url).to.equal(`${app.baseUrl}/webhooks/firstpromoter?token=[redacted]`);
      expect(await dumpAllValues(redis, prefix)).to.not.contain(TEST_FIRSTPROMOTER_TOKEN);
      expect(app.logText()).to.not.contain(TEST_FIRSTPROMOTER_TOKEN);
    });

    it("every source's secret, whichever source delivers: Rewardful's secret in a FirstPromoter payload, FirstPromoter's in a Rewardful one", async () => {
      const lead = fixture('firstpromoter/lead_signup.json');
      lead.data.plan_name = `plan ${TEST_REWARDFUL_SECRET}`;
      expect((await postFirstPromoter(app.baseUrl, JSON.stringify(lead))).status).to.equal(202);
      const referral = fixture('rewardful/referral.converted.json');
      referral.object.customer.name = `see ${TEST_FIRSTPROMOTER_TOKEN}`;
      referral.request.note = [TEST_REWARDFUL_SECRET];
      expect((await postRewardful(app.baseUrl, JSON.stringify(referral))).status).to.equal(200);

      const events = await storedEvents();
      const bySource = Object.fromEntries(events.map((event) => [event.source, event]));
      expect(bySource.firstpromoter!.data.plan_name).to.equal('plan [redacted]');
      expect((bySource.rewardful!.data.customer as Record<string, unknown>).name).to.equal('see [redacted]');
      expect(bySource.rewardful!.envelope).to.deep.include({ request: { id: referral.request.id, note: ['[redacted]'] } });
      const stored = await dumpAllValues(redis, prefix);
      expect(stored).to.not.contain(TEST_FIRSTPROMOTER_TOKEN);
      expect(stored).to.not.contain(TEST_REWARDFUL_SECRET);
      expect(app.logText()).to.not.contain(TEST_REWARDFUL_SECRET);
    });

    it('an event id holding the token is refused with 400 naming the field, not the value; nothing is stored', async () => {
      const body = { event_id: `evt-${TEST_FIRSTPROMOTER_TOKEN}`, event_type: 'referral.created', data: { id: 1 }, timestamp: '2025-01-18T09:00:01Z' };
      const response = await postFirstPromoter(app.baseUrl, JSON.stringify(body));
      expect(response.status).to.equal(400);
      expect(await readJson(response)).to.deep.equal({ error: 'Body is not a FirstPromoter webhook: event_id holds a configured secret' });
      expect(await storedEvents()).to.have.length(0);
      expect(await dumpAllValues(redis, prefix)).to.not.contain(TEST_FIRSTPROMOTER_TOKEN);
      expect(app.logText()).to.not.contain(TEST_FIRSTPROMOTER_TOKEN);
    });

    it('without the config (only the webhook secrets given), the webhook secrets are still scrubbed', async () => {
      await app.close();
      await start();
      const data = fixture('firstpromoter/promoter_accepted.json').data;
      data.campaign = sender.campaign();
      expect((await sender.sendClassic('promoter_accepted', data)).outcome).to.equal('delivered');
      expect(await dumpAllValues(redis, prefix)).to.not.contain(TEST_FIRSTPROMOTER_TOKEN);
    });
  });

  describe('13. the answer to fulfilment_pending (FIRSTPROMOTER_FULFILMENT_ANSWER)', () => {
    const fulfilmentData = () => ({ ...fixture('firstpromoter/reward_created.json').data, status: 'pending', unit: 'free_months' });

    it('pending (the default): 202 once stored, so FirstPromoter keeps the reward pending and fires again at its next check', async () => {
      await start(configFor().integrations);
      const sent = await sender.sendFulfilmentPending(fulfilmentData());
      expect(sent.statuses).to.deep.equal([202]);
      expect(sent.state).to.equal('pending');
    });

    it('fulfilled: 200 to a stored fulfilment_pending (also to its duplicate), 202 to every other FirstPromoter delivery', async () => {
      await start(configFor({ FIRSTPROMOTER_FULFILMENT_ANSWER: 'fulfilled' }).integrations);
      const sent = await sender.sendFulfilmentPending(fulfilmentData());
      expect(sent.statuses).to.deep.equal([200]);
      expect(sent.state).to.equal('fulfilled');
      const again = await postFirstPromoter(app.baseUrl, JSON.stringify(sent.body));
      expect(again.status).to.equal(200);
      expect((await readJson(again)).outcome).to.equal('duplicate');

      expect((await sender.sendClassic('lead_signup', fixture('firstpromoter/lead_signup.json').data)).statuses).to.deep.equal([202]);
      expect((await sender.sendTest('commission.created')).statuses).to.deep.equal([202]);
      const types = (await storedEvents()).map((event) => event.type).sort();
      expect(types).to.deep.equal(['firstpromoter.fulfilment_pending', 'firstpromoter.lead_signup', 'firstpromoter.test.commission.created']);
    });
  });

  describe('14. v2 test deliveries', () => {
    const RULES = `rules:
  - id: on-referral
    on: firstpromoter.referral.created
    do:
      - slack.post_message: { channel: "#a", text: "referral" }
  - id: on-any-referral
    on: firstpromoter.referral.*
    do:
      - slack.post_message: { channel: "#a", text: "any referral" }
  - id: on-test-referral
    on: firstpromoter.test.referral.created
    do:
      - slack.post_message: { channel: "#a", text: "test {{ data.test }}" }
`;
    const ruleSet = () => {
      const result = compileRuleFiles([{ file: 'test-deliveries.yaml', content: RULES }], { actions: actionRegistry });
      if (!result.ok) throw new Error(`rules do not compile: ${JSON.stringify(result.problems)}`);
      return result.ruleSet;
    };

    beforeEach(() => start(configFor().integrations));

    it('get a 2xx and are stored as test deliveries: valid after the schema check, matched only by a rule that names them', async () => {
      const sent = await sender.sendTest('referral.created');
      expect(sent.deliveryStatus).to.equal('delivered');
      expect(sent.statuses).to.deep.equal([202]);

      const [stored] = await storedEvents();
      expect(stored).to.deep.include({
        id: `firstpromoter-${sent.body.event_id}`,
        type: 'firstpromoter.test.referral.created',
        providerType: 'test.referral.created',
        status: 'valid',
        data: { test: true },
      });
      // What the events worker does next: the schema check, then planning.
      const checked = applySchemaCheck(firstpromoter, stored!);
      expect(checked.status).to.equal('valid');
      expect(checked.validationErrors).to.equal(undefined);
      const plan = planActions(ruleSet(), checked);
      expect(plan.matched.map((rule) => rule.ruleId)).to.deep.equal(['on-test-referral']);
      expect(plan.actions.map((action) => action.params.text)).to.deep.equal(['test true']);
    });

    it('without an event id or a timestamp (not promised for the sample envelope) are stored all the same', async () => {
      const before = Date.now();
      const sent = await sender.sendTest('payout.commissions.added', { withIds: false });
      expect(sent.statuses).to.deep.equal([202]);
      const [stored] = await storedEvents();
      expect(stored!.id).to.match(/^firstpromoter-test-[0-9a-f]{16}$/);
      expect(stored!.type).to.equal('firstpromoter.test.payout.commissions.added');
      expect(stored!.status).to.equal('valid');
      expect(Date.parse(stored!.occurredAt)).to.be.at.least(before - 1000);
      expect(stored!.occurredAt).to.equal(stored!.receivedAt);
    });

    it('a real referral.created with the same envelope still matches the ordinary rules, not the test one', async () => {
      const body = { event_id: 'b2c3d4e5-f6a7-8901-bcde-f12345678901', event_type: 'referral.created', action: 'created', entity_type: 'referral', entity_id: 55678, changes: {}, data: { id: 55678, email: 'user@example.com' }, timestamp: '2025-01-18T09:00:01Z' };
      expect((await postFirstPromoter(app.baseUrl, JSON.stringify(body))).status).to.equal(202);
      const [stored] = await storedEvents();
      expect(stored!.type).to.equal('firstpromoter.referral.created');
      const plan = planActions(ruleSet(), applySchemaCheck(firstpromoter, stored!));
      expect(plan.matched.map((rule) => rule.ruleId)).to.deep.equal(['on-referral', 'on-any-referral']);
    });
  });

  describe('15. Rewardful event.api_version', () => {
    beforeEach(() => start(configFor().integrations));

    const postVersion = async (version: string | undefined, id: string) => {
      const body = fixture('rewardful/referral.converted.json');
      body.event.id = id;
      if (version === undefined) delete body.event.api_version;
      else body.event.api_version = version;
      const response = await postRewardful(app.baseUrl, JSON.stringify(body));
      expect(response.status).to.equal(200);
    };
    const versionWarnings = () => app.logLines().map((line) => JSON.parse(line)).filter((line) => line.level === 40 && 'apiVersion' in line);

    it('keeps the version on the event (envelope.api_version) and warns once per new version, never for the documented v1', async () => {
      await postVersion('v1', '7d1c9d4a-3f5e-4c1b-9a57-2b7f0f3c6e11');
      await postVersion('v2', '7d1c9d4a-3f5e-4c1b-9a57-2b7f0f3c6e12');
      await postVersion('v2', '7d1c9d4a-3f5e-4c1b-9a57-2b7f0f3c6e13');
      await postVersion(undefined, '7d1c9d4a-3f5e-4c1b-9a57-2b7f0f3c6e14');
      await postVersion(undefined, '7d1c9d4a-3f5e-4c1b-9a57-2b7f0f3c6e15');

      const versions = (await storedEvents()).map((event) => [event.id.slice(-2), event.envelope?.api_version]).sort();
      expect(versions).to.deep.equal([['11', 'v1'], ['12', 'v2'], ['13', 'v2'], ['14', undefined], ['15', undefined]]);
      const warnings = versionWarnings();
      expect(warnings.map((line) => line.apiVersion)).to.deep.equal(['v2', '(none)']);
      expect(warnings[0].msg).to.equal(
        'Rewardful sent API version v2, not seen before by this process; the schemas follow v1: check that its payloads still match them',
      );
      expect(warnings[0].eventId).to.equal('rewardful-7d1c9d4a-3f5e-4c1b-9a57-2b7f0f3c6e12');
    });
  });
});

describe('FirstPromoter while Redis is down (own redis-server)', function () {
  this.timeout(60_000);
  let redisServer: OwnRedisServer;
  let app: Awaited<ReturnType<typeof startIntakeApp>>;
  let sender: FirstPromoterSender;

  before(async () => {
    redisServer = await OwnRedisServer.start({ appendOnly: true });
    app = await startIntakeApp({
      redisUrl: redisServer.url,
      prefix: 'documented-outage',
      integrations: configFor({ FIRSTPROMOTER_FULFILMENT_ANSWER: 'fulfilled' }).integrations,
    });
    sender = new FirstPromoterSender(`${app.baseUrl}/webhooks/firstpromoter?token=${TEST_FIRSTPROMOTER_TOKEN}`);
    await redisServer.stop();
  });

  after(async () => {
    await app?.close();
    await redisServer?.destroy();
  });

  it('12. a classic event gets one attempt: the 503 loses it for good (FirstPromoter never retries it)', async () => {
    const sent = await sender.sendClassic('lead_signup', fixture('firstpromoter/lead_signup.json').data);
    expect(sent.statuses).to.deep.equal([503]);
    expect(sent.outcome).to.equal('lost');
  });

  it('13. fulfilled never answers 200 before the event is stored: every documented retry gets 503', async () => {
    const sent = await sender.sendFulfilmentPending({ ...fixture('firstpromoter/reward_created.json').data, status: 'pending' });
    expect(sent.statuses).to.deep.equal(new Array(FULFILMENT_RETRIES + 1).fill(503));
    expect(sent.state).to.equal('has_issues');
  });
});
