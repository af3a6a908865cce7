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

  it('a bad environment stops the bridge with one line per problem', async () => {
    const { code, stderr } = await runCli(['start'], { PORT: 'eighty', DEDUP_TTL: 'forever' });
    expect(code).to.equal(1);
    expect(stderr.trim().split('\n').sort()).to.deep.equal([
      'config: DEDUP_TTL must be a duration such as 500ms, 30s, 10m, 12h or 7d',
      'config: PORT must be a port number between 0 and 65535',
    ]);
  });
});
