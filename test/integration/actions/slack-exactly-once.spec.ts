import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { ActionRunner } from '../../../src/actions/action.js';
import { SLACK_LATE_COMPLETION_MS } from '../../../src/actions/slack/exactly-once.js';
import type { SlackPostMessageParams } from '../../../src/actions/slack/params.js';
import { connectSlackPostMessage } from '../../../src/actions/slack/post-message.js';
import { slackPostedKey, slackSentKey } from '../../../src/actions/slack/state.js';
import { RetryableActionError } from '../../../src/errors.js';
import { Secret } from '../../../src/secret.js';
import { startSlackFake, type SlackFake } from '../../fakes/slack-fake.js';
import { waitFor } from '../../support/redis.js';
import { captureLogger, openTestRedis, rejectionOf, testConfig, testContext, testDeps, type TestRedis } from './support.js';

const TOKEN = 'xoxb-EXACTLY-ONCE-token-7f3a';
const HISTORY_SCOPES = ['chat:write', 'channels:history', 'groups:history'];
const TIMEOUT_MS = 1_500;

/**
 * Exactly once (issue 12, point 1): every post names its job in Slack message metadata, and a retry
 * after a call of unknown outcome looks the job up in the channel's history before posting again.
 * Real WebClient, real Redis, the fake Slack; the clock is moved on instead of waiting out
 * Slack's late completions (ACTION_TIMEOUT + 30 s).
 */
describe('actions/slack post_message: exactly once through message metadata and history', function () {
  this.timeout(30_000);
  let testRedis: TestRedis;
  let fake: SlackFake;
  let captured: ReturnType<typeof captureLogger>;
  let clockOffsetMs: number;

  beforeEach(async () => {
    testRedis = await openTestRedis();
    captured = captureLogger();
    clockOffsetMs = 0;
  });

  afterEach(async () => {
    await fake?.close();
    await testRedis.cleanup();
  });

  function connect(): ActionRunner<SlackPostMessageParams> {
    const config = testConfig({
      actionTimeoutMs: TIMEOUT_MS,
      integrations: { SLACK_API_URL: fake.url, SLACK_BOT_TOKEN: new Secret(TOKEN), SLACK_MESSAGES_PER_SECOND: 1000, SLACK_MESSAGES_PER_MINUTE: 60_000 },
    });
    const deps = testDeps({ config, redis: testRedis.redis, keyPrefix: testRedis.keyPrefix, logger: captured.logger, now: () => Date.now() + clockOffsetMs });
    return connectSlackPostMessage(deps);
  }

  /** A context as the worker builds it: the job id, and a signal that times the call out. */
  const contextOf = (jobId: string) => testContext(captured.logger, { jobId, signal: AbortSignal.timeout(TIMEOUT_MS) });
  /** Moves the clock past the window in which Slack may still complete a timed-out call. */
  const passLateCompletions = () => {
    clockOffsetMs += TIMEOUT_MS + SLACK_LATE_COMPLETION_MS + 1_000;
  };
  const historyCalls = () => fake.requests.filter((request) => request.path === '/api/conversations.history' || request.path === '/api/conversations.replies');

  it('every post carries metadata naming its action job, and nothing else', async () => {
    fake = await startSlackFake({ token: TOKEN, scopes: HISTORY_SCOPES });
    await connect().execute({ channel: '#affiliates', text: 'lead jane@example.com' }, contextOf('firstpromoter-1.lead-alert.0'));
    expect(fake.received[0].metadata).to.deep.equal({ event_type: 'affiliate_bridge', event_payload: { job_id: 'firstpromoter-1.lead-alert.0' } });
  });

  it('a timed-out call that Slack completes late: the retry waits out late completions, finds it in the history and does not post again', async () => {
    // The timed-out call was the channel's first: its name's ID comes from conversations.list.
    fake = await startSlackFake({ token: TOKEN, scopes: [...HISTORY_SCOPES, 'channels:read'], channels: [{ id: 'C0LATE001', name: 'late' }] });
    fake.script({ kind: 'delay', ms: TIMEOUT_MS + 300, ifClientGone: 'deliver' });
    const runner = connect();
    const jobId = `job-${randomUUID()}`;
    const first = await rejectionOf(runner.execute({ channel: '#late', text: 'late alert' }, contextOf(jobId)));
    expect(first).to.be.instanceOf(RetryableActionError).and.to.have.property('code', 'timeout');

    // Too early: Slack may still post the first call; the job is handed back without an attempt spent.
    const early = await rejectionOf(runner.execute({ channel: '#late', text: 'late alert' }, contextOf(jobId)));
    expect(early).to.be.instanceOf(RetryableActionError).and.to.include({ code: 'awaiting_late_completion', isRateLimit: true });
    expect((early as RetryableActionError).retryAfterMs).to.be.within(SLACK_LATE_COMPLETION_MS - 1_000, SLACK_LATE_COMPLETION_MS + TIMEOUT_MS);
    expect(historyCalls()).to.have.length(0);

    await waitFor(() => fake.received.length === 1); // the fake posts the held call now
    passLateCompletions();
    const retry = await runner.execute({ channel: '#late', text: 'late alert' }, contextOf(jobId));
    expect(retry.outcome).to.equal('succeeded');
    expect((retry as { detail: Record<string, unknown> }).detail).to.deep.include({ foundInHistory: true, ts: fake.received[0].ts, channel: 'C0LATE001' });
    expect(fake.received, 'one message only').to.have.length(1);
    const [lookup] = historyCalls();
    const form = new URLSearchParams(lookup.rawBody);
    expect(form.get('channel')).to.equal('C0LATE001');
    expect(form.get('include_all_metadata')).to.equal('true');
    expect(Number(form.get('oldest'))).to.be.below(fake.received[0].at / 1000);
  });

  it('a timed-out call that Slack dropped: the retry finds nothing and posts once', async () => {
    fake = await startSlackFake({ token: TOKEN, scopes: HISTORY_SCOPES });
    fake.script({ kind: 'delay', ms: TIMEOUT_MS + 200, ifClientGone: 'drop' });
    const runner = connect();
    const jobId = `job-${randomUUID()}`;
    await rejectionOf(runner.execute({ channel: 'C0DROPPED1', text: 'dropped alert' }, contextOf(jobId)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    passLateCompletions();
    // The retry looks (nothing there), then meets a 429: what the history showed is remembered.
    fake.script({ kind: 'rate_limit', retryAfterSeconds: 1, channel: 'C0DROPPED1', method: 'chat.postMessage' });
    await rejectionOf(runner.execute({ channel: 'C0DROPPED1', text: 'dropped alert' }, contextOf(jobId)));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const retry = await runner.execute({ channel: 'C0DROPPED1', text: 'dropped alert' }, contextOf(jobId));
    expect(retry.outcome).to.equal('succeeded');
    expect((retry as { detail: Record<string, unknown> }).detail).not.to.have.property('foundInHistory');
    expect(fake.received.map((message) => message.text)).to.deep.equal(['dropped alert']);
    expect(historyCalls(), 'looked once').to.have.length(1);
  });

  it('fatal_error and internal_error have unknown outcomes: the retry looks first; a 429 or channel_not_found says nothing was posted: no lookup', async () => {
    fake = await startSlackFake({ token: TOKEN, scopes: HISTORY_SCOPES, missingChannels: ['C0MISSING1'] });
    const runner = connect();
    for (const code of ['fatal_error', 'internal_error']) {
      const jobId = `job-${code}`;
      fake.script({ kind: 'error', error: code });
      await rejectionOf(runner.execute({ channel: 'C0FATAL1', text: code }, contextOf(jobId)));
      expect(await testRedis.redis.exists(slackSentKey(testRedis.keyPrefix, jobId)), code).to.equal(1);
      passLateCompletions();
      await runner.execute({ channel: 'C0FATAL1', text: code }, contextOf(jobId));
    }
    expect(historyCalls()).to.have.length(2);
    fake.script({ kind: 'rate_limit', retryAfterSeconds: 1, channel: 'C0LIMIT1' });
    await rejectionOf(runner.execute({ channel: 'C0LIMIT1', text: 'limited' }, contextOf('job-limited')));
    expect(await testRedis.redis.exists(slackSentKey(testRedis.keyPrefix, 'job-limited')), 'a 429 posted nothing').to.equal(0);
    await rejectionOf(runner.execute({ channel: 'C0MISSING1', text: 'nowhere' }, contextOf('job-missing')));
    expect(await testRedis.redis.exists(slackSentKey(testRedis.keyPrefix, 'job-missing')), 'channel_not_found posted nothing').to.equal(0);
    expect(historyCalls()).to.have.length(2);
  });

  it('a crash between Slack\'s answer and the records: the job\'s retry finds its message (a reply: in its thread) and posts nothing', async () => {
    fake = await startSlackFake({ token: TOKEN, scopes: HISTORY_SCOPES });
    const runner = connect();
    await runner.execute({ channel: '#crash-window', text: 'root', thread_key: 'lead-1' }, contextOf('job-root'));
    await runner.execute({ channel: '#crash-window', text: 'reply', thread_key: 'lead-1' }, contextOf('job-reply'));
    // The process died right after Slack answered: only the record written before the call is left.
    await testRedis.redis.del(slackPostedKey(testRedis.keyPrefix, 'job-root'), slackPostedKey(testRedis.keyPrefix, 'job-reply'));
    passLateCompletions();
    const [root, reply] = await Promise.all([
      runner.execute({ channel: '#crash-window', text: 'root', thread_key: 'lead-1' }, contextOf('job-root')),
      runner.execute({ channel: '#crash-window', text: 'reply', thread_key: 'lead-1' }, contextOf('job-reply')),
    ]);
    expect((root as { detail: Record<string, unknown> }).detail).to.deep.include({ foundInHistory: true, ts: fake.received[0].ts });
    expect((reply as { detail: Record<string, unknown> }).detail).to.deep.include({ foundInHistory: true, ts: fake.received[1].ts, thread_ts: fake.received[0].ts });
    expect(fake.received).to.have.length(2);
    // The reply is looked up in its thread: conversations.history lists parent messages only.
    expect(historyCalls().map((call) => call.path).sort()).to.deep.equal(['/api/conversations.history', '/api/conversations.replies']);
  });

  it('jobs waiting on the same channel share one lookup, paged through everything posted since', async () => {
    // Slack may answer fewer messages than asked: 200 a page here.
    fake = await startSlackFake({ token: TOKEN, scopes: HISTORY_SCOPES, historyPageSize: 200 });
    const runner = connect();
    const jobIds = Array.from({ length: 5 }, (_, index) => `job-batch-${index}`);
    for (const jobId of jobIds) await runner.execute({ channel: '#batch-lookups', text: jobId }, contextOf(jobId));
    // 250 later messages: the lookup pages (200 a page), newest first.
    for (let index = 0; index < 250; index += 1) await runner.execute({ channel: '#batch-lookups', text: `noise ${index}` }, contextOf(`noise-${index}`));
    await testRedis.redis.del(...jobIds.map((jobId) => slackPostedKey(testRedis.keyPrefix, jobId)));
    passLateCompletions();
    const results = await Promise.all(jobIds.map((jobId) => runner.execute({ channel: '#batch-lookups', text: jobId }, contextOf(jobId))));
    expect(results.map((result) => (result as { detail: Record<string, unknown> }).detail.foundInHistory)).to.deep.equal([true, true, true, true, true]);
    expect(fake.received).to.have.length(255);
    const calls = historyCalls();
    expect(calls, 'one lookup of two pages for five jobs').to.have.length(2);
    expect(new URLSearchParams(calls[1].rawBody).get('cursor')).to.equal('200');
  });

  it('without the history scopes: start-up says so once, and a retry posts as before (the documented duplicate)', async () => {
    fake = await startSlackFake({ token: TOKEN, scopes: ['chat:write'] });
    const runner = connect();
    await runner.checkSetup!(AbortSignal.timeout(2_000));
    const warnings = captured.lines.filter((line) => line.includes('lacks channels:history'));
    expect(warnings).to.have.length(1);
    fake.script({ kind: 'delay', ms: TIMEOUT_MS + 200, ifClientGone: 'deliver' });
    const jobId = `job-${randomUUID()}`;
    await rejectionOf(runner.execute({ channel: '#no-history-scope', text: 'twice' }, contextOf(jobId)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const retry = await runner.execute({ channel: '#no-history-scope', text: 'twice' }, contextOf(jobId));
    expect(retry.outcome).to.equal('succeeded');
    expect(fake.countByText().get('twice')).to.equal(2);
    expect(historyCalls()).to.have.length(0);
  });

  it('missing_scope from conversations.history itself: posts as before, warns once, and does not pause Slack', async () => {
    // channels:history but not groups:history: a private channel's history is refused.
    fake = await startSlackFake({ token: TOKEN, scopes: ['chat:write', 'channels:history'] });
    const runner = connect();
    for (const jobId of ['job-private-1', 'job-private-2']) {
      fake.script({ kind: 'error', error: 'internal_error' });
      await rejectionOf(runner.execute({ channel: 'G0PRIVATE', text: jobId }, contextOf(jobId)));
      passLateCompletions();
      const retry = await runner.execute({ channel: 'G0PRIVATE', text: jobId }, contextOf(jobId));
      expect(retry.outcome).to.equal('succeeded');
    }
    expect(historyCalls(), 'asked once, then remembered').to.have.length(1);
    expect(captured.lines.filter((line) => line.includes('Slack history cannot be read'))).to.have.length(1);
  });
});
