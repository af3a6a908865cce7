import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import * as yup from 'yup';
import { actionRegistry } from '../../../src/actions/registry.js';
import { compileRuleFiles } from '../../../src/rules/compile-rules.js';
import { loadRules } from '../../../src/rules/load-rules.js';
import { planActions } from '../../../src/rules/plan.js';
import { formatProblem } from '../../../src/rules/problems.js';
import { formatEventTypeList, shippedScopeCatalog } from '../../../src/rules/rule-scopes.js';
import { celTypeOf, closestMatch, deriveFieldType, toCelValue, TypeNamer } from '../../../src/rules/scope-types.js';
import { integer, text, timestamp, decimal, defineList, defineRecord, amountsByUnit } from '../../../src/sources/schema-fields.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { eventFromFixture } from './fixture-events.js';

function compile(yaml: string) {
  const result = compileRuleFiles([{ file: 'r.yaml', content: yaml }], { actions: actionRegistry });
  return { result, problems: result.problems.map((problem) => formatProblem(problem)), warnings: (result.warnings ?? []).map((warning) => formatProblem(warning)) };
}

function ruleWith(on: string, condition: string, text = 'hi'): string {
  return ['rules:', '  - id: typed', `    on: ${on}`, `    if: '${condition}'`, '    do:', `      - slack.post_message: { channel: "#x", text: "${text}" }`, ''].join('\n');
}

const reward = eventFromFixture('firstpromoter/reward_created.json');
const withData = (data: Record<string, unknown>) => ({ ...reward, data: { ...reward.data, ...data } });

describe('typed rules (issue 11)', () => {
  describe('the CEL types are derived from yup schemas, generically', () => {
    it('maps integer, decimal, text, timestamp, lists, nested and nullable objects and balances', () => {
      const schema = defineRecord({
        id: integer.required(),
        rate: decimal.nullable(),
        email: text.nullable(),
        at: timestamp.nullable(),
        owner: defineRecord({ id: integer.required() }).nullable(),
        tags: defineList(text.required()),
        balances: amountsByUnit,
      });
      const type = deriveFieldType(schema, 'thing', new TypeNamer());
      if (type.kind !== 'object') throw new Error('not an object');
      expect(Object.fromEntries(Object.entries(type.fields).map(([key, field]) => [key, `${celTypeOf(field)}${field.isNullable ? '?' : ''}`]))).to.deep.equal({
        id: 'int',
        rate: 'double?',
        email: 'string?',
        at: 'google.protobuf.Timestamp?',
        owner: 'Owner?',
        tags: 'list<string>',
        balances: 'map<string, int>?',
      });
    });

    it('hands values to CEL in the declared types: ints as BigInt, timestamps as Date, unlisted numbers as double', () => {
      const schema = yup.object({ amount: integer.required(), rate: decimal.required(), at: timestamp.required() });
      const type = deriveFieldType(schema, 'data', new TypeNamer());
      const value = toCelValue({ amount: 200, rate: 2, at: '2024-10-03T13:45:20.103Z', extra: 3, nested: { n: 1 } }, type) as Map<string, unknown>;
      expect(value.get('amount')).to.equal(200n);
      expect(value.get('rate')).to.equal(2);
      expect(value.get('at')).to.deep.equal(new Date('2024-10-03T13:45:20.103Z'));
      expect(value.get('extra')).to.equal(3);
      expect((value.get('nested') as Map<string, unknown>).get('n')).to.equal(1);
      // A value that does not have its type (a replayed quarantined event) is not coerced.
      expect((toCelValue({ amount: '200' }, type) as Map<string, unknown>).get('amount')).to.equal('200');
    });

    it('suggests the closest name by edit distance, a swap of neighbours counting once', () => {
      expect(closestMatch('amont', ['amount', 'unit', 'id'])).to.equal('amount');
      expect(closestMatch('emial', ['email', 'uid'])).to.equal('email');
      expect(closestMatch('utm_campaign', ['amount', 'unit'])).to.equal(null);
    });
  });

  describe("the issue's table: what used to fail at run time now checks and runs", () => {
    const cases: Array<[condition: string, amount: number, matched: boolean]> = [
      ['data.amount / 100 > 50', 25_000, true],
      ['data.amount / 100 > 50', 200, false],
      ['data.amount + 1 > 100 && data.id % 20 != 0', 25_000, true],
      ['double(data.amount) / 100.0 > 249.5', 25_000, true],
    ];
    for (const [condition, amount, matched] of cases) {
      it(`${condition} with amount ${amount}`, () => {
        const { result, problems } = compile(ruleWith('firstpromoter.reward_created', condition));
        expect(problems).to.deep.equal([]);
        if (!result.ok) return;
        const plan = planActions(result.ruleSet, withData({ amount }));
        expect(plan.unmatched.filter((rule) => rule.reason === 'condition_error')).to.deep.equal([]);
        expect(plan.matched.map((rule) => rule.ruleId)).to.deep.equal(matched ? ['typed'] : []);
      });
    }
  });

  describe('the documented conditions load on their event types', () => {
    const documented: Array<[on: string, condition: string]> = [
      ['rewardful.referral.converted', 'event.envelope.api_version == "v1"'],
      ['firstpromoter.referral.created', 'event.envelope.action == "create"'],
      ['firstpromoter.reward_created', 'data.status == "approved" && data.amount >= 10000'],
      ['firstpromoter.lead_signup', 'data.suspicion in ["self_referral", "same_ip"]'],
      ['firstpromoter.lead_signup', 'data.promoter != null && data.promoter.email != null && data.promoter.email.endsWith("@example.com")'],
      ['rewardful.commission.*', 'event.type.startsWith("rewardful.commission.") && data.state != "voided"'],
      ['firstpromoter.lead_signup', 'event.occurredAt > timestamp("2024-10-01T00:00:00Z")'],
      ['firstpromoter.reward_created', 'data.?lead.?email.orValue("") != ""'],
      ['rewardful.referral.converted', 'has(data.customer) && data.customer != null && has(data.customer.email)'],
      ['firstpromoter.test.referral.created', 'event.data.test == true && data.test == true'],
    ];
    for (const [on, condition] of documented) {
      it(`${on}: ${condition}`, () => {
        expect(compile(ruleWith(on, condition)).problems).to.deep.equal([]);
      });
    }
  });

  describe('fields the schema does not list are reached on purpose', () => {
    it('has() and dyn() in a condition, a quoted key in a template', () => {
      const { result, problems } = compile(ruleWith('firstpromoter.reward_created', 'has(data.utm_source) && dyn(data).utm_source == "newsletter"', `{{ data['utm_source'] }}`));
      expect(problems).to.deep.equal([]);
      if (!result.ok) return;
      expect(planActions(result.ruleSet, withData({ utm_source: 'newsletter' })).actions.map((action) => action.params.text)).to.deep.equal(['newsletter']);
      expect(planActions(result.ruleSet, reward).actions).to.deep.equal([]);
    });

    it('a test delivery type has no schema: its data is untyped', () => {
      expect(compile(ruleWith('firstpromoter.test.referral.created', 'data.test == true', '{{ data.test }}')).problems).to.deep.equal([]);
    });
  });

  it('a glob is checked against every type it matches, naming those where a field is missing', () => {
    const { problems } = compile(ruleWith('rewardful.*.created', 'data.amount != null'));
    expect(problems).to.deep.equal([
      "r.yaml:4:15: unknown field data.amount: the schema does not list it; for a field the provider sends unlisted, test has(data.amount) and read dyn(data).amount (for rewardful.affiliate.created and 4 more of this rule's event types)",
    ]);
  });

  describe('lint: two rules posting to one channel for one event type', () => {
    it('warns (a warning, not a problem) with both rules, the channel and the type', () => {
      const { result, warnings } = compile(`rules:
  - id: suspicious-lead-alert
    on: firstpromoter.lead_signup
    if: data.suspicion != null && data.suspicion != "no_suspicion"
    do:
      - slack.post_message: { channel: "#affiliate-fraud", text: "suspicious" }
  - id: self-referral-alert
    on: [firstpromoter.lead_signup, firstpromoter.new_customer]
    if: data.suspicion == "self_referral"
    do:
      - slack.post_message: { channel: "#affiliate-fraud", text: "self-referral" }
      - slack.post_message: { channel: "#ops", text: "self-referral" }
`);
      expect(result.ok).to.equal(true);
      expect(warnings).to.deep.equal([
        'r.yaml:11:40: rules suspicious-lead-alert and self-referral-alert both post to #affiliate-fraud for firstpromoter.lead_signup: an event that matches both posts twice',
      ]);
    });

    it('the shipped rules load with no problem and no warning', async () => {
      const result = await loadRules('rules', { actions: actionRegistry });
      expect(result.problems.map((problem) => formatProblem(problem))).to.deep.equal([]);
      expect((result.warnings ?? []).map((warning) => formatProblem(warning))).to.deep.equal([]);
    });
  });

  it('rules/README.md lists every event type of the registry (regenerate it from formatEventTypeList)', async () => {
    const readme = await readFile('rules/README.md', 'utf8');
    const listed = /<!-- event-types:start -->\n([\s\S]*?)\n<!-- event-types:end -->/.exec(readme)?.[1];
    expect(listed).to.equal(formatEventTypeList(sourceRegistry));
    // And the list covers what `check` accepts.
    for (const type of shippedScopeCatalog().eventTypes) expect(listed).to.include(`\`${type}\``);
  });
});
