import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { startSlackFake, type SlackFake } from '../fakes/slack-fake.js';
import { BridgeProcess, runCli } from '../support/bridge-process.js';
import { postFirstPromoter } from '../support/intake-app.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../support/redis.js';
import { bridgeTestEnv } from '../support/bridge-env.js';

const SLACK_TOKEN = 'xoxb-e2e-digest-token-7d6c5b4a3f2e';
const leadSignup = JSON.parse(await readFile(new URL('../fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));

/** Grouped, capped and throttled Slack actions (issue 12, points 6 and 8). */
const RULES = `rules:
  - id: lead-digest
    on: firstpromoter.lead_signup
    if: data.state == "signup"
    do:
      - slack.post_message:
          channel: "#leads"
          text: "lead {{ data.email }}"
          group: { by: "{{ data.promoter.id }}", wait: 2s }
  - id: capped-digest
    on: firstpromoter.lead_signup
    if: data.state == "signup"
    do:
      - slack.post_message:
          channel: "#capped"
          text: "lead {{ data.email }}"
          group: { by: "all", wait: 1h, max: 3 }
          digest_text: "{{ count }} new leads: {% for e in events %}{{ e.data.email }}{% unless forloop.last %}, {% endunless %}{% endfor %}"
  - id: promoter-alert
    on: firstpromoter.lead_signup
    if: data.state == "signup"
    do:
      - slack.post_message: { channel: "#fraud", text: "lead {{ data.email }} by promoter {{ data.promoter.id }}" }
        throttle: { key: "{{ data.promoter.id }}", window: 1h }
`;

/** A lead_signup with its own event id and email, by promoter `promoterId`. */
function lead(eventId: number, email: string, promoterId = 3920164): string {
  const body = structuredClone(leadSignup);
  body.event.id = eventId;
  body.data.email = email;
  body.data.promoter.id = promoterId;
  return JSON.stringify(body);
}

describe('Slack digests and throttles end to end (real process, real Redis, fake Slack)', function () {
  this.timeout(60_000);
  let slack: SlackFake;
  let bridge: BridgeProcess;
  let rulesDir: string;
  let env: Record<string, string>;
  let redis: Redis;
  const prefix = randomPrefix('e2e-digest');

  before(async () => {
    slack = await startSlackFake({ token: SLACK_TOKEN });
    rulesDir = await mkdtemp(path.join(tmpdir(), 'bridge-digest-rules-'));
    await writeFile(path.join(rulesDir, 'digests.yaml'), RULES);
    redis = new Redis(SHARED_REDIS_URL);
    env = bridgeTestEnv({ prefix, rulesDir, slack: { url: slack.url, token: SLACK_TOKEN } });
    bridge = await BridgeProcess.start({ env });
    await waitFor(async () => (await fetch(`${bridge.baseUrl}/readyz`)).status === 200);
  });

  after(async () => {
    await bridge?.stop();
    await slack?.close();
    await rm(rulesDir, { recursive: true, force: true });
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('group: leads of one promoter within the wait become one digest, another promoter\'s its own; max closes a digest at once; each trace names its digest; throttle lets one alert through', async () => {
    const sentAt = Date.now();
    const leads = [
      [91000001, 'ann@example.com', 3920164],
      [91000002, 'bob@example.com', 3920164],
      [91000003, 'cy<!channel>@example.com', 3920164],
      [91000004, 'dee@example.com', 555],
      [91000005, 'eve@example.com', 3920164],
    ] as const;
    for (const [id, email, promoterId] of leads) {
      expect((await postFirstPromoter(bridge.baseUrl, lead(id, email, promoterId))).status).to.equal(202);
    }

    // max: 3 with a 1h wait: the third lead posts the first digest at once, the next ones wait.
    const capped = await waitFor(() => slack.received.find((message) => message.channel === '#capped'));
    expect(Date.now() - sentAt).to.be.below(30_000);
    expect(capped.text).to.equal('3 new leads: ann@example.com, bob@example.com, cy&lt;!channel&gt;@example.com');

    // wait: 2s: one digest per promoter, each message's text on its own line, escaped once.
    const digests = await waitFor(() => {
      const found = slack.received.filter((message) => message.channel === '#leads');
      return found.length >= 2 ? found : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(slack.received.filter((message) => message.channel === '#leads').map((message) => message.text).sort()).to.deep.equal([
      'lead ann@example.com\nlead bob@example.com\nlead cy&lt;!channel&gt;@example.com\nlead eve@example.com',
      'lead dee@example.com',
    ]);
    expect(digests.every((message) => message.at - sentAt >= 2_000)).to.equal(true);

    // throttle: the first lead of each promoter alerts; the others are suppressed.
    expect(slack.received.filter((message) => message.channel === '#fraud').map((message) => message.text).sort()).to.deep.equal([
      'lead ann@example.com by promoter 3920164',
      'lead dee@example.com by promoter 555',
    ]);

    // Each event's trace says which digest carried it, and the throttled alert.
    const trace = await runCli(['events', 'trace', 'firstpromoter-91000005'], env);
    expect(trace.code, trace.stderr).to.equal(0);
    expect(trace.stdout).to.match(/ {2}grouped {5}lead-digest slack\.post_message: carried by digest digest\.lead-digest\.0\.\d+\n/);
    expect(trace.stdout).to.match(/ {2}grouped {5}capped-digest slack\.post_message: carried by digest digest\.capped-digest\.0\.\d+\n/);
    expect(trace.stdout).to.contain('  suppressed  promoter-alert slack.post_message: throttle key "3920164" is held by firstpromoter-91000001');
    const json = JSON.parse((await runCli(['events', 'trace', 'firstpromoter-91000001', '--json'], env)).stdout) as {
      runs: Array<{ grouped: Array<{ ruleId: string; digest: string }> }>;
    };
    const firstDigest = json.runs[0].grouped.find((entry) => entry.ruleId === 'lead-digest')!.digest;
    const fifth = /carried by digest (digest\.lead-digest\.0\.\d+)/.exec(trace.stdout)![1];
    expect(fifth).to.equal(firstDigest);
    // The digest is one action job, shown with the event's actions, its events in its result.
    expect(trace.stdout).to.match(new RegExp(`action ${fifth.replaceAll('.', '\\.')}: completed after \\d+ attempt`));
    const other = JSON.parse((await runCli(['events', 'trace', 'firstpromoter-91000004', '--json'], env)).stdout) as {
      runs: Array<{ grouped: Array<{ ruleId: string; digest: string }> }>;
      actions: Array<{ jobId: string; result: { detail: { digest: { count: number; events: string[] } } } | null }>;
    };
    const otherDigest = other.runs[0].grouped.find((entry) => entry.ruleId === 'lead-digest')!.digest;
    expect(otherDigest).not.to.equal(firstDigest);
    expect(other.actions.find((action) => action.jobId === otherDigest)!.result!.detail.digest).to.deep.equal({ count: 1, events: ['firstpromoter-91000004'] });
  });
});
