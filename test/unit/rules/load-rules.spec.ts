import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { actionRegistry } from '../../../src/actions/registry.js';
import { compileRuleFiles } from '../../../src/rules/compile-rules.js';
import { loadRules } from '../../../src/rules/load-rules.js';
import { formatProblem, RuleLoadError } from '../../../src/rules/problems.js';

const BAD = 'test/fixtures/rules/bad';

async function problemsOf(name: string): Promise<string[]> {
  const file = `${BAD}/${name}`;
  const result = compileRuleFiles([{ file, content: await readFile(file) }], { actions: actionRegistry });
  expect(result.ok, `${name} should not load`).to.equal(false);
  return result.problems.map((problem) => formatProblem(problem));
}

describe('rules/load-rules', () => {
  describe('a bad rule file reports its exact problem', () => {
    const table: Array<[file: string, problems: string[]]> = [
      ['yaml-syntax.yaml', [
        `${BAD}/yaml-syntax.yaml:5:1: Flow map in block collection must be sufficiently indented and end with a }`,
        `${BAD}/yaml-syntax.yaml:5:1: Flow sequence in block collection must be sufficiently indented and end with a ]`,
      ]],
      ['unknown-key.yaml', [`${BAD}/unknown-key.yaml:4:5: unknown key iff: a rule takes id, description, on, if, do`]],
      ['missing-on.yaml', [`${BAD}/missing-on.yaml:2:5: rule no-trigger needs on: the event type, types or glob it runs for`]],
      ['missing-do.yaml', [`${BAD}/missing-do.yaml:2:5: rule no-actions needs do: the list of actions it runs`]],
      ['missing-id.yaml', [`${BAD}/missing-id.yaml:2:5: a rule needs an id`]],
      ['bad-id.yaml', [`${BAD}/bad-id.yaml:2:9: id "lead:alert" is not valid: use letters, digits, _ and -, starting with a letter or digit`]],
      ['unknown-action.yaml', [
        `${BAD}/unknown-action.yaml:5:9: unknown action slack.post_messages: known actions are slack.post_message, hubspot.upsert_contact`,
      ]],
      ['two-actions-in-one-item.yaml', [
        `${BAD}/two-actions-in-one-item.yaml:6:9: a do item holds one action, and this one also has hubspot.upsert_contact: make it a separate item`,
      ]],
      ['invalid-params.yaml', [
        `${BAD}/invalid-params.yaml:5:9: slack.post_message needs text or blocks`,
        `${BAD}/invalid-params.yaml:6:20: channel must be a string`,
        `${BAD}/invalid-params.yaml:7:11: unknown key txt: slack.post_message takes channel, text, blocks, thread_ts, unfurl_links, thread_key, reply_broadcast, root_text`,
        `${BAD}/invalid-params.yaml:11:13: property name Company must be a HubSpot internal name: lowercase letters, digits and _`,
      ]],
      // Threads (issue 12).
      ['slack-thread-options.yaml', [
        `${BAD}/slack-thread-options.yaml:5:9: root_text needs thread_key: it is the text of the thread's root`,
        `${BAD}/slack-thread-options.yaml:12:9: thread_key and thread_ts cannot be used together: thread_key finds the thread itself`,
        `${BAD}/slack-thread-options.yaml:20:9: reply_broadcast needs thread_key or thread_ts: only a reply can be broadcast`,
        `${BAD}/slack-thread-options.yaml:30:23: thread_key must be a string`,
        `${BAD}/slack-thread-options.yaml:31:28: reply_broadcast must be true or false`,
      ]],
      ['hubspot-read-only-property.yaml', [
        `${BAD}/hubspot-read-only-property.yaml:8:13: property createdate is read-only in HubSpot (HubSpot sets it itself): remove it`,
      ]],
      ['hubspot-invalid-email.yaml', [`${BAD}/hubspot-invalid-email.yaml:6:18: email ops@localhost is not an address HubSpot accepts`]],
      ['cel-syntax.yaml', [`${BAD}/cel-syntax.yaml:4:26: invalid condition: Unexpected token: EOF`]],
      ['cel-type.yaml', [`${BAD}/cel-type.yaml:4:30: invalid condition: Unknown variable: payload`]],
      ['cel-not-bool.yaml', [`${BAD}/cel-not-bool.yaml:4:9: a condition must be a bool, and this one is a string`]],
      ['template-syntax.yaml', [`${BAD}/template-syntax.yaml:7:27: invalid template in text: output "{{ data.email" not closed`]],
      ['template-unknown-filter.yaml', [`${BAD}/template-unknown-filter.yaml:7:25: invalid template in text: undefined filter: mony`]],
      ['template-unknown-variable.yaml', [
        `${BAD}/template-unknown-variable.yaml:6:22: unknown variable payload in email: templates see event and data`,
      ]],
      ['bad-on-glob.yaml', [
        `${BAD}/bad-on-glob.yaml:3:9: on Rewardful.Commission.* is not an event type or glob: write <source>.<type> in lowercase, such as firstpromoter.lead_signup or rewardful.commission.*`,
      ]],
      ['on-never-matches.yaml', [
        `${BAD}/on-never-matches.yaml:3:37: on stripe.charge.* can never match: event types start with firstpromoter. or rewardful.`,
      ]],
      ['bad-retry.yaml', [
        `${BAD}/bad-retry.yaml:6:28: retry attempts must be a whole number from 1 to 50`,
        `${BAD}/bad-retry.yaml:6:42: retry backoff must be a duration such as 30s or 5m`,
      ]],
      ['once-per-unknown-key.yaml', [
        `${BAD}/once-per-unknown-key.yaml:6:43: unknown key windw: once_per takes key, window`,
        `${BAD}/once-per-unknown-key.yaml:8:9: unknown key onceper: a do item takes one action (slack.post_message, hubspot.upsert_contact), retry and once_per`,
      ]],
      ['once-per-empty-key.yaml', [`${BAD}/once-per-empty-key.yaml:6:19: once_per key must be a non-empty template such as "{{ data.id }}"`]],
      ['once-per-bad-window.yaml', [`${BAD}/once-per-bad-window.yaml:6:51: once_per window must be a duration such as 24h or 7d`]],
      ['empty-do.yaml', [`${BAD}/empty-do.yaml:4:9: do must be a non-empty list of actions`]],
      ['empty-file.yaml', [`${BAD}/empty-file.yaml:1:1: the file is empty: a rule file needs a rules: list`]],
      ['no-rules-list.yaml', [
        `${BAD}/no-rules-list.yaml:1:1: unknown key rule: a rule file takes rules`,
        `${BAD}/no-rules-list.yaml:1:1: a rule file needs a rules: list`,
      ]],
    ];
    for (const [file, expected] of table) {
      it(file, async () => {
        expect(await problemsOf(file)).to.deep.equal(expected);
      });
    }
  });

  describe('once_per on a do item', () => {
    const ruleWith = (oncePer: string) =>
      ['rules:', '  - id: reward-to-fulfil', '    on: firstpromoter.fulfilment_pending', '    do:', '      - slack.post_message: { channel: "#x", text: hi }', `        once_per: ${oncePer}`, ''].join('\n');
    const problemsOfInline = (oncePer: string) =>
      compileRuleFiles([{ file: 'r.yaml', content: ruleWith(oncePer) }], { actions: actionRegistry }).problems.map((problem) => formatProblem(problem));
    const compiled = (oncePer: string) => {
      const result = compileRuleFiles([{ file: 'r.yaml', content: ruleWith(oncePer) }], { actions: actionRegistry });
      if (!result.ok) throw new Error(result.problems.map((problem) => formatProblem(problem)).join('\n'));
      return result.ruleSet.byId('reward-to-fulfil')!.actions[0];
    };

    const table: Array<[oncePer: string, problems: string[]]> = [
      ['', ['r.yaml:6:19: once_per key must be a non-empty template such as "{{ data.id }}"']],
      ['[a, b]', ['r.yaml:6:19: once_per key must be a non-empty template such as "{{ data.id }}"']],
      ['{ window: 1h }', ['r.yaml:6:19: once_per needs key: a template such as "{{ data.id }}"']],
      ['{ key: "", window: 0s }', ['r.yaml:6:26: once_per key must be a non-empty template such as "{{ data.id }}"', 'r.yaml:6:38: once_per window must be a duration such as 24h or 7d']],
      ['{ key: "{{ data.id }}", window: 3600000 }', ['r.yaml:6:51: once_per window must be a duration such as 24h or 7d']],
      ['"{{ data.id"', ['r.yaml:6:19: invalid template in once_per: output "{{ data.id" not closed']],
      ['"{{ data.id | nope }}"', ['r.yaml:6:19: invalid template in once_per: undefined filter: nope']],
      ['"{{ payload.id }}"', ['r.yaml:6:23: unknown variable payload in once_per: templates see event and data']],
    ];
    for (const [oncePer, expected] of table) {
      it(`once_per: ${oncePer || '(nothing)'}`, () => {
        expect(problemsOfInline(oncePer)).to.deep.equal(expected);
      });
    }

    it('compiles the short form (window: DEDUP_TTL) and the mapping form with its window', () => {
      const short = compiled('"{{ data.id }}"');
      expect(short.oncePer?.source).to.equal('{{ data.id }}');
      expect(short.oncePer?.key.kind).to.equal('template');
      expect(short.oncePer).not.to.have.property('windowMs');
      const long = compiled('{ key: "reward-{{ data.id }}", window: 24h }');
      expect(long.oncePer).to.include({ source: 'reward-{{ data.id }}', windowMs: 24 * 3_600_000 });
      // A key with no markup is allowed: once per window for the whole rule action.
      expect(compiled('daily').oncePer?.key).to.deep.equal({ kind: 'static', value: 'daily' });
      expect(compiled('"{{ data.id }}"')).not.to.have.property('retry');
    });
  });

  it('reports every problem of a file at once, in position order', async () => {
    expect(await problemsOf('several-problems.yaml')).to.deep.equal([
      `${BAD}/several-problems.yaml:5:26: invalid condition: Unexpected token: EOF`,
      `${BAD}/several-problems.yaml:9:17: invalid template in text: tag {% if data.email %} not closed`,
      `${BAD}/several-problems.yaml:12:5: unknown key colour: a rule takes id, description, on, if, do`,
      `${BAD}/several-problems.yaml:14:9: email is required`,
      `${BAD}/several-problems.yaml:15:28: retry attempts must be a whole number from 1 to 50`,
      `${BAD}/several-problems.yaml:16:5: a rule needs an id`,
      `${BAD}/several-problems.yaml:16:5: this rule needs on: the event type, types or glob it runs for`,
      `${BAD}/several-problems.yaml:16:5: this rule needs do: the list of actions it runs`,
    ]);
  });

  it('reports a duplicate id across files with both places', async () => {
    const result = await loadRules(`${BAD}/duplicate-id`, { actions: actionRegistry });
    expect(result.ok).to.equal(false);
    expect(result.problems.map((problem) => formatProblem(problem))).to.deep.equal([
      `${BAD}/duplicate-id/b.yaml:7:9: duplicate rule id self-referral-alert: also defined at ${BAD}/duplicate-id/a.yaml:2:9`,
    ]);
  });

  it('reports problems of every file together', async () => {
    const files = ['unknown-key.yaml', 'cel-syntax.yaml', 'empty-file.yaml'];
    const result = compileRuleFiles(
      await Promise.all(files.map(async (name) => ({ file: `${BAD}/${name}`, content: await readFile(`${BAD}/${name}`) }))),
      { actions: actionRegistry },
    );
    expect(result.problems.map((problem) => problem.file)).to.deep.equal([`${BAD}/cel-syntax.yaml`, `${BAD}/empty-file.yaml`, `${BAD}/unknown-key.yaml`]);
  });

  it('points a CEL error inside a literal block at the offending token', () => {
    const content = ['rules:', '  - id: multi-line', '    on: firstpromoter.lead_signup', '    if: |', '      data.status == "approved" &&', '        nope == 1', '    do:', '      - slack.post_message: { channel: "#x", text: hi }', ''].join('\n');
    const result = compileRuleFiles([{ file: 'r.yaml', content }], { actions: actionRegistry });
    expect(result.problems.map((problem) => formatProblem(problem))).to.deep.equal(['r.yaml:6:9: invalid condition: Unknown variable: nope']);
  });

  it('rejects a missing directory', async () => {
    const result = await loadRules('test/fixtures/rules/does-not-exist', { actions: actionRegistry });
    expect(result.problems.map((problem) => formatProblem(problem))).to.deep.equal([
      'test/fixtures/rules/does-not-exist:1:1: the rules directory does not exist',
    ]);
  });

  it('loads the shipped rules, ignores tests/, and hashes each file', async () => {
    const result = await loadRules('rules', { actions: actionRegistry });
    if (!result.ok) throw new Error(result.problems.map((problem) => formatProblem(problem)).join('\n'));
    expect(result.ruleSet.files.map((file) => path.basename(file.file))).to.deep.equal(['customers.yaml', 'fraud.yaml', 'promoters.yaml', 'rewards.yaml']);
    const fraud = result.ruleSet.files.find((file) => file.file.endsWith('fraud.yaml'))!;
    expect(fraud.hash).to.equal(createHash('sha256').update(await readFile('rules/fraud.yaml')).digest('hex'));
    expect(result.ruleSet.byId('suspicious-lead-alert')?.fileHash).to.equal(fraud.hash);
  });

  it('carries every problem on RuleLoadError', () => {
    const error = new RuleLoadError([{ file: 'a.yaml', line: 2, column: 3, message: 'bad' }]);
    expect(error.code).to.equal('rules_invalid');
    expect(error.message).to.equal('rule files have 1 problem:\na.yaml:2:3: bad');
  });
});
