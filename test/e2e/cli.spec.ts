import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { runCli } from '../support/bridge-process.js';

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
    expect(stdout).to.contain('once_per key "2429153" (held for DEDUP_TTL): sent only if no earlier event holds this key, which simulate cannot know (it reads no Redis)');
  });

  it('simulate --json: the same as JSON, with why the other rules did not match', async () => {
    const { code, stdout } = await runCli(['simulate', 'test/fixtures/deliveries/firstpromoter/lead_signup.json', '--json']);
    expect(code).to.equal(0);
    const result = JSON.parse(stdout);
    expect(result.event.type).to.equal('firstpromoter.lead_signup');
    expect(result.matched).to.deep.equal([]);
    expect(result.unmatched.map((rule: { ruleId: string; reason: string }) => [rule.ruleId, rule.reason])).to.deep.include(['suspicious-lead-alert', 'condition_false']);
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
