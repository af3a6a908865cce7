import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue, type Worker } from 'bullmq';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { actionRegistry } from '../../../src/actions/registry.js';
import { runCoverageCommand, runDiffCommand } from '../../../src/cli/commands/what-if.js';
import type { ActionJobData } from '../../../src/queue/action-job.js';
import { startEventsWorker } from '../../../src/queue/events-worker.js';
import { ACTIONS_QUEUE, bridgeKeys } from '../../../src/queue/names.js';
import { readStoredEvents } from '../../../src/queue/stored-events.js';
import { loadRules } from '../../../src/rules/load-rules.js';
import { postFirstPromoter, postRewardful, startIntakeApp } from '../../support/intake-app.js';
import { dumpAllValues } from '../../support/redis-dump.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';
import { eventsWorkerOptionsForTests } from '../../support/events-stack.js';

/** The rules running while the events arrive. */
const LIVE_RULES = `rules:
  - id: reward-approved
    on: firstpromoter.reward_created
    do:
      - slack.post_message: { channel: "#affiliates", text: "Reward {{ data.amount | money }}" }
  - id: lead-alert
    on: firstpromoter.lead_signup
    if: data.suspicion != "no_suspicion"
    do:
      - slack.post_message: { channel: "#fraud", text: "Lead {{ data.email }}" }
  - id: retired-rule
    on: firstpromoter.reward_created
    do:
      - hubspot.upsert_contact: { email: "{{ data.promoter.email }}", properties: { affiliate_status: "{{ data.status }}" } }
  - id: never-fires
    on: firstpromoter.lead_signup
    if: data.email == "nobody@example.com"
    do:
      - slack.post_message: { channel: "#x", text: "never" }
  - id: no-traffic
    on: rewardful.commission.*
    do:
      - slack.post_message: { channel: "#x", text: "commission" }
`;

/**
 * The edit under review: reward-approved renders in euros (changed) and gains a second message
 * (added); lead-alert stays; retired-rule, never-fires and no-traffic are gone (removed); new-rule
 * handles a type nothing handled.
 */
const CANDIDATE_RULES = `rules:
  - id: reward-approved
    on: firstpromoter.reward_created
    do:
      - slack.post_message: { channel: "#affiliates", text: "Reward {{ data.amount | money: 'EUR' }}" }
      - slack.post_message: { channel: "#big", text: "Big {{ data.amount | money }}" }
  - id: lead-alert
    on: firstpromoter.lead_signup
    if: data.suspicion != "no_suspicion"
    do:
      - slack.post_message: { channel: "#fraud", text: "Lead {{ data.email }}" }
  - id: new-rule
    on: firstpromoter.promoter_accepted
    do:
      - slack.post_message: { channel: "#promoters", text: "Accepted {{ data.promoter.email }}" }
`;

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../fixtures/deliveries/${name}.json`, import.meta.url), 'utf8'));

function rewardDelivery(id: number, amount: number): string {
  const body = fixture('firstpromoter/reward_created');
  body.event.id = id;
  body.data.amount = amount;
  return JSON.stringify(body);
}

function leadDelivery(id: number, suspicion: string): string {
  const body = fixture('firstpromoter/lead_signup');
  body.event.id = id;
  body.data.suspicion = suspicion;
  return JSON.stringify(body);
}

describe('diff and coverage over stored events (real intake, real events worker, real Redis)', function () {
  this.timeout(30_000);
  let prefix: string;
  let redis: Redis;
  let workerConnection: Redis;
  let actions: Queue<ActionJobData>;
  let worker: Worker;
  let intake: Awaited<ReturnType<typeof startIntakeApp>>;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const eventIds: string[] = [];

  const collect = () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    return { io: { stdout: (line: string) => stdout.push(line), stderr: (line: string) => stderr.push(line) }, stdout, stderr };
  };

  before(async () => {
    prefix = randomPrefix('what-if');
    dir = await mkdtemp(path.join(tmpdir(), 'what-if-'));
    await mkdir(path.join(dir, 'live'));
    await mkdir(path.join(dir, 'candidate'));
    await writeFile(path.join(dir, 'live', 'rules.yaml'), LIVE_RULES);
    await writeFile(path.join(dir, 'candidate', 'rules.yaml'), CANDIDATE_RULES);
    env = { REDIS_URL: SHARED_REDIS_URL, QUEUE_PREFIX: prefix, RULES_DIR: path.join(dir, 'live') };

    const loaded = await loadRules(path.join(dir, 'live'), { actions: actionRegistry });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    workerConnection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    actions = new Queue(ACTIONS_QUEUE, { connection: redis, prefix });
    worker = startEventsWorker(eventsWorkerOptionsForTests({ connection: workerConnection, state: redis, prefix, actionsQueue: actions, ruleSet: loaded.ruleSet }));
    intake = await startIntakeApp({ redisUrl: SHARED_REDIS_URL, prefix });

    // Sent one at a time, so receipt order (and so sample order) is the order here.
    const deliveries: Array<[id: string, send: () => Promise<Response>]> = [
      ...[1001, 1002, 1003, 1004].map((id, i): [string, () => Promise<Response>] => [`firstpromoter-${id}`, () => postFirstPromoter(intake.baseUrl, rewardDelivery(id, 200 * (i + 1)))]),
      ['firstpromoter-2001', () => postFirstPromoter(intake.baseUrl, leadDelivery(2001, 'self_referral'))],
      ['firstpromoter-2002', () => postFirstPromoter(intake.baseUrl, leadDelivery(2002, 'no_suspicion'))],
      ['firstpromoter-22733469', () => postFirstPromoter(intake.baseUrl, JSON.stringify(fixture('firstpromoter/promoter_accepted')))],
      ['rewardful-7d1c9d4a-3f5e-4c1b-9a57-2b7f0f3c6e10', () => postRewardful(intake.baseUrl, JSON.stringify(fixture('rewardful/referral.converted')))],
    ];
    for (const [id, send] of deliveries) {
      const response = await send();
      expect(response.status, id).to.be.oneOf([200, 202]);
      await new Promise((resolve) => setTimeout(resolve, 3));
      eventIds.push(id);
    }
    const keys = bridgeKeys(prefix);
    await waitFor(async () => (await Promise.all(eventIds.map((id) => redis.exists(keys.trace(id))))).every((exists) => exists === 1));
  });

  after(async () => {
    await intake?.close();
    await worker?.close();
    await actions?.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
    workerConnection.disconnect();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads every stored event of the window, oldest first, as the rules saw it', async () => {
    const events = await readStoredEvents(redis, prefix, Date.now() - 3_600_000);
    expect(events.map((event) => event.id)).to.deep.equal(eventIds);
    expect(await readStoredEvents(redis, prefix, Date.now() + 1_000)).to.deep.equal([]);
  });

  it('diff --json: per rule the actions added, removed, changed and unchanged, with up to 3 sample event ids each', async () => {
    const { io, stdout, stderr } = collect();
    expect(await runDiffCommand({ rulesDir: path.join(dir, 'candidate'), since: '1h', json: true, env }, io)).to.equal(0);
    expect(stderr).to.deep.equal([]);
    const none = { added: [], removed: [], changed: [] };
    const firstThreeRewards = ['firstpromoter-1001', 'firstpromoter-1002', 'firstpromoter-1003'];
    expect(JSON.parse(stdout.join('\n'))).to.deep.equal({
      events: 8,
      rules: [
        { id: 'reward-approved', added: 4, removed: 0, changed: 4, unchanged: 0, samples: { added: firstThreeRewards, removed: [], changed: firstThreeRewards } },
        { id: 'lead-alert', added: 0, removed: 0, changed: 0, unchanged: 1, samples: none },
        { id: 'retired-rule', added: 0, removed: 4, changed: 0, unchanged: 0, samples: { added: [], removed: firstThreeRewards, changed: [] } },
        { id: 'never-fires', added: 0, removed: 0, changed: 0, unchanged: 0, samples: none },
        { id: 'no-traffic', added: 0, removed: 0, changed: 0, unchanged: 0, samples: none },
        { id: 'new-rule', added: 1, removed: 0, changed: 0, unchanged: 0, samples: { added: ['firstpromoter-22733469'], removed: [], changed: [] } },
      ],
    });
  });

  it('diff: the rendered difference of each changed sample, and the added and removed actions', async () => {
    const { io, stdout } = collect();
    expect(await runDiffCommand({ rulesDir: path.join(dir, 'candidate'), since: '1h', env }, io)).to.equal(0);
    expect(stdout).to.include.members([
      'reward-approved: 4 added, 0 removed, 4 changed, 0 unchanged',
      '  + firstpromoter-1001: slack.post_message (action 2)',
      '  ~ firstpromoter-1001: slack.post_message (action 1)',
      '      params.text: "Reward $2.00" → "Reward €2.00"',
      '  ~ firstpromoter-1002: slack.post_message (action 1)',
      '      params.text: "Reward $4.00" → "Reward €4.00"',
      `retired-rule (only in ${path.join(dir, 'live')}): 0 added, 4 removed, 0 changed, 0 unchanged`,
      '  - firstpromoter-1001: hubspot.upsert_contact (action 1)',
      `new-rule (only in ${path.join(dir, 'candidate')}): 1 added, 0 removed, 0 changed, 0 unchanged`,
      'lead-alert: 0 added, 0 removed, 0 changed, 1 unchanged',
    ]);
    expect(stdout.filter((line) => line.startsWith('  ~ firstpromoter-'))).to.have.length(3);
    expect(stdout.at(-1)).to.equal('8 stored events planned with both; 3 rules would act differently (nothing sent)');
  });

  it('diff sends nothing and writes nothing: every key and value under the prefix is as it was', async () => {
    const before = await dumpAllValues(redis, prefix);
    const jobsBefore = await actions.getJobCounts();
    const { io } = collect();
    expect(await runDiffCommand({ rulesDir: path.join(dir, 'candidate'), since: '1h', json: true, env }, io)).to.equal(0);
    expect(await runCoverageCommand({ since: '1h', json: true, env }, collect().io)).to.equal(0);
    expect(await dumpAllValues(redis, prefix)).to.equal(before);
    expect(await actions.getJobCounts()).to.deep.equal(jobsBefore);
  });

  it('diff of the live rules against themselves: nothing added, removed or changed', async () => {
    const { io, stdout } = collect();
    expect(await runDiffCommand({ rulesDir: path.join(dir, 'live'), since: '1h', json: true, env }, io)).to.equal(0);
    const result = JSON.parse(stdout.join('\n')) as { rules: Array<{ added: number; removed: number; changed: number; unchanged: number }> };
    expect(result.rules.map((rule) => rule.added + rule.removed + rule.changed)).to.deep.equal([0, 0, 0, 0, 0]);
    expect(result.rules.map((rule) => rule.unchanged)).to.deep.equal([4, 1, 4, 0, 0]);
  });

  it('a window that ends before the events: no event, nothing to compare', async () => {
    const { io, stdout } = collect();
    expect(await runDiffCommand({ rulesDir: path.join(dir, 'candidate'), since: '1m', json: true, env, now: () => Date.now() + 3_600_000 }, io)).to.equal(0);
    expect(JSON.parse(stdout.join('\n')).events).to.equal(0);
  });

  it('coverage --json: types no rule handles with counts, and rules that never matched with the events of their types', async () => {
    const { io, stdout, stderr } = collect();
    expect(await runCoverageCommand({ since: '1h', json: true, env }, io)).to.equal(0);
    expect(stderr).to.deep.equal([]);
    expect(JSON.parse(stdout.join('\n'))).to.deep.equal({
      unhandledTypes: [
        { type: 'firstpromoter.promoter_accepted', count: 1 },
        { type: 'rewardful.referral.converted', count: 1 },
      ],
      silentRules: [
        { id: 'never-fires', eventsOfItsTypes: 2 },
        { id: 'no-traffic', eventsOfItsTypes: 0 },
      ],
    });
  });

  it('coverage: the same in lines', async () => {
    const { io, stdout } = collect();
    expect(await runCoverageCommand({ since: '1h', env }, io)).to.equal(0);
    expect(stdout).to.deep.equal([
      'Event types no rule handles:',
      '  firstpromoter.promoter_accepted  1 event',
      '  rewardful.referral.converted  1 event',
      'Rules that never matched:',
      '  never-fires  2 events of its types arrived, none matched',
      '  no-traffic  no event of its types arrived',
      '8 stored events: 2 unhandled types (2 events), 2 silent rules',
    ]);
  });

  it('refuses a window that is not a duration, and candidate rules that do not load, with their problems', async () => {
    const bad = collect();
    expect(await runDiffCommand({ rulesDir: path.join(dir, 'candidate'), since: 'a week', env }, bad.io)).to.equal(1);
    expect(bad.stderr).to.deep.equal(['--since must be a duration such as 24h or 7d, not "a week"']);
    const broken = collect();
    expect(await runDiffCommand({ rulesDir: 'test/fixtures/rules/bad/duplicate-id', env }, broken.io)).to.equal(1);
    expect(broken.stderr.at(-1)).to.equal('1 problem: the rules in test/fixtures/rules/bad/duplicate-id do not load');
    expect(broken.stdout).to.deep.equal([]);
  });

  it('says so when --since reaches beyond DEDUP_TTL', async () => {
    const { io, stderr } = collect();
    expect(await runCoverageCommand({ since: '30d', json: true, env }, io)).to.equal(0);
    expect(stderr).to.deep.equal(['note: stored events are kept for DEDUP_TTL (7d), so --since 30d reaches no further back than that']);
  });
});
