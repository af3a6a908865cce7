import { expect } from 'chai';
import type { ActionRunner } from '../../../src/actions/action.js';
import { TRUNCATION_MARKER } from '../../../src/actions/slack/limits.js';
import type { SlackPostMessageParams } from '../../../src/actions/slack/params.js';
import { connectSlackPostMessage } from '../../../src/actions/slack/post-message.js';
import { Secret } from '../../../src/secret.js';
import { startSlackFake, type SlackFake } from '../../fakes/slack-fake.js';
import { captureLogger, openTestRedis, testConfig, testContext, testDeps, type TestRedis } from './support.js';

const TOKEN = 'xoxb-SLACK-LIMITS-token-5d1e';

/**
 * Slack's length limits against the fake, which models them as documented: text over 40,000 is cut
 * silently (`ok: true`, `message_truncated`), a section over 3,000 fails the message (`invalid_blocks`).
 */
describe('actions/slack post_message: length limits (real WebClient against the fake)', () => {
  let testRedis: TestRedis;
  let fake: SlackFake;
  const { logger } = captureLogger();

  beforeEach(async () => {
    testRedis = await openTestRedis();
    fake = await startSlackFake({ token: TOKEN });
  });

  afterEach(async () => {
    await fake.close();
    await testRedis.cleanup();
  });

  function connect(): ActionRunner<SlackPostMessageParams> {
    const config = testConfig({ integrations: { SLACK_API_URL: fake.url, SLACK_BOT_TOKEN: new Secret(TOKEN), SLACK_MESSAGES_PER_SECOND: 1000 } });
    return connectSlackPostMessage(testDeps({ config, redis: testRedis.redis, keyPrefix: testRedis.keyPrefix, logger }));
  }

  it('cuts text over 40,000 characters itself, with a visible marker, instead of letting Slack cut it silently', async () => {
    const text = `${'x'.repeat(45_000)}THE END`;
    const result = await connect().execute({ channel: '#long', text }, testContext(logger));
    expect(result.outcome).to.equal('succeeded');
    const posted = fake.received[0].text!;
    expect(posted).to.have.length(40_000);
    expect(posted.endsWith(TRUNCATION_MARKER)).to.equal(true);
    // What went out was already within the limit: Slack had nothing to cut and no warning to give.
    expect(fake.requests[0].text).to.have.length(40_000);
    expect((result as { detail?: Record<string, unknown> }).detail).to.deep.include({ truncated: ['text'] });
    expect((result as { detail?: Record<string, unknown> }).detail).not.to.have.property('warnings');
  });

  it('cuts a section over 3,000 characters (Slack would refuse the whole message with invalid_blocks) and a field over 2,000', async () => {
    const blocks = [
      { type: 'section', text: { type: 'mrkdwn', text: 'a'.repeat(3_500) }, fields: [{ type: 'mrkdwn', text: 'b'.repeat(2_100) }, { type: 'plain_text', text: 'short' }] },
      { type: 'header', text: { type: 'plain_text', text: 'h'.repeat(200) } },
    ];
    const result = await connect().execute({ channel: '#long', text: 'summary', blocks }, testContext(logger));
    expect(result.outcome).to.equal('succeeded');
    const [section, header] = fake.received[0].blocks as Array<{ text: { text: string }; fields?: Array<{ text: string }> }>;
    expect(section.text.text).to.have.length(3_000);
    expect(section.text.text.endsWith(TRUNCATION_MARKER)).to.equal(true);
    expect(section.fields![0].text).to.have.length(2_000);
    expect(section.fields![1].text).to.equal('short');
    expect(header.text.text).to.have.length(150);
    expect((result as { detail?: Record<string, unknown> }).detail).to.deep.include({
      truncated: ['blocks[0].text.text', 'blocks[0].fields[0].text', 'blocks[1].text.text'],
    });
    // The rule's own params are left as they were (the cut is on a copy).
    expect(blocks[0].text!.text).to.have.length(3_500);
  });

  it('the fake refuses a section over 3,000 characters as Slack does (what the bridge now avoids)', async () => {
    const response = await fetch(`${fake.url}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: '#long', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'a'.repeat(3_001) } }] }),
    });
    expect(await response.json()).to.deep.include({ ok: false, error: 'invalid_blocks', errors: ['must be less than 3001 characters [json-pointer:/blocks/0/text/text]'] });
    const truncated = await fetch(`${fake.url}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: '#long', text: 'y'.repeat(40_001) }),
    });
    expect(await truncated.json()).to.deep.include({ ok: true, warning: 'message_truncated', response_metadata: { warnings: ['message_truncated'] } });
    expect(fake.received[0].text).to.have.length(40_000);
  });

  it("keeps Slack's warnings in the result detail (the trace shows it)", async () => {
    fake.script({ kind: 'warning', warning: 'missing_charset' });
    const result = await connect().execute({ channel: '#long', text: 'hello' }, testContext(logger));
    expect((result as { detail?: Record<string, unknown> }).detail).to.deep.include({ warnings: ['missing_charset'] });
    expect((result as { detail?: Record<string, unknown> }).detail).not.to.have.property('truncated');
  });
});
