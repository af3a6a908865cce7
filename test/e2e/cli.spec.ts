import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { bridgeTestEnv } from '../support/bridge-env.js';
import { BridgeOperations } from '../../src/queue/operations.js';
import { BridgeProcess, runCli } from '../support/bridge-process.js';
import { postFirstPromoter, postRewardful } from '../support/intake-app.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../support/redis.js';

/** The rule tooling as an ops person runs it: the built binary, its exit codes and its output. */
describe('affiliate-bridge check / test / simulate (the real binary)', function () {
  this.timeout(30_000);

  it('check: exit 0 on the shipped rules', async () => {
    const { code, stdout } = await runCli(['check', '--rules', 'rules']);
    expect(code).to.equal(0);
    expect(stdout.trim()).to.match(/^\d+ rules in \d+ files OK$/);
  });

  it('check: exit 1 listing every problem of every file as file:line:col: message', async () => {
    const { code, stderr } = await runCli(['check', '--rules', 'test/fixtures/rules/bad']);
    expect(code).to.equal(1);
    const lines = stderr.split('\n').filter((line) => /^test\/fixtures\/rules\/bad\//.test(line));
    expect(lines.length).to.be.greaterThan(20);
    for (const line of lines) expect(line).to.match(/^test\/fixtures\/rules\/bad\/[\w./-]+\.yaml:\d+:\d+: \S/);
    expect(stderr).to.contain('test/fixtures/rules/bad/cel-syntax.yaml:4:26: invalid condition: Unexpected token: EOF');
    expect(stderr).to.contain('test/fixtures/rules/bad/unknown-action.yaml:');
  });

  it('test: one line per case, the totals, exit 0 on the shipped rules', async () => {
    const { code, stdout } = await runCli(['test', '--rules', 'rules']);
    expect(code).to.equal(0);
    const lines = stdout.trim().split('\n');
    expect(lines.at(-1)).to.match(/^\d+ passed, 0 failed$/);
    expect(lines.filter((line) => line.startsWith('✓ '))).to.have.length(Number(/^(\d+) passed/.exec(lines.at(-1)!)![1]));
  });

  it('test: exit 1 with the reasons when a case fails', async () => {
    const { code, stdout } = await runCli(['test', '--rules', 'test/fixtures/rules/rule-tests']);
    expect(code).to.equal(1);
    expect(stdout).to.match(/\n\d+ passed, [1-9]\d* failed\n?$/);
    expect(stdout).to.contain('✗ tests/leads.yaml › missing fixture');
  });

  it('simulate: the matched rule and its rendered message, and nothing is sent', async () => {
    const { code, stdout } = await runCli(['simulate', 'test/fixtures/deliveries/firstpromoter/reward_created.json']);
    expect(code).to.equal(0);
    expect(stdout).to.contain('event firstpromoter.reward_created firstpromoter-22737431 (valid)');
    expect(stdout).to.contain('reward-approved');
    expect(stdout).to.contain('$2.00');
    expect(stdout).to.contain('(nothing sent)');
  });

  it('simulate: the rendered once_per key of the fulfilment alert, and that simulate cannot know whether it is held', async () => {
    const { code, stdout } = await runCli(['simulate', 'test/fixtures/deliveries/firstpromoter/fulfilment_pending.json']);
    expect(code).to.equal(0);
    expect(stdout).to.contain('✓ reward-to-fulfil (rules/rewards.yaml) matched');
    expect(stdout).to.contain('throttle key "2429153" (held for DEDUP_TTL): sent only if no earlier event holds this key, which simulate cannot know (it reads no Redis)');
  });

  it('simulate --json: the same as JSON, with why the other rules did not match', async () => {
    const { code, stdout } = await runCli(['simulate', 'test/fixtures/deliveries/firstpromoter/lead_signup.json', '--json']);
    expect(code).to.equal(0);
    const result = JSON.parse(stdout);
    expect(result.event.type).to.equal('firstpromoter.lead_signup');
    expect(result.matched).to.deep.equal([]);
    expect(result.unmatched.map((rule: { ruleId: string; reason: string }) => [rule.ruleId, rule.reason])).to.deep.include(['suspicious-lead-alert', 'condition_false']);
  });

  it('simulate --set: a field changed without editing the file, typed; a bad path exits 1 with its message', async () => {
    const file = 'test/fixtures/deliveries/rewardful/commission.created.json';
    const changed = await runCli(['simulate', file, '--set', 'data.amount=25000', '--set', 'data.state=voided']);
    expect(changed.code).to.equal(0);
    expect(changed.stdout).to.contain('Commission created: $250.00 for an affiliate (voided)');
    const misspelt = await runCli(['simulate', file, '--set', 'data.amont=25000']);
    expect(misspelt.code).to.equal(1);
    expect(misspelt.stderr.trim()).to.equal('--set data.amont=25000: data has no field amont (--set changes fields, it does not add them)');
  });

  it('a bad environment stops the bridge with one line per problem', async () => {
    const { code, stderr } = await runCli(['start'], { PORT: 'eighty', DEDUP_TTL: 'forever' });
    expect(code).to.equal(1);
    expect(stderr.trim().split('\n').sort()).to.deep.equal([
      'config: DEDUP_TTL must be a duration such as 500ms, 30s, 10m, 12h or 7d',
      'config: PORT must be a port number between 0 and 65535',
    ]);
  });
});

/** Issue 10.5: an alias bomb is one `file:line:col` problem in every command that reads YAML, never a stack trace. */
describe('affiliate-bridge and a YAML alias bomb (the real binary)', function () {
  this.timeout(30_000);
  const BOMB_PROBLEM = 'the aliases of this file (from *c) repeat anchored content more than 100 times';
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'alias-bomb-'));
    await mkdir(path.join(dir, 'bombed', 'tests'), { recursive: true });
    await cp('test/fixtures/rules/bad/alias-bomb.yaml', path.join(dir, 'bombed', 'bomb.yaml'));
    // Good rules with a bombed test-case file: `test` reads case files with the same YAML loader.
    await mkdir(path.join(dir, 'good', 'tests'), { recursive: true });
    await cp('rules/fraud.yaml', path.join(dir, 'good', 'fraud.yaml'));
    await writeFile(
      path.join(dir, 'good', 'tests', 'bomb.yaml'),
      [
        'cases:',
        '  - name: bomb',
        '    payload:',
        '      event: { id: 1, type: lead_signup, created_at: "2024-10-03T13:45:20.103Z" }',
        '      data:',
        '        a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        '        b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
        '        c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
        '        d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
        '    expect: { nothing: true }',
        '',
      ].join('\n'),
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const expectNoStackTrace = (output: string) => {
    expect(output).not.to.match(/\n\s+at \S/);
    expect(output).not.to.contain('ReferenceError');
  };

  it('check: exit 1 with the problem at its alias', async () => {
    const { code, stderr } = await runCli(['check', '--rules', path.join(dir, 'bombed')]);
    expect(code).to.equal(1);
    expect(stderr).to.contain(`${path.join(dir, 'bombed', 'bomb.yaml')}:14:25: ${BOMB_PROBLEM}`);
    expectNoStackTrace(stderr);
  });

  it('test: a bombed case file is a problem, and no case runs', async () => {
    const { code, stdout, stderr } = await runCli(['test', '--rules', path.join(dir, 'good')]);
    expect(code).to.equal(1);
    expect(stderr).to.contain(`${path.join(dir, 'good', 'tests', 'bomb.yaml')}:9:13: the aliases of this file (from *c) repeat anchored content more than 100 times`);
    expect(stderr).to.contain('1 problem: no test case ran');
    expect(stdout).to.equal('');
    expectNoStackTrace(stderr);
  });

  it('simulate: the rules do not load, with the problem', async () => {
    const { code, stderr } = await runCli(['simulate', 'test/fixtures/deliveries/firstpromoter/lead_signup.json', '--rules', path.join(dir, 'bombed')]);
    expect(code).to.equal(1);
    expect(stderr).to.contain(BOMB_PROBLEM);
    expectNoStackTrace(stderr);
  });

  it('start: the bridge refuses to start, naming the problem', async () => {
    const { code, stderr } = await runCli(['start'], { RULES_DIR: path.join(dir, 'bombed'), PORT: '0', METRICS_PORT: '0', QUEUE_PREFIX: `bomb-${process.pid}` });
    expect(code).to.equal(1);
    expect(stderr).to.contain(`bomb.yaml:14:25: ${BOMB_PROBLEM}`);
    expectNoStackTrace(stderr);
  });
});

/** Issue 11.4, 11.5, 11.6 through the built binary: events delivered to the real bridge, then read back. */
describe('affiliate-bridge schema, diff and coverage (the real binary, a running bridge, real Redis)', function () {
  this.timeout(60_000);
  const prefix = randomPrefix('what-if-e2e');
  let dir: string;
  let redis: Redis;
  let bridge: BridgeProcess;
  let env: Record<string, string>;
  const delivered = ['firstpromoter-22737431', 'firstpromoter-22736304', 'firstpromoter-22733469', 'rewardful-7d1c9d4a-3f5e-4c1b-9a57-2b7f0f3c6e10'];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'what-if-e2e-'));
    await cp('rules', path.join(dir, 'live'), { recursive: true });
    await cp('rules', path.join(dir, 'candidate'), { recursive: true });
    const rewards = path.join(dir, 'candidate', 'rewards.yaml');
    const edited = (await readFile(rewards, 'utf8')).replace(':moneybag: Reward approved', ':tada: Reward approved');
    await writeFile(rewards, edited);
    await writeFile(
      path.join(dir, 'candidate', 'welcome.yaml'),
      'rules:\n  - id: e2e-welcome-promoter\n    on: firstpromoter.promoter_accepted\n    do:\n      - slack.post_message: { channel: "#promoters", text: "Welcome {{ data.promoter.email }}" }\n',
    );
    redis = new Redis(SHARED_REDIS_URL);
    // No Slack or HubSpot token: the bridge's own actions run as dry-run.
    env = bridgeTestEnv({ prefix, rulesDir: path.join(dir, 'live') });
    bridge = await BridgeProcess.start({ env });
    const fixture = (name: string) => readFile(`test/fixtures/deliveries/${name}.json`, 'utf8');
    for (const name of ['reward_created', 'lead_signup', 'promoter_accepted']) {
      expect((await postFirstPromoter(bridge.baseUrl, await fixture(`firstpromoter/${name}`))).status).to.equal(202);
    }
    expect((await postRewardful(bridge.baseUrl, await fixture('rewardful/referral.converted'))).status).to.equal(200);
    await waitFor(async () => (await Promise.all(delivered.map((id) => redis.exists(`${prefix}:trace:${id}`)))).every((found) => found === 1));
  });

  after(async () => {
    await bridge?.stop();
    await deleteKeys(redis, prefix);
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  });

  it('schema: prints exactly the shipped rules/rule-file.schema.json', async () => {
    const { code, stdout } = await runCli(['schema']);
    expect(code).to.equal(0);
    expect(stdout).to.equal(await readFile('rules/rule-file.schema.json', 'utf8'));
  });

  it('diff --json: the edited rule changed for the reward, the new rule added for the promoter, every other rule as it was', async () => {
    const { code, stdout, stderr } = await runCli(['diff', '--rules', path.join(dir, 'candidate'), '--since', '1h', '--json'], env);
    expect(code, stderr).to.equal(0);
    const result = JSON.parse(stdout) as { events: number; rules: Array<{ id: string; added: number; removed: number; changed: number; unchanged: number; samples: object }> };
    expect(result.events).to.equal(4);
    const byId = new Map(result.rules.map((rule) => [rule.id, rule]));
    expect(byId.get('reward-approved')).to.deep.equal({
      id: 'reward-approved', added: 0, removed: 0, changed: 1, unchanged: 0, samples: { added: [], removed: [], changed: ['firstpromoter-22737431'] },
    });
    expect(byId.get('e2e-welcome-promoter')).to.deep.equal({
      id: 'e2e-welcome-promoter', added: 1, removed: 0, changed: 0, unchanged: 0, samples: { added: ['firstpromoter-22733469'], removed: [], changed: [] },
    });
    for (const rule of result.rules.filter((entry) => !['reward-approved', 'e2e-welcome-promoter'].includes(entry.id))) {
      expect(rule.added + rule.removed + rule.changed, rule.id).to.equal(0);
    }
  });

  it('diff: the rendered difference in lines, and nothing sent', async () => {
    const { code, stdout } = await runCli(['diff', '--rules', path.join(dir, 'candidate')], env);
    expect(code).to.equal(0);
    expect(stdout).to.contain('reward-approved: 0 added, 0 removed, 1 changed, 0 unchanged\n  ~ firstpromoter-22737431: slack.post_message (action 1)\n      params.text: ":moneybag: Reward approved');
    expect(stdout).to.contain('→ ":tada: Reward approved');
    expect(stdout.trim().split('\n').at(-1)).to.equal('4 stored events planned with both; 2 rules would act differently (nothing sent)');
  });

  it('coverage --json: every received type is either handled or listed with its count; silent rules name their events', async () => {
    const { code, stdout, stderr } = await runCli(['coverage', '--json'], env);
    expect(code, stderr).to.equal(0);
    const result = JSON.parse(stdout) as { unhandledTypes: Array<{ type: string; count: number }>; silentRules: Array<{ id: string; eventsOfItsTypes: number }> };
    expect(Object.keys(result)).to.deep.equal(['unhandledTypes', 'silentRules']);
    // The shipped rules announce the approved reward, so it is neither unhandled nor silent.
    expect(result.unhandledTypes.map((entry) => entry.type)).not.to.include('firstpromoter.reward_created');
    expect(result.silentRules.map((rule) => rule.id)).not.to.include('reward-approved');
    // The no-suspicion lead matches no shipped rule for leads: each such rule is silent with 1 event of its types.
    expect(result.silentRules).to.deep.include({ id: 'suspicious-lead-alert', eventsOfItsTypes: 1 });
    const total = result.unhandledTypes.reduce((sum, entry) => sum + entry.count, 0);
    expect(total).to.be.at.most(4);
  });
});

const TRACE_ADMIN_TOKEN = 'admin-trace-e2e-token-5e4d3c2b1a09';

/** Issue 14.6 through the built binary: events trace (and the dashboard's event page) on a running bridge with no Slack or HubSpot token. */
describe('affiliate-bridge events trace (the real binary, a running bridge without tokens, real Redis)', function () {
  this.timeout(60_000);
  const prefix = randomPrefix('trace-e2e');
  let redis: Redis;
  let bridge: BridgeProcess;
  let env: Record<string, string>;
  let operations: BridgeOperations;
  const fixture = async (name: string) => JSON.parse(await readFile(`test/fixtures/deliveries/${name}.json`, 'utf8'));

  before(async () => {
    redis = new Redis(SHARED_REDIS_URL);
    operations = new BridgeOperations(redis, prefix);
    env = bridgeTestEnv({ prefix, rulesDir: 'rules', extra: { ADMIN_TOKEN: TRACE_ADMIN_TOKEN } });
    bridge = await BridgeProcess.start({ env });
    for (const name of ['reward_created', 'lead_signup']) {
      expect((await postFirstPromoter(bridge.baseUrl, JSON.stringify(await fixture(`firstpromoter/${name}`)))).status).to.equal(202);
    }
    // A Rewardful event whose id is FirstPromoter's reward's: the bare id 22737431 names two events.
    const colliding = await fixture('rewardful/referral.converted');
    colliding.event.id = '22737431';
    expect((await postRewardful(bridge.baseUrl, JSON.stringify(colliding))).status).to.equal(200);
    const ids = ['firstpromoter-22737431', 'firstpromoter-22736304', 'rewardful-22737431'];
    await waitFor(async () => (await Promise.all(ids.map((id) => redis.exists(`${prefix}:trace:${id}`)))).every((found) => found === 1));
    // Every action of the reward has run (as a dry-run: no token).
    await waitFor(async () => {
      const trace = await operations.getEventTrace('firstpromoter-22737431');
      const actions = trace ? await operations.getActionStatuses(trace) : [];
      return actions.length > 0 && actions.every((action) => action.state === 'completed');
    });
  });

  after(async () => {
    await bridge?.stop();
    await operations?.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('a dry-run action reads dry-run, not completed, with why nothing was sent; --json has it as its status', async () => {
    const text = await runCli(['events', 'trace', 'firstpromoter-22737431'], env);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.contain(
      'action firstpromoter-22737431.reward-approved.0: dry-run after 1 attempt(s): nothing sent (SLACK_BOT_TOKEN was not set in the worker that ran it)\n',
    );
    expect(text.stdout).not.to.match(/: completed after/);
    const json = await runCli(['events', 'trace', 'firstpromoter-22737431', '--json'], env);
    const actions = (JSON.parse(json.stdout) as { actions: Array<{ jobId: string; state: string; status: string }> }).actions;
    expect(actions.map(({ jobId, state, status }) => ({ jobId, state, status }))).to.deep.equal([
      { jobId: 'firstpromoter-22737431.reward-approved.0', state: 'completed', status: 'dry-run' },
    ]);
  });

  it('a rule not matched says which part of its condition was false, and the field it read', async () => {
    const { code, stdout } = await runCli(['events', 'trace', 'firstpromoter-22736304'], env);
    expect(code).to.equal(0);
    expect(stdout).to.contain('  not matched suspicious-lead-alert: condition_false: data.suspicion != "no_suspicion" is false (data.suspicion = "no_suspicion")\n');
  });

  it('accepts the provider\'s bare id when one source has it: the same trace as the full id', async () => {
    const bare = await runCli(['events', 'trace', '22736304'], env);
    const full = await runCli(['events', 'trace', 'firstpromoter-22736304'], env);
    expect(bare.code, bare.stderr).to.equal(0);
    expect(bare.stdout).to.equal(full.stdout);
    expect(bare.stdout.split('\n')[0]).to.match(/^firstpromoter-22736304 {2}firstpromoter\.lead_signup {2}valid {2}received /);
  });

  it('the dashboard\'s event page: the dry-run action in its own (not green) badge, and the false part of the condition', async () => {
    const page = async (eventId: string) => {
      const response = await fetch(`${bridge.baseUrl}/admin?event=${eventId}`, { headers: { authorization: `Bearer ${TRACE_ADMIN_TOKEN}` } });
      expect(response.status).to.equal(200);
      return response.text();
    };
    const reward = await page('firstpromoter-22737431');
    const row = /<tr data-job-id="firstpromoter-22737431\.reward-approved\.0">[\s\S]*?<\/tr>/.exec(reward)![0];
    expect(row).to.contain('<td class="js-state"><span class="badge badge-warn">dry-run</span> <span class="muted">nothing sent: no credentials</span></td>');
    expect(row).not.to.contain('badge-ok');
    const lead = await page('firstpromoter-22736304');
    expect(lead).to.contain(
      '<td class="false-parts">data.suspicion != &quot;no_suspicion&quot; is false (data.suspicion = &quot;no_suspicion&quot;)</td>',
    );
  });

  it('a bare id that several sources have: lists them, exit 1; an id nobody has: the not-found line, exit 1', async () => {
    const several = await runCli(['events', 'trace', '22737431'], env);
    expect(several.code).to.equal(1);
    expect(several.stdout).to.equal('');
    expect(several.stderr.trim().split('\n')).to.deep.equal([
      'Provider id 22737431 matches 2 stored events:',
      '  firstpromoter-22737431',
      '  rewardful-22737431',
      'Name one: affiliate-bridge events trace <event id>',
    ]);
    const none = await runCli(['events', 'trace', '99999999'], env);
    expect(none.code).to.equal(1);
    expect(none.stderr.trim()).to.equal('No stored event 99999999 (unknown id, not processed yet, or older than DEDUP_TTL)');
  });
});
