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
      ['id-too-long.yaml', [`${BAD}/id-too-long.yaml:2:9: id is 71 characters long: a rule id has at most 64`]],
      ['alias-bomb.yaml', [
        `${BAD}/alias-bomb.yaml:14:25: the aliases of this file (from *c) repeat anchored content more than 100 times: use fewer aliases, and no aliases of content that holds aliases`,
      ]],
      ['alias-unknown.yaml', [`${BAD}/alias-unknown.yaml:5:40: unknown alias *fraud_channel: define the anchor &fraud_channel before it`]],
      ['unknown-action.yaml', [
        `${BAD}/unknown-action.yaml:5:9: unknown action slack.post_messages: known actions are slack.post_message, hubspot.upsert_contact`,
      ]],
      ['two-actions-in-one-item.yaml', [
        `${BAD}/two-actions-in-one-item.yaml:6:9: a do item holds one action, and this one also has hubspot.upsert_contact: make it a separate item`,
      ]],
      ['invalid-params.yaml', [
        `${BAD}/invalid-params.yaml:5:9: slack.post_message needs text or blocks`,
        `${BAD}/invalid-params.yaml:6:20: channel must be a string`,
        `${BAD}/invalid-params.yaml:7:11: unknown key txt: slack.post_message takes channel, text, blocks, thread_ts, unfurl_links, group, digest_text, thread_key, reply_broadcast, root_text`,
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
        `${BAD}/template-unknown-variable.yaml:6:22: unknown variable payload in email: templates see event, data and affiliate`,
      ]],
      ['bad-on-glob.yaml', [
        `${BAD}/bad-on-glob.yaml:3:9: on Rewardful.Commission.* is not an event type or glob: write <source>.<type> in lowercase, such as firstpromoter.lead_signup or rewardful.commission.*`,
      ]],
      ['on-never-matches.yaml', [
        `${BAD}/on-never-matches.yaml:3:37: on stripe.charge.* can never match: event types start with firstpromoter., rewardful., affiliate. or bridge.`,
      ]],
      // Issue 11: the mistakes that used to pass check and never fire.
      ['unknown-field.yaml', [`${BAD}/unknown-field.yaml:5:14: unknown field data.amont: did you mean data.amount?`]],
      ['unknown-field-no-suggestion.yaml', [
        `${BAD}/unknown-field-no-suggestion.yaml:4:14: unknown field data.utm_campaign: the schema does not list it; for a field the provider sends unlisted, test has(data.utm_campaign) and read dyn(data).utm_campaign`,
      ]],
      ['cel-type-string-vs-number.yaml', [
        `${BAD}/cel-type-string-vs-number.yaml:5:9: invalid condition: no such overload: string > int`,
        `${BAD}/cel-type-string-vs-number.yaml:10:9: invalid condition: no such overload: string + int`,
      ]],
      ['nullable-unguarded.yaml', [
        `${BAD}/nullable-unguarded.yaml:5:9: data.promotion can be null, and a null here fails the condition at run time: test data.promotion != null first (has() is true for a null field)`,
        `${BAD}/nullable-unguarded.yaml:5:9: data.promotion.sales_total can be null, and a null here fails the condition at run time: test data.promotion.sales_total != null first (has() is true for a null field)`,
        `${BAD}/nullable-unguarded.yaml:10:30: data.website can be null, and a null here fails the condition at run time: test data.website != null first (has() is true for a null field)`,
      ]],
      ['template-unknown-field.yaml', [`${BAD}/template-unknown-field.yaml:8:51: unknown field data.lead.emial in text: did you mean data.lead.email?`]],
      ['on-unknown-type.yaml', [
        `${BAD}/on-unknown-type.yaml:4:9: on rewardful.commission.create is not an event type of rewardful: did you mean rewardful.commission.created?`,
        `${BAD}/on-unknown-type.yaml:8:10: on rewardful.commision.* matches no event type of rewardful: did you mean rewardful.commission.*?`,
        `${BAD}/on-unknown-type.yaml:8:33: on firstpromoter.lead_sign_up is not an event type of firstpromoter: did you mean firstpromoter.lead_signup?`,
      ]],
      ['field-on-some-types.yaml', [
        `${BAD}/field-on-some-types.yaml:5:14: unknown field data.website: the schema does not list it; for a field the provider sends unlisted, test has(data.website) and read dyn(data).website (for firstpromoter.reward_created, one of this rule's event types)`,
      ]],
      ['bad-retry.yaml', [
        `${BAD}/bad-retry.yaml:6:28: retry attempts must be a whole number from 1 to 50`,
        `${BAD}/bad-retry.yaml:6:42: retry backoff must be a duration such as 30s or 5m`,
      ]],
      ['once-per-unknown-key.yaml', [
        `${BAD}/once-per-unknown-key.yaml:6:43: unknown key windw: once_per takes key, window`,
        `${BAD}/once-per-unknown-key.yaml:8:9: unknown key onceper: a do item takes one action (slack.post_message, hubspot.upsert_contact), retry, once_per and throttle`,
      ]],
      ['once-per-empty-key.yaml', [`${BAD}/once-per-empty-key.yaml:6:19: once_per key must be a non-empty template such as "{{ data.id }}"`]],
      ['once-per-bad-window.yaml', [`${BAD}/once-per-bad-window.yaml:6:51: once_per window must be a duration such as 24h or 7d`]],
      ['group-invalid.yaml', [
        `${BAD}/group-invalid.yaml:8:56: group wait must be a duration such as 30s or 2m, at most 1h`,
        `${BAD}/group-invalid.yaml:8:67: group max must be a whole number from 2 to 100`,
        `${BAD}/group-invalid.yaml:8:70: unknown key per: group takes by, wait, max`,
        `${BAD}/group-invalid.yaml:12:18: group needs by: a template such as "{{ data.promoter.id }}"`,
        `${BAD}/group-invalid.yaml:13:51: unknown variable data in digest_text: this template sees events and count`,
        `${BAD}/group-invalid.yaml:14:9: digest_text needs group: it renders the digest of a group`,
      ]],
      ['blocks-invalid.yaml', [
        `${BAD}/blocks-invalid.yaml:10:21: blocks[0].text must be a plain_text object: a header's text is { type: plain_text, text: "…" }`,
        `${BAD}/blocks-invalid.yaml:11:21: blocks[1].type sektion is not a block type Slack posts in messages: use one of actions, context, divider, file, header, image, input, markdown, rich_text, section, table, video`,
        `${BAD}/blocks-invalid.yaml:13:15: blocks[2] is a section: it needs text or fields`,
        `${BAD}/blocks-invalid.yaml:14:15: blocks[3] needs type: a Block Kit block type such as section, header, context, actions or divider`,
        `${BAD}/blocks-invalid.yaml:15:15: blocks[4] is a context block: it needs elements, a list of 1 to 10`,
        `${BAD}/blocks-invalid.yaml:20:51: blocks[5].elements[0].text.text is 91 characters; Slack allows at most 75 on a button`,
      ]],
      ['throttle-missing-window.yaml', [`${BAD}/throttle-missing-window.yaml:6:19: throttle needs window: a duration such as 24h or 7d`]],
      ['throttle-and-once-per.yaml', [`${BAD}/throttle-and-once-per.yaml:7:9: a do item takes throttle or once_per, not both: once_per is the shorthand of throttle`]],
      ['throttle-not-a-mapping.yaml', [
        `${BAD}/throttle-not-a-mapping.yaml:6:19: throttle must be a mapping such as { key: "{{ data.promoter.id }}", window: 24h }`,
        `${BAD}/throttle-not-a-mapping.yaml:8:60: throttle window must be a duration such as 24h or 7d`,
        `${BAD}/throttle-not-a-mapping.yaml:8:66: unknown key per: throttle takes key, window`,
      ]],
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
      ['"{{ payload.id }}"', ['r.yaml:6:23: unknown variable payload in once_per: templates see event, data and affiliate']],
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

    it('throttle is the general form: it compiles to the very setting once_per does, naming its form', () => {
      const throttleRule = ruleWith('x').replace('once_per: x', 'throttle: { key: "reward-{{ data.id }}", window: 24h }');
      const result = compileRuleFiles([{ file: 'r.yaml', content: throttleRule }], { actions: actionRegistry });
      if (!result.ok) throw new Error(result.problems.map((problem) => formatProblem(problem)).join('\n'));
      const throttled = result.ruleSet.byId('reward-to-fulfil')!.actions[0].oncePer!;
      const shorthand = compiled('{ key: "reward-{{ data.id }}", window: 24h }').oncePer!;
      expect({ ...throttled, key: throttled.key.kind }).to.deep.equal({ ...shorthand, key: shorthand.key.kind, form: 'throttle' });
      expect(shorthand.form).to.equal('once_per');
    });
  });

  describe('bounds on aliases and ids (a file cannot exhaust memory or grow job ids)', () => {
    const compile = (content: string) => compileRuleFiles([{ file: 'r.yaml', content }], { actions: actionRegistry });
    const ruleUsing = (id: string, extra = '') =>
      [`rules:`, `  - id: ${id}`, `    on: firstpromoter.lead_signup`, `    do:`, `      - slack.post_message: { channel: "#x", text: hi }`, extra].join('\n');

    it('keeps ordinary anchors working: one channel shared by several actions', () => {
      const result = compile(
        ['x-channel: &fraud "#affiliate-fraud"', 'rules:', '  - id: a', '    on: firstpromoter.lead_signup', '    do:',
          ...Array.from({ length: 20 }, () => '      - slack.post_message: { channel: *fraud, text: hi }'), ''].join('\n'),
      );
      // The file still fails, but only for its unknown top-level key: the aliases are fine.
      expect(result.problems.map((problem) => formatProblem(problem))).to.deep.equal(['r.yaml:1:1: unknown key x-channel: a rule file takes rules']);
    });

    it('refuses more than 100 repeats of one anchor, at the first alias', () => {
      const lines = ['rules:', '  - id: a', '    on: firstpromoter.lead_signup', '    do:', '      - slack.post_message: { channel: &c "#x", text: hi }'];
      for (let i = 0; i < 101; i += 1) lines.push('      - slack.post_message: { channel: *c, text: hi }');
      expect(compile(lines.join('\n')).problems.map((problem) => formatProblem(problem))).to.deep.equal([
        'r.yaml:6:40: the aliases of this file (from *c) repeat anchored content more than 100 times: use fewer aliases, and no aliases of content that holds aliases',
      ]);
    });

    it('accepts an id of 64 characters and refuses one of 65, whatever its characters', () => {
      expect(compile(ruleUsing('a'.repeat(64))).ok).to.equal(true);
      expect(compile(ruleUsing('a'.repeat(65))).problems.map((problem) => formatProblem(problem))).to.deep.equal([
        'r.yaml:2:9: id is 65 characters long: a rule id has at most 64',
      ]);
      expect(compile(ruleUsing('"a b"')).problems.map((problem) => problem.message)).to.deep.equal([
        'id "a b" is not valid: use letters, digits, _ and -, starting with a letter or digit',
      ]);
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
