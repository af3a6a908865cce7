import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import { runTestCommand } from '../../../src/cli/commands/test.js';
import { setEventPath } from '../../../src/rules/tooling/event-from-payload.js';
import { buildEvent } from './fixture-events.js';

function collect() {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { io: { stdout: (line: string) => stdout.push(line), stderr: (line: string) => stderr.push(line) }, stdout, stderr };
}

describe('rules/rule-tests', () => {
  it('prints one line per case with reasons, and the totals', async () => {
    const { io, stdout, stderr } = collect();
    const code = await runTestCommand({ rulesDir: 'test/fixtures/rules/rule-tests' }, io);
    expect(stderr).to.deep.equal([]);
    expect(stdout).to.deep.equal([
      '✓ tests/leads.yaml › passes',
      '✗ tests/leads.yaml › wrong rules',
      '    expected suspicious-lead to fire, but none fired',
      '    rule suspicious-lead condition: data.suspicion != "no_suspicion" is false (data.suspicion = "no_suspicion")',
      '✗ tests/leads.yaml › wrong text',
      '    expected action 1 (slack.post_message): text is "Possible same_ip: goqucugo@mailinator.com", not "Possible self_referral: goqucugo@mailinator.com"',
      '✗ tests/leads.yaml › something fired',
      '    expected nothing to fire, but suspicious-lead fired',
      '✗ tests/leads.yaml › missing field in strict mode',
      '    rule lead-nickname action 1 (slack.post_message) could not be planned: text: missing field data.nickname',
      '✗ tests/leads.yaml › missing fixture',
      `    cannot read fixture test/fixtures/rules/rule-tests/nowhere.json: ENOENT: no such file or directory, open 'test/fixtures/rules/rule-tests/nowhere.json'`,
      '✓ tests/leads.yaml › inline payload with inferred source',
      '2 passed, 5 failed',
    ]);
    expect(code).to.equal(1);
  });

  it('reports every problem of a case file as file:line:col and runs nothing', async () => {
    const { io, stdout, stderr } = collect();
    const code = await runTestCommand({ rulesDir: 'test/fixtures/rules/rule-tests-bad' }, io);
    const file = 'test/fixtures/rules/rule-tests-bad/tests/bad.yaml';
    expect(stdout).to.deep.equal([]);
    expect(stderr).to.deep.equal([
      `${file}:4:5: a test case takes fixture or payload, not both`,
      `${file}:5:15: nothing: true cannot be combined with rules or actions`,
      `${file}:6:5: a test case needs a name`,
      `${file}:7:5: unknown key sorce: a test case takes name, fixture, payload, source, set, expect`,
      `${file}:8:12: set path data.__proto__.x names a forbidden key`,
      `${file}:8:33: set path other.path must start with data. or event.`,
      `${file}:9:13: expect needs nothing: true, rules or actions`,
      `${file}:14:47: text needs contains or equals`,
      `${file}:14:49: unknown key starts: text takes contains, equals`,
      '9 problems: no test case ran',
    ]);
    expect(code).to.equal(1);
  });

  it('checks the rendered once_per key of an expected action', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rule-tests-once-per-'));
    try {
      await mkdir(join(dir, 'tests'));
      await writeFile(join(dir, 'rewards.yaml'), [
        'rules:',
        '  - id: to-fulfil',
        '    on: firstpromoter.fulfilment_pending',
        '    do:',
        '      - slack.post_message: { channel: "#x", text: "reward {{ data.id }}" }',
        '        once_per: "reward-{{ data.id }}"',
        '      - slack.post_message: { channel: "#y", text: "no key" }',
        '',
      ].join('\n'));
      // Fixture paths are relative to the case file.
      const fixture = relative(join(dir, 'tests'), join(process.cwd(), 'test/fixtures/deliveries/firstpromoter/fulfilment_pending.json'));
      await writeFile(join(dir, 'tests', 'rewards.yaml'), [
        'cases:',
        '  - name: right key',
        `    fixture: ${fixture}`,
        '    expect:',
        '      actions:',
        '        - { params: { channel: "#x" }, once_per: "reward-2429153" }',
        '        - { params: { channel: "#y" } }',
        '  - name: wrong key',
        `    fixture: ${fixture}`,
        '    expect:',
        '      actions:',
        '        - { params: { channel: "#x" }, once_per: "2429153" }',
        '        - { params: { channel: "#y" } }',
        '  - name: no key',
        `    fixture: ${fixture}`,
        '    expect:',
        '      actions:',
        '        - { params: { channel: "#x" } }',
        '        - { params: { channel: "#y" }, once_per: "reward-2429153" }',
        '',
      ].join('\n'));
      const { io, stdout, stderr } = collect();
      expect(await runTestCommand({ rulesDir: dir }, io)).to.equal(1);
      expect(stderr).to.deep.equal([]);
      expect(stdout).to.deep.equal([
        '✓ tests/rewards.yaml › right key',
        '✗ tests/rewards.yaml › wrong key',
        '    expected action 1 (any action): once_per key is "reward-2429153", not "2429153"',
        '✗ tests/rewards.yaml › no key',
        '    expected action 2 (any action): it has no once_per',
        '1 passed, 2 failed',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('set paths', () => {
    const event = buildEvent('firstpromoter.lead_signup', { email: 'a@example.com', promoter: { email: 'p@example.com' } });

    it('sets nested data without touching the original event', () => {
      const changed = setEventPath(event, 'data.promoter.email', 'q@example.com');
      expect((changed.data.promoter as { email: string }).email).to.equal('q@example.com');
      expect((event.data.promoter as { email: string }).email).to.equal('p@example.com');
    });

    it('creates missing objects and sets event fields', () => {
      expect(setEventPath(event, 'data.lead.email', 'x').data.lead).to.deep.equal({ email: 'x' });
      expect(setEventPath(event, 'event.type', 'firstpromoter.new_customer').type).to.equal('firstpromoter.new_customer');
    });

    it('refuses prototype paths and paths outside data and event', () => {
      expect(() => setEventPath(event, 'data.__proto__.polluted', true)).to.throw('cannot set data.__proto__.polluted: __proto__ is not allowed in a path');
      expect(() => setEventPath(event, 'data.constructor.prototype', true)).to.throw('constructor is not allowed');
      expect(() => setEventPath(event, 'env.SECRET', 'x')).to.throw('cannot set env.SECRET: paths start with data. or event.');
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    });
  });
});
