import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { startSlackFake, type SlackFake } from '../fakes/slack-fake.js';
import { BridgeProcess } from '../support/bridge-process.js';
import { postFirstPromoter, postRewardful } from '../support/intake-app.js';
import { parsePrometheusText, sampleValue, type PrometheusSample } from '../support/prometheus-text.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../support/redis.js';
import { bridgeTestEnv } from '../support/bridge-env.js';

const SLACK_TOKEN = 'xoxb-metrics-token-9c8d7e6f';
const ACTION = 'slack.post_message';
const REWARD = 'firstpromoter.reward_created';

/** One rule per Slack outcome, told apart by the reward's `event_id` field. */
const RULES = ['ok', 'gone', 'retry', 'limited']
  .map(
    (name) => `  - id: metrics-${name}
    on: firstpromoter.reward_created
    if: data.event_id == "${name}"
    do:
      - slack.post_message:
          channel: "#${name}"
          text: "${name} {{ event.id }}"
`,
  )
  .join('');
const EXTRA_RULES = `rules:
  - id: metrics-extra
    on: rewardful.referral.converted
    do:
      - slack.post_message:
          channel: "#extra"
          text: "converted"
`;

describe('metrics contract (real process, GET /metrics)', function () {
  this.timeout(60_000);
  let slack: SlackFake;
  let rulesDir: string;
  let redis: Redis;
  let bridge: BridgeProcess | undefined;
  let fixture: Record<string, any>;
  const prefixes: string[] = [];

  // No Slack token by default: each run adds one, or not (the dry-run run).
  const envFor = (prefix: string, extra: Record<string, string> = {}) =>
    bridgeTestEnv({
      prefix,
      rulesDir,
      slack: { url: slack.url },
      extra: { SLACK_MESSAGES_PER_SECOND: '50', SLACK_MESSAGES_PER_MINUTE: '60000', ACTION_ATTEMPTS: '3', BODY_LIMIT: '16kb', SHUTDOWN_TIMEOUT: '2s', ...extra },
    });
  const reward = (eventId: number, kind: string) => {
    const delivery = structuredClone(fixture);
    delivery.event.id = eventId;
    delivery.data.event_id = kind;
    return JSON.stringify(delivery);
  };
  const scrape = async (): Promise<PrometheusSample[]> => {
    const response = await fetch(`${bridge!.baseUrl}/metrics`);
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.match(/^text\/plain/);
    return parsePrometheusText(await response.text());
  };

  before(async () => {
    fixture = JSON.parse(await readFile(new URL('../fixtures/deliveries/firstpromoter/reward_created.json', import.meta.url), 'utf8'));
    slack = await startSlackFake({ token: SLACK_TOKEN, missingChannels: ['#gone'] });
    rulesDir = await mkdtemp(path.join(tmpdir(), 'bridge-metrics-rules-'));
    await writeFile(path.join(rulesDir, 'metrics.yaml'), `rules:\n${RULES}`);
    await writeFile(path.join(rulesDir, 'extra.yaml'), EXTRA_RULES);
    redis = new Redis(SHARED_REDIS_URL);
  });

  afterEach(async () => {
    await bridge?.stop('SIGKILL').catch(() => undefined);
    bridge = undefined;
  });

  after(async () => {
    await slack?.close();
    if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
    for (const prefix of prefixes) await deleteKeys(redis, prefix);
    redis?.disconnect();
  });

  it('counts every webhook outcome, event, rule match and action outcome with the contract names and labels; a broken rule file counts a reload error and fails /readyz', async () => {
    const prefix = randomPrefix('metrics');
    prefixes.push(prefix);
    bridge = await BridgeProcess.start({ env: envFor(prefix, { SLACK_BOT_TOKEN: SLACK_TOKEN }) });
    await waitFor(async () => (await fetch(`${bridge!.baseUrl}/readyz`)).status === 200);

    // Before anything happens: the rules are counted, nothing else yet.
    let samples = await scrape();
    expect(sampleValue(samples, 'bridge_rules_loaded')).to.equal(5);
    expect(sampleValue(samples, 'bridge_rules_reload_errors_total')).to.equal(0);

    slack.script(
      { kind: 'http_status', status: 500, channel: '#retry' },
      { kind: 'rate_limit', retryAfterSeconds: 1, channel: '#limited' },
    );
    const base = bridge.baseUrl;
    expect((await postFirstPromoter(base, reward(72_000_001, 'ok'))).status).to.equal(202);
    expect((await postFirstPromoter(base, reward(72_000_001, 'ok'))).status).to.equal(202); // duplicate
    expect((await postFirstPromoter(base, reward(72_000_002, 'gone'))).status).to.equal(202);
    expect((await postFirstPromoter(base, reward(72_000_003, 'retry'))).status).to.equal(202);
    expect((await postFirstPromoter(base, reward(72_000_004, 'limited'))).status).to.equal(202);
    expect((await postFirstPromoter(base, reward(72_000_005, 'ok'), { bearer: 'not-the-token' })).status).to.equal(401);
    expect((await postRewardful(base, '{"event":{}}', 'f'.repeat(64))).status).to.equal(401);
    expect((await postFirstPromoter(base, 'this is not JSON')).status).to.equal(400);
    expect((await postFirstPromoter(base, JSON.stringify({ padding: 'x'.repeat(20 * 1024) }))).status).to.equal(413);
    const unknownType = structuredClone(fixture);
    unknownType.event = { ...unknownType.event, id: 72_000_006, type: 'something_new' };
    expect((await postFirstPromoter(base, JSON.stringify(unknownType))).status).to.equal(202);

    // Three messages get through (ok, retry after a 500, limited after a 429); #gone fails for good.
    await waitFor(() => ['ok firstpromoter-72000001', 'retry firstpromoter-72000003', 'limited firstpromoter-72000004'].every((text) => slack.countByText().get(text) === 1), 15_000);
    samples = await waitFor(async () => {
      const current = await scrape();
      return sampleValue(current, 'bridge_actions_total', { action: ACTION, outcome: 'failed' }) === 1 &&
        sampleValue(current, 'bridge_actions_total', { action: ACTION, outcome: 'succeeded' }) === 3
        ? current
        : null;
    });

    // bridge_webhooks_total{source,outcome}
    const webhooks = (source: string, outcome: string) => sampleValue(samples, 'bridge_webhooks_total', { source, outcome });
    expect(webhooks('firstpromoter', 'accepted')).to.equal(4);
    expect(webhooks('firstpromoter', 'duplicate')).to.equal(1);
    expect(webhooks('firstpromoter', 'unauthorized')).to.equal(1);
    expect(webhooks('rewardful', 'unauthorized')).to.equal(1);
    expect(webhooks('firstpromoter', 'invalid')).to.equal(1);
    expect(webhooks('firstpromoter', 'too_large')).to.equal(1);
    expect(webhooks('firstpromoter', 'quarantined')).to.equal(1);

    // bridge_events_total{type,outcome}
    expect(sampleValue(samples, 'bridge_events_total', { type: REWARD, outcome: 'planned' })).to.equal(4);
    // A type no source declares counts under one label, however many a sender invents.
    expect(sampleValue(samples, 'bridge_events_total', { type: 'unknown', outcome: 'quarantined' })).to.equal(1);
    expect(samples.some((sample) => sample.labels.type === 'firstpromoter.something_new')).to.equal(false);

    // bridge_rule_matches_total{rule}
    for (const name of ['ok', 'gone', 'retry', 'limited']) {
      expect(sampleValue(samples, 'bridge_rule_matches_total', { rule: `metrics-${name}` }), name).to.equal(1);
    }
    expect(sampleValue(samples, 'bridge_rule_matches_total', { rule: 'metrics-extra' })).to.equal(undefined);

    // bridge_actions_total{action,outcome}
    const actions = (outcome: string) => sampleValue(samples, 'bridge_actions_total', { action: ACTION, outcome });
    expect(actions('succeeded')).to.equal(3);
    expect(actions('failed')).to.equal(1);
    expect(actions('retried')).to.equal(1);
    expect(actions('rate_limited')).to.equal(1);
    expect(actions('dry_run')).to.equal(undefined);

    // Histograms: one duration per call attempt (3 successes, the 500, the 429, the not-found);
    // event-to-action once per action done.
    const histogram = (name: string) => ({
      count: sampleValue(samples, `${name}_count`, { action: ACTION }),
      sum: sampleValue(samples, `${name}_sum`, { action: ACTION }),
      infBucket: sampleValue(samples, `${name}_bucket`, { action: ACTION, le: '+Inf' }),
    });
    const duration = histogram('bridge_action_duration_seconds');
    expect(duration.count).to.equal(6);
    expect(duration.infBucket).to.equal(6);
    expect(duration.sum).to.be.greaterThan(0).and.below(30);
    const eventToAction = histogram('bridge_event_to_action_seconds');
    expect(eventToAction.count).to.equal(3);
    expect(eventToAction.infBucket).to.equal(3);
    // The rate-limited one waited about a second: the sum covers at least that.
    expect(eventToAction.sum).to.be.greaterThan(1).and.below(60);

    // bridge_queue_jobs{queue,state}: refreshed every 5 s, so one refresh may have read the failed
    // job beside the rate-limited one still delayed: wait for a refresh after everything settled.
    samples = await waitFor(async () => {
      const current = await scrape();
      const isSettled = sampleValue(current, 'bridge_queue_jobs', { queue: 'actions', state: 'delayed' }) === 0;
      return isSettled && sampleValue(current, 'bridge_queue_jobs', { queue: 'actions', state: 'failed' }) === 1 ? current : null;
    }, 12_000, 250);
    for (const queue of ['events', 'actions']) {
      for (const state of ['waiting', 'active', 'delayed']) {
        expect(sampleValue(samples, 'bridge_queue_jobs', { queue, state }), `${queue} ${state}`).to.equal(0);
      }
    }
    expect(sampleValue(samples, 'bridge_queue_jobs', { queue: 'events', state: 'failed' })).to.equal(0);

    // A broken edit: a reload error is counted, /readyz says why, the last good rules stay live.
    await writeFile(path.join(rulesDir, 'extra.yaml'), 'rules:\n  - id: metrics-extra\n    on: [unclosed\n');
    await waitFor(async () => sampleValue(await scrape(), 'bridge_rules_reload_errors_total') === 1, 10_000, 100);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).to.equal(503);
    const body = (await notReady.json()) as { status: string; reasons: string[] };
    expect(body.status).to.equal('not_ready');
    expect(body.reasons).to.have.length(1);
    // It names the file and line of the broken edit (issue 11.7).
    expect(body.reasons[0]).to.match(/^rules not current: \S*extra\.yaml:\d+:\d+: .+; the last good rules stay live$/);
    expect(sampleValue(await scrape(), 'bridge_rules_loaded')).to.equal(5);

    // Restored: ready again, no further error counted.
    await writeFile(path.join(rulesDir, 'extra.yaml'), EXTRA_RULES);
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 10_000, 100);
    samples = await scrape();
    expect(sampleValue(samples, 'bridge_rules_reload_errors_total')).to.equal(1);
    expect(sampleValue(samples, 'bridge_rules_loaded')).to.equal(5);

    // Every contract name has its HELP and TYPE.
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const [name, type] of [
      ['bridge_webhooks_total', 'counter'],
      ['bridge_events_total', 'counter'],
      ['bridge_rule_matches_total', 'counter'],
      ['bridge_actions_total', 'counter'],
      ['bridge_action_duration_seconds', 'histogram'],
      ['bridge_event_to_action_seconds', 'histogram'],
      ['bridge_queue_jobs', 'gauge'],
      ['bridge_rules_loaded', 'gauge'],
      ['bridge_rules_reload_errors_total', 'counter'],
    ]) {
      expect(text).to.contain(`# TYPE ${name} ${type}`);
      expect(text).to.match(new RegExp(`# HELP ${name} \\S`));
    }
  });

  it('counts dry runs when no Slack token is set', async () => {
    const prefix = randomPrefix('metrics-dry');
    prefixes.push(prefix);
    bridge = await BridgeProcess.start({ env: envFor(prefix) });
    expect((await postFirstPromoter(bridge.baseUrl, reward(72_100_001, 'ok'))).status).to.equal(202);
    const samples = await waitFor(async () => {
      const current = await scrape();
      return sampleValue(current, 'bridge_actions_total', { action: ACTION, outcome: 'dry_run' }) === 1 ? current : null;
    });
    expect(sampleValue(samples, 'bridge_actions_total', { action: ACTION, outcome: 'succeeded' })).to.equal(undefined);
    expect(sampleValue(samples, 'bridge_action_duration_seconds_count', { action: ACTION })).to.equal(1);
    expect(slack.received.some((message) => message.text === 'ok firstpromoter-72100001')).to.equal(false);
  });
});
