import { expect } from 'chai';
import { pino } from 'pino';
import { createSlackClient, type SlackClient } from '../../../src/actions/slack/client.js';
import { RetryableActionError } from '../../../src/errors.js';
import { Secret } from '../../../src/secret.js';
import { startSlackFake, type SlackFake } from '../../fakes/slack-fake.js';
import { rejectionOf } from './support.js';

/**
 * The Slack client's per-call abort: calls in flight at the same time share no signal. Each call
 * borrows a WebClient of its own from a pool (no AsyncLocalStorage, which turns on async hooks
 * for the whole process), so aborting one call must leave the others, and the pooled WebClient
 * it gives back, untouched. The real SDK against the fake Slack.
 */
describe('Slack client: each call aborts on its own signal only', () => {
  let fake: SlackFake;
  let client: SlackClient;

  beforeEach(async () => {
    fake = await startSlackFake();
    client = createSlackClient({ token: new Secret('xoxb-client'), slackApiUrl: fake.url, timeoutMs: 10_000, logger: pino({ level: 'silent' }) });
  });

  afterEach(() => fake.close());

  it('aborts the call whose signal aborts, while a call started beside it and one started after it are sent', async () => {
    // Both answers are held for 600 ms. The first call sends its request only after the second call
    // has started (a call may await before its request, as paging does), and is aborted after 150 ms.
    fake.script({ kind: 'delay', ms: 600, times: 2, ifClientGone: 'drop' });
    const aborted = new AbortController();
    const first = client.call(aborted.signal, async (web) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return web.chat.postMessage({ channel: 'C0FIRST', text: 'first' });
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    const beside = client.call(new AbortController().signal, (web) => web.chat.postMessage({ channel: 'C0BESIDE', text: 'beside' }));
    setTimeout(() => aborted.abort(), 150);

    const error = await rejectionOf(first);
    expect(error).to.be.instanceOf(RetryableActionError);
    expect(error).to.include({ code: 'timeout' });
    expect((await beside).ok).to.equal(true);
    // The WebClient the aborted call gave back serves the next call with that call's signal.
    expect((await client.call(new AbortController().signal, (web) => web.chat.postMessage({ channel: 'C0AFTER', text: 'after' }))).ok).to.equal(true);
    expect(fake.received.map((message) => message.text).sort()).to.deep.equal(['after', 'beside']);
  });

  it('aborts a call whose signal aborts while other calls use the pool before and after it', async () => {
    await client.call(new AbortController().signal, (web) => web.chat.postMessage({ channel: 'C0WARM', text: 'warm' }));
    fake.script({ kind: 'delay', ms: 600, times: 1, ifClientGone: 'drop' });
    const aborted = new AbortController();
    const held = client.call(aborted.signal, (web) => web.chat.postMessage({ channel: 'C0HELD', text: 'held' }));
    setTimeout(() => aborted.abort(), 100);
    expect(await rejectionOf(held)).to.include({ code: 'timeout' });
    expect(fake.received.map((message) => message.text)).to.deep.equal(['warm']);
  });
});
