import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { ActionRunner } from '../../../src/actions/action.js';
import type { SlackPostMessageParams } from '../../../src/actions/slack/params.js';
import { connectSlackPostMessage } from '../../../src/actions/slack/post-message.js';
import { Secret } from '../../../src/secret.js';
import { startSlackFake, type SlackFake } from '../../fakes/slack-fake.js';
import { captureLogger, openTestRedis, TEST_REDIS_URL, testConfig, testContext, testDeps, type TestRedis } from './support.js';

const TOKEN = 'xoxb-SLACK-SPEC-token-91c2';

describe('actions/slack post_message', () => {
  let testRedis: TestRedis;
  let fake: SlackFake;
  const { logger } = captureLogger();

  beforeEach(async () => {
    testRedis = await openTestRedis();
  });

  afterEach(async () => {
    await fake?.close();
    await testRedis.cleanup();
  });

  function connect(redis: Redis = testRedis.redis, messagesPerSecond = 1000, maxPaceWaitMs?: number): ActionRunner<SlackPostMessageParams> {
    const config = testConfig({ integrations: { SLACK_API_URL: fake.url, SLACK_BOT_TOKEN: new Secret(TOKEN), SLACK_MESSAGES_PER_SECOND: messagesPerSecond, SLACK_MESSAGES_PER_MINUTE: 60_000 } });
    return connectSlackPostMessage(testDeps({ config, redis, keyPrefix: testRedis.keyPrefix, logger }), { maxPaceWaitMs });
  }

  it('sends channel, text, blocks, thread_ts and unfurl_links with the bearer token', async () => {
    fake = await startSlackFake({ token: TOKEN });
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*New lead* lead@example.com' } }];
    // thread_ts must name a message that exists (the fake answers thread_not_found otherwise).
    const root = await connect().execute({ channel: '#affiliates', text: 'Leads today' }, testContext(logger));
    const rootTs = (root as unknown as { detail: { ts: string } }).detail.ts;
    const result = await connect().execute(
      { channel: '#affiliates', text: 'New lead', blocks, thread_ts: rootTs, unfurl_links: false },
      testContext(logger),
    );
    expect(result.outcome).to.equal('succeeded');
    expect(fake.received).to.have.length(2);
    expect(fake.received[1]).to.deep.include({
      token: TOKEN,
      channel: '#affiliates',
      text: 'New lead',
      blocks,
      thread_ts: rootTs,
      unfurl_links: false,
    });
    // The token travels in the Authorization header only, never in the form body.
    expect(fake.requests[1].headers.authorization).to.equal(`Bearer ${TOKEN}`);
    expect(fake.requests[1].rawBody).not.to.include(TOKEN);
    expect(fake.requests[1].headers['content-type']).to.equal('application/x-www-form-urlencoded');
  });

  it('returns the channel and ts Slack answered', async () => {
    fake = await startSlackFake();
    const result = await connect().execute({ channel: 'C0123456789', text: 'hi' }, testContext(logger));
    expect(result).to.have.property('outcome', 'succeeded');
    const detail = (result as unknown as { detail: { channel: string; ts: string } }).detail;
    expect(detail.channel).to.equal('C0123456789');
    expect(detail.ts).to.match(/^\d+\.\d{6}$/);
  });

  it('dry-run shows the request with no token and sends nothing', async () => {
    fake = await startSlackFake();
    const config = testConfig({ integrations: { SLACK_API_URL: fake.url, SLACK_BOT_TOKEN: null } });
    const runner = connectSlackPostMessage(testDeps({ config, redis: testRedis.redis, keyPrefix: testRedis.keyPrefix, logger }));
    const result = await runner.execute({ channel: '#x', text: 'hello', unfurl_links: true }, testContext(logger, { jobId: 'dry-run-job' }));
    expect(result).to.deep.equal({
      outcome: 'dry_run',
      request: {
        method: 'POST',
        path: '/api/chat.postMessage',
        contentType: 'application/x-www-form-urlencoded',
        body: { channel: '#x', text: 'hello', unfurl_links: true, metadata: { event_type: 'affiliate_bridge', event_payload: { job_id: 'dry-run-job' } } },
      },
    });
    expect(fake.requests).to.have.length(0);
    expect(await testRedis.redis.keys(`${testRedis.keyPrefix}*`)).to.deep.equal([]);
  });

  it('paces two workers on one channel under Slack per-channel limit: no 429, no loss, no duplicate', async function () {
    this.timeout(15_000);
    fake = await startSlackFake({ perChannelLimit: { messagesPerSecond: 5 } });
    const secondConnection = new Redis(TEST_REDIS_URL);
    try {
      // Two runners on two Redis connections stand for two worker processes.
      const workers = [connect(testRedis.redis, 4, 5_000), connect(secondConnection, 4, 5_000)];
      const texts = Array.from({ length: 10 }, (_, index) => `message ${index}`);
      const results = await Promise.all(
        texts.map((text, index) => workers[index % 2].execute({ channel: '#busy', text }, testContext(logger))),
      );
      expect(results.every((result) => result.outcome === 'succeeded')).to.equal(true);
      expect(fake.rateLimited()).to.equal(0);
      expect(fake.received.map((message) => message.text).sort()).to.deep.equal([...texts].sort());
      // Consecutive posts are at least ~1/4 s apart.
      const times = fake.received.map((message) => message.at).sort((a, b) => a - b);
      for (let index = 1; index < times.length; index += 1) expect(times[index] - times[index - 1]).to.be.at.least(200);
    } finally {
      await secondConnection.quit();
    }
  });

  it('paces each channel on its own', async () => {
    fake = await startSlackFake();
    const runner = connect(testRedis.redis, 1, 5_000);
    const started = Date.now();
    await Promise.all(['#a', '#b', '#c'].map((channel) => runner.execute({ channel, text: 'x' }, testContext(logger))));
    expect(Date.now() - started).to.be.lessThan(500);
    expect(fake.received).to.have.length(3);
  });
});
