import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { ActionRunner } from '../../../src/actions/action.js';
import { sleep } from '../../../src/actions/pacing.js';
import { msUntilNextMidnightIn } from '../../../src/actions/hubspot/errors.js';
import type { HubspotUpsertContactParams } from '../../../src/actions/hubspot/params.js';
import { connectHubspotUpsertContact, type HubspotUpsertContactOptions } from '../../../src/actions/hubspot/upsert-contact.js';
import type { SlackPostMessageParams } from '../../../src/actions/slack/params.js';
import { connectSlackPostMessage } from '../../../src/actions/slack/post-message.js';
import { slackChannelIdKey } from '../../../src/actions/slack/state.js';
import { Secret } from '../../../src/secret.js';
import { startHubspotFake, type HubspotFake, type HubspotFakeOptions } from '../../fakes/hubspot-fake.js';
import { startSlackFake, type SlackFake, type SlackFakeOptions } from '../../fakes/slack-fake.js';
import { captureLogger, openTestRedis, rejectionOf, TEST_REDIS_URL, testConfig, testContext, testDeps, type TestRedis } from './support.js';

/*
 * Issue 15, points 5, 7 and 8: the documented limits, modelled in test/fakes (sources cited there),
 * against two runners on two Redis connections standing for two worker processes.
 */

const SLACK_TOKEN = 'xoxb-RATE-LIMITS-token-4d1e';
const HUBSPOT_TOKEN = 'pat-na1-RATE-LIMITS-token-8a2f';

describe('pacing against the documented Slack and HubSpot limits', () => {
  let testRedis: TestRedis;
  let second: Redis;
  const { logger } = captureLogger();

  beforeEach(async () => {
    testRedis = await openTestRedis();
    second = new Redis(TEST_REDIS_URL);
  });

  afterEach(async () => {
    await second.quit();
    await testRedis.cleanup();
  });

  describe('Slack', () => {
    let fake: SlackFake;

    afterEach(async () => {
      await fake?.close();
    });

    async function slackWorkers(
      fakeOptions: SlackFakeOptions,
      settings: Record<string, unknown> = {},
    ): Promise<[ActionRunner<SlackPostMessageParams>, ActionRunner<SlackPostMessageParams>]> {
      fake = await startSlackFake({ token: SLACK_TOKEN, ...fakeOptions });
      const config = testConfig({
        integrations: { SLACK_API_URL: fake.url, SLACK_BOT_TOKEN: new Secret(SLACK_TOKEN), SLACK_MESSAGES_PER_MINUTE: 60_000, ...settings },
      });
      const build = (redis: Redis) => connectSlackPostMessage(testDeps({ config, redis, keyPrefix: testRedis.keyPrefix, logger }), { maxPaceWaitMs: 10_000 });
      return [build(testRedis.redis), build(second)];
    }

    it('7. after a 429 no post to that channel leaves any worker until Retry-After has passed', async function () {
      this.timeout(10_000);
      const [one, two] = await slackWorkers({});
      fake.script({ kind: 'rate_limit', retryAfterSeconds: 1, channel: '#alerts' });
      const limited = await rejectionOf(one.execute({ channel: '#alerts', text: 'first' }, testContext(logger)));
      expect(limited).to.include({ code: 'ratelimited', retryAfterMs: 1000 });
      // The other worker does not post while the hold lasts: it sleeps it out (within its max wait)...
      const started = Date.now();
      await two.execute({ channel: '#alerts', text: 'second' }, testContext(logger));
      expect(Date.now() - started).to.be.at.least(900);
      expect(fake.callsIgnoringRetryAfter()).to.equal(0);
      // ...and other channels are not held.
      const other = Date.now();
      await two.execute({ channel: '#elsewhere', text: 'third' }, testContext(logger));
      expect(Date.now() - other).to.be.lessThan(500);
    });

    it('7. a hold further away than the max wait hands the job back as paced, sending nothing', async () => {
      const [one, two] = await slackWorkers({});
      fake.script({ kind: 'rate_limit', retryAfterSeconds: 30, channel: '#alerts' });
      await rejectionOf(one.execute({ channel: '#alerts', text: 'first' }, testContext(logger)));
      const paced = await rejectionOf(two.execute({ channel: '#alerts', text: 'second' }, testContext(logger)));
      expect(paced).to.include({ code: 'paced', isRateLimit: true });
      expect((paced as { retryAfterMs: number }).retryAfterMs).to.be.within(29_000, 30_000);
      expect((paced as Error).message).to.match(/^a rate limit holds this pacing key for \d+ ms$/);
      expect(fake.requests).to.have.length(1);
    });

    it('8. a name and its ID share one budget: 1 message per second per channel', async function () {
      this.timeout(15_000);
      // The fake allows 2 per second, so only arrival times (not the fake's own exact window edge) decide.
      const [one, two] = await slackWorkers({ perChannelLimit: { messagesPerSecond: 2 } });
      // The first post by name learns the ID from chat.postMessage's `channel`.
      const first = await one.execute({ channel: '#affiliates', text: 'm0' }, testContext(logger));
      expect(first).to.deep.include({ outcome: 'succeeded' });
      expect(await second.get(slackChannelIdKey(testRedis.keyPrefix, '#affiliates'))).to.equal('CAFFILIATES');
      const posts = ['#affiliates', 'CAFFILIATES', 'affiliates', 'CAFFILIATES'].map((channel, index) =>
        (index % 2 === 0 ? one : two).execute({ channel, text: `m${index + 1}` }, testContext(logger)),
      );
      await Promise.all(posts);
      expect(fake.rateLimited()).to.equal(0);
      const times = fake.received.map((message) => message.at).sort((a, b) => a - b);
      for (let index = 1; index < times.length; index += 1) expect(times[index] - times[index - 1]).to.be.at.least(900);
    });

    it('8. a bot with only chat:write posts names as given and never lists channels', async () => {
      const [one] = await slackWorkers({ scopes: ['chat:write'] });
      await one.execute({ channel: '#new-one', text: 'a' }, testContext(logger));
      await one.execute({ channel: '#new-two', text: 'b' }, testContext(logger));
      expect(fake.received.map((message) => message.channel)).to.deep.equal(['#new-one', '#new-two']);
      expect(fake.requests.filter((request) => request.path === '/api/conversations.list')).to.have.length(0);
    });

    it('8. with channels:read, learns every ID from conversations.list once, for all workers', async () => {
      const channels = [
        { id: 'C0AFFILIAT', name: 'affiliates' },
        { id: 'C0PAYOUTS1', name: 'payouts' },
      ];
      const [one, two] = await slackWorkers({ scopes: ['chat:write', 'channels:read'], channels });
      await one.execute({ channel: '#affiliates', text: 'learns the scopes' }, testContext(logger));
      await one.execute({ channel: '#payouts', text: 'swept' }, testContext(logger));
      expect(await second.get(slackChannelIdKey(testRedis.keyPrefix, 'payouts'))).to.equal('C0PAYOUTS1');
      await two.execute({ channel: '#unknown', text: 'no second sweep within the interval' }, testContext(logger));
      expect(fake.requests.filter((request) => request.path === '/api/conversations.list')).to.have.length(1);
    });

    it('8. forgets a cached ID on channel_not_found', async () => {
      const [one] = await slackWorkers({ missingChannels: ['#gone'] });
      await testRedis.redis.set(slackChannelIdKey(testRedis.keyPrefix, '#gone'), 'CGONE0000', 'PX', 60_000);
      const error = await rejectionOf(one.execute({ channel: '#gone', text: 'x' }, testContext(logger)));
      expect(error).to.include({ code: 'channel_not_found' });
      expect(await testRedis.redis.exists(slackChannelIdKey(testRedis.keyPrefix, '#gone'))).to.equal(0);
    });

    it('8. SLACK_MESSAGES_PER_MINUTE: a short burst across channels and workers, then one post per workspace interval', async function () {
      this.timeout(10_000);
      const [one, two] = await slackWorkers({ workspaceLimit: { messagesPerMinute: 240 } }, { SLACK_MESSAGES_PER_MINUTE: 240 });
      const channels = Array.from({ length: 24 }, (_, index) => `#w${index}`);
      await Promise.all(channels.map((channel, index) => (index % 2 === 0 ? one : two).execute({ channel, text: channel }, testContext(logger))));
      const times = fake.received.map((message) => message.at).sort((a, b) => a - b);
      expect(times).to.have.length(24);
      // 240 a minute with channels waiting up to 5 × 1.05 s: one post per (60 s + 5.25 s + 50 ms) / 240
      // = 272.1 ms in the long run, up to 5.25 s ahead of that: post k (from 0) leaves at
      // max(0, k × 272.1 − 5250) ms, so 20 at once after a quiet spell (see pace-budgets.ts).
      expect(times[19] - times[0]).to.be.lessThan(150);
      // (Less 30 ms: the first posts' arrivals include opening each worker's connection.)
      for (let index = 20; index < times.length; index += 1) expect(times[index] - times[0]).to.be.at.least(index * 272.1 - 5250 - 30);
      for (let index = 21; index < times.length; index += 1) expect(times[index] - times[index - 1]).to.be.at.least(250);
      expect(fake.rateLimited()).to.equal(0);
    });

    it("8. a quiet channel's post does not wait behind another channel's queued posts", async function () {
      this.timeout(10_000);
      const [one, two] = await slackWorkers({}, { SLACK_MESSAGES_PER_SECOND: 2, SLACK_MESSAGES_PER_MINUTE: 120 });
      const started = Date.now();
      // Four posts to #busy reserve its slots 0, 0.5, 1 and 1.5 s ahead before #quiet asks.
      const busy = Promise.all([0, 1, 2, 3].map((index) => (index % 2 === 0 ? one : two).execute({ channel: '#busy', text: `busy ${index}` }, testContext(logger))));
      await sleep(50);
      await two.execute({ channel: '#quiet', text: 'quiet' }, testContext(logger));
      const quietAt = fake.received.find((message) => message.text === 'quiet')!.at;
      expect(quietAt - started).to.be.lessThan(400);
      await busy;
      const busyTimes = fake.received.filter((message) => message.channel === '#busy').map((message) => message.at);
      // #busy itself is still paced at 2 a second (1.05 s / 2 apart).
      for (let index = 1; index < busyTimes.length; index += 1) expect(busyTimes[index] - busyTimes[index - 1]).to.be.at.least(500);
    });

    it('the fake refuses posts over its workspace limit (the model the budget is checked against)', async () => {
      const [one] = await slackWorkers({ workspaceLimit: { messagesPerMinute: 2 } });
      await one.execute({ channel: '#x1', text: '1' }, testContext(logger));
      await one.execute({ channel: '#x2', text: '2' }, testContext(logger));
      expect(await rejectionOf(one.execute({ channel: '#x3', text: '3' }, testContext(logger)))).to.include({ code: 'ratelimited' });
    });
  });

  describe('HubSpot', () => {
    let fake: HubspotFake;
    const runners: Array<ActionRunner<HubspotUpsertContactParams>> = [];

    afterEach(async () => {
      await Promise.all(runners.splice(0).map((runner) => runner.close?.()));
      await fake?.close();
    });

    async function hubspotWorkers(
      fakeOptions: HubspotFakeOptions,
      options: HubspotUpsertContactOptions = {},
      now?: () => number,
    ): Promise<[ActionRunner<HubspotUpsertContactParams>, ActionRunner<HubspotUpsertContactParams>]> {
      fake = await startHubspotFake({ token: HUBSPOT_TOKEN, ...fakeOptions });
      const config = testConfig({
        integrations: { HUBSPOT_BASE_URL: fake.url, HUBSPOT_ACCESS_TOKEN: new Secret(HUBSPOT_TOKEN), HUBSPOT_REQUESTS_PER_10_SECONDS: 10_000 },
      });
      const build = (redis: Redis) =>
        connectHubspotUpsertContact(testDeps({ config, redis, keyPrefix: testRedis.keyPrefix, logger, ...(now ? { now } : {}) }), {
          batchWindowMs: 1,
          maxBatchInputs: 1,
          ...options,
        });
      const pair: [ActionRunner<HubspotUpsertContactParams>, ActionRunner<HubspotUpsertContactParams>] = [build(testRedis.redis), build(second)];
      runners.push(...pair);
      return pair;
    }

    const upserts = () => fake.calls.filter((call) => call.path === '/crm/v3/objects/contacts/batch/upsert');

    it('5. adapts to X-HubSpot-RateLimit-Max / -Remaining / -Interval-Milliseconds: no 429 though configured far faster', async function () {
      this.timeout(20_000);
      const [one, two] = await hubspotWorkers({ windowLimit: { maxRequests: 3, windowMs: 1_000 } }, { maxPaceWaitMs: 15_000 });
      await one.execute({ email: 'first@example.com' }, testContext(logger));
      const emails = Array.from({ length: 8 }, (_, index) => `adapt${index}@example.com`);
      const results = await Promise.all(emails.map((email, index) => (index % 2 === 0 ? one : two).execute({ email }, testContext(logger))));
      expect(results.every((result) => result.outcome === 'succeeded')).to.equal(true);
      expect(fake.rateLimited()).to.equal(0);
      expect(upserts()).to.have.length(9);
    });

    it('5. a TEN_SECONDLY_ROLLING 429 without Retry-After waits out the window, and holds the account for every worker', async () => {
      const [one, two] = await hubspotWorkers({ announcedLimit: { maxRequests: 100, windowMs: 10_000 } });
      fake.script({ kind: 'rate_limit', policy: 'TEN_SECONDLY_ROLLING' });
      const limited = await rejectionOf(one.execute({ email: 'a@example.com' }, testContext(logger)));
      expect(limited).to.include({ code: 'rate_limit_ten_secondly', isRateLimit: true, retryAfterMs: 10_000 });
      const held = await rejectionOf(two.execute({ email: 'b@example.com' }, testContext(logger)));
      expect(held).to.include({ code: 'paced', isRateLimit: true });
      expect((held as { retryAfterMs: number }).retryAfterMs).to.be.within(9_000, 10_000);
      expect(upserts()).to.have.length(1);
    });

    it("5. DAILY waits until midnight in the account's time zone, read once from account-info", async () => {
      const now = Date.UTC(2024, 9, 3, 12, 0, 0);
      const [one, two] = await hubspotWorkers({ timeZone: 'Asia/Tokyo' }, {}, () => now);
      // Scripted steps apply to whatever call comes next: one at a time, so account-info is not one of them.
      fake.script({ kind: 'rate_limit', policy: 'DAILY' });
      const first = await rejectionOf(one.execute({ email: 'a@example.com' }, testContext(logger)));
      // Noon UTC is 21:00 in Tokyo: three hours to the reset.
      expect(first).to.include({ code: 'rate_limit_daily', retryAfterMs: 3 * 3600 * 1000 });
      // The account is held for every worker until then.
      expect(await rejectionOf(two.execute({ email: 'b@example.com' }, testContext(logger)))).to.include({ code: 'paced', retryAfterMs: 3 * 3600 * 1000 });
      await testRedis.redis.del(`${testRedis.keyPrefix}:hold:hubspot`);
      fake.script({ kind: 'rate_limit', policy: 'DAILY' });
      const again = await rejectionOf(one.execute({ email: 'c@example.com' }, testContext(logger)));
      expect(again).to.include({ code: 'rate_limit_daily', retryAfterMs: 3 * 3600 * 1000 });
      expect(fake.calls.filter((call) => call.path === '/account-info/v3/details')).to.have.length(1);
    });

    it('5. DAILY falls back to midnight UTC when account-info cannot be read', async () => {
      const now = Date.UTC(2024, 9, 3, 12, 0, 0);
      const [one] = await hubspotWorkers({}, {}, () => now);
      fake.script({ kind: 'rate_limit', policy: 'DAILY' }, { kind: 'http_status', status: 403 });
      const error = await rejectionOf(one.execute({ email: 'a@example.com' }, testContext(logger)));
      expect(error).to.include({ code: 'rate_limit_daily', retryAfterMs: 12 * 3600 * 1000 });
    });

    it('computes the next midnight in a time zone, across a DST change', () => {
      expect(msUntilNextMidnightIn('US/Eastern', Date.UTC(2024, 9, 3, 12))).to.equal(16 * 3600 * 1000);
      // 23:30 EDT on 2 November 2024; midnight comes before the clocks go back at 02:00.
      expect(msUntilNextMidnightIn('US/Eastern', Date.UTC(2024, 10, 3, 3, 30))).to.equal(30 * 60 * 1000);
      expect(msUntilNextMidnightIn('Asia/Kolkata', Date.UTC(2024, 9, 3, 12))).to.equal(6.5 * 3600 * 1000);
      expect(msUntilNextMidnightIn('Not/AZone', Date.UTC(2024, 9, 3, 12))).to.equal(12 * 3600 * 1000);
    });
  });
});
