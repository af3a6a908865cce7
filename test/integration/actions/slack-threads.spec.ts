import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { ActionRunner } from '../../../src/actions/action.js';
import type { SlackPostMessageParams } from '../../../src/actions/slack/params.js';
import { connectSlackPostMessage } from '../../../src/actions/slack/post-message.js';
import { SLACK_UPDATE_MIN_INTERVAL_MS } from '../../../src/actions/slack/slack-poster.js';
import { slackThreadKey } from '../../../src/actions/slack/state.js';
import { PermanentActionError } from '../../../src/errors.js';
import { Secret } from '../../../src/secret.js';
import { startSlackFake, type SlackFake } from '../../fakes/slack-fake.js';
import { captureLogger, openTestRedis, rejectionOf, TEST_REDIS_URL, testConfig, testContext, testDeps, type TestRedis } from './support.js';

const TOKEN = 'xoxb-THREADS-token-2b8e';
const CHANNEL = '#lead-threads';
const CHANNEL_ID = 'CLEADTHREADS';

type Detail = Record<string, unknown>;
const detailOf = (result: unknown) => (result as { detail: Detail }).detail;

/**
 * Threads (issue 12, points 3–5): `thread_key` makes one thread per rendered key and channel,
 * `reply_broadcast` shows a reply in the channel too, `root_text` edits the root after each reply
 * (latest wins, paced), and a deleted root or `thread_not_found` starts a new thread. Real
 * WebClient, real Redis (the key → root map), the fake Slack.
 */
describe('actions/slack post_message: threads by thread_key, root updates', function () {
  this.timeout(20_000);
  let testRedis: TestRedis;
  let fake: SlackFake;
  const { logger } = captureLogger();
  let jobCounter = 0;

  beforeEach(async () => {
    testRedis = await openTestRedis();
    fake = await startSlackFake({ token: TOKEN });
  });

  afterEach(async () => {
    await fake.close();
    await testRedis.cleanup();
  });

  function connect(options: { redis?: Redis; messagesPerSecond?: number; threadTtlMs?: number } = {}): ActionRunner<SlackPostMessageParams> {
    const config = testConfig({
      integrations: {
        SLACK_API_URL: fake.url,
        SLACK_BOT_TOKEN: new Secret(TOKEN),
        SLACK_MESSAGES_PER_SECOND: options.messagesPerSecond ?? 1000,
        SLACK_MESSAGES_PER_MINUTE: 60_000,
        ...(options.threadTtlMs ? { SLACK_THREAD_TTL: options.threadTtlMs } : {}),
      },
    });
    return connectSlackPostMessage(testDeps({ config, redis: options.redis ?? testRedis.redis, keyPrefix: testRedis.keyPrefix, logger }), { maxPaceWaitMs: 10_000 });
  }
  const post = (runner: ActionRunner<SlackPostMessageParams>, params: Omit<SlackPostMessageParams, 'channel'> & { channel?: string }) =>
    runner.execute({ channel: CHANNEL, ...params }, testContext(logger, { jobId: `job-${(jobCounter += 1)}` }));

  it('messages with the same rendered key form one thread: the first is the root, the later ones reply; reply_broadcast also shows in the channel', async () => {
    const runner = connect();
    const root = detailOf(await post(runner, { text: 'Lead jane signed up', thread_key: 'lead-jane' }));
    const reply = detailOf(await post(runner, { text: 'Jane converted', thread_key: 'lead-jane' }));
    const broadcast = detailOf(await post(runner, { text: 'Jane cancelled', thread_key: 'lead-jane', reply_broadcast: true }));
    const other = detailOf(await post(runner, { text: 'Lead joe signed up', thread_key: 'lead-joe' }));
    expect(root).to.deep.include({ thread: 'root' });
    expect(reply).to.deep.include({ thread: 'reply', thread_ts: root.ts });
    expect(broadcast).to.deep.include({ thread: 'reply', thread_ts: root.ts });
    expect(other).to.deep.include({ thread: 'root' });
    expect(fake.received.map((message) => [message.text, message.thread_ts, message.reply_broadcast])).to.deep.equal([
      ['Lead jane signed up', undefined, undefined],
      ['Jane converted', root.ts, undefined],
      ['Jane cancelled', root.ts, true],
      ['Lead joe signed up', undefined, undefined],
    ]);
  });

  it('one key in two channels makes two threads; an empty key posts the message on its own', async () => {
    const runner = connect();
    await post(runner, { text: 'a', thread_key: 'k' });
    const elsewhere = detailOf(await post(runner, { channel: '#other-threads', text: 'b', thread_key: 'k' }));
    const alone = detailOf(await post(runner, { text: 'c', thread_key: '' }));
    expect(elsewhere).to.deep.include({ thread: 'root' });
    expect(alone).not.to.have.property('thread');
    expect(fake.received.every((message) => message.thread_ts === undefined)).to.equal(true);
  });

  it('two workers, five messages of a new key at once: one root, four replies to it', async () => {
    const second = new Redis(TEST_REDIS_URL);
    try {
      const workers = [connect(), connect({ redis: second })];
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, index) => post(workers[index % 2], { text: `event ${index}`, thread_key: 'payout-42' })),
      );
      const roots = results.filter((result) => detailOf(result).thread === 'root');
      expect(roots).to.have.length(1);
      const rootTs = detailOf(roots[0]).ts;
      expect(fake.received.filter((message) => message.thread_ts === undefined)).to.have.length(1);
      expect(fake.received.filter((message) => message.thread_ts === rootTs)).to.have.length(4);
    } finally {
      await second.quit();
    }
  });

  it('the key → root map lives SLACK_THREAD_TTL in Redis, by channel ID', async () => {
    await post(connect({ threadTtlMs: 3_600_000 }), { text: 'root', thread_key: 'ttl-key' });
    const key = slackThreadKey(testRedis.keyPrefix, CHANNEL_ID, 'ttl-key');
    expect(await testRedis.redis.get(key)).to.equal(`root:${CHANNEL_ID}:${fake.received[0].ts}`);
    expect(await testRedis.redis.pttl(key)).to.be.within(3_590_000, 3_600_000);
  });

  it('root_text: after each reply the root is edited to the latest rendering', async () => {
    const runner = connect();
    const root = detailOf(await post(runner, { text: 'Lead jane signed up', thread_key: 'jane', root_text: 'Lead jane: signed up' }));
    expect(fake.updates, 'the root keeps its own text until the first reply').to.have.length(0);
    const reply = detailOf(await post(runner, { text: 'converted, $200', thread_key: 'jane', root_text: 'Lead jane: converted, $200 commission' }));
    expect(reply).to.deep.include({ rootUpdate: 'updated' });
    expect(fake.currentText(CHANNEL_ID, String(root.ts))).to.equal('Lead jane: converted, $200 commission');
    expect(fake.received[1].text).to.equal('converted, $200');
  });

  it('root updates are paced per channel (Tier 3), and when several wait only the latest is sent', async function () {
    this.timeout(30_000);
    const runner = connect({ messagesPerSecond: 2 });
    const root = detailOf(await post(runner, { text: 'root', thread_key: 'busy', root_text: 'state 0' }));
    const replies = await Promise.all([1, 2, 3, 4].map((index) => post(runner, { text: `reply ${index}`, thread_key: 'busy', root_text: `state ${index}` })));
    const outcomes = replies.map((result) => detailOf(result).rootUpdate);
    expect(outcomes.filter((outcome) => outcome === 'superseded').length, `outcomes: ${outcomes.join(', ')}`).to.be.at.least(1);
    expect(fake.updates.length).to.be.below(4);
    const times = fake.updates.map((update) => update.at);
    for (let index = 1; index < times.length; index += 1) expect(times[index] - times[index - 1]).to.be.at.least(SLACK_UPDATE_MIN_INTERVAL_MS - 50);
    // The root ends in the state of the last reply that recorded one.
    const last = fake.updates.at(-1)!;
    expect(fake.currentText(CHANNEL_ID, String(root.ts))).to.equal(last.text);
    expect(outcomes.filter((outcome) => outcome === 'updated')).to.have.length(fake.updates.length);
  });

  it('a deleted root starts a new thread (thread_not_found); the action succeeds', async () => {
    const runner = connect();
    const first = detailOf(await post(runner, { text: 'root 1', thread_key: 'gone', root_text: 'state' }));
    fake.deleteMessage(CHANNEL_ID, String(first.ts));
    const next = detailOf(await post(runner, { text: 'after delete', thread_key: 'gone', root_text: 'state 2' }));
    expect(next).to.deep.include({ thread: 'root', newThreadBecause: 'thread_not_found' });
    const after = detailOf(await post(runner, { text: 'reply to new root', thread_key: 'gone' }));
    expect(after).to.deep.include({ thread: 'reply', thread_ts: next.ts });
  });

  it('a root deleted after it had replies: the next message starts a new thread', async () => {
    const runner = connect();
    const first = detailOf(await post(runner, { text: 'root', thread_key: 'late-delete' }));
    await post(runner, { text: 'reply', thread_key: 'late-delete' });
    fake.deleteMessage(CHANNEL_ID, String(first.ts));
    const next = detailOf(await post(runner, { text: 'third', thread_key: 'late-delete', root_text: 'state' }));
    expect(next).to.deep.include({ thread: 'root' });
  });

  it('an archived channel: the thread is forgotten and the action fails with is_archived, like any post there (dead letter, retry after unarchiving)', async () => {
    const runner = connect();
    await post(runner, { text: 'root', thread_key: 'archived' });
    fake.archiveChannel(CHANNEL);
    const error = await rejectionOf(post(runner, { text: 'reply', thread_key: 'archived' }));
    expect(error).to.be.instanceOf(PermanentActionError).and.to.have.property('code', 'is_archived');
    expect(await testRedis.redis.exists(slackThreadKey(testRedis.keyPrefix, CHANNEL_ID, 'archived')), 'no thread, no claim left').to.equal(0);
  });
});
