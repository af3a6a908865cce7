import { expect } from 'chai';
import * as yup from 'yup';
import type { Action, ActionCatalog } from '../../../src/actions/action.js';
import { actionRegistry } from '../../../src/actions/registry.js';
import type { BridgeEvent } from '../../../src/events/event.js';
import { compileRuleFiles } from '../../../src/rules/compile-rules.js';
import { loadRules } from '../../../src/rules/load-rules.js';
import { planActions } from '../../../src/rules/plan.js';
import { formatProblem } from '../../../src/rules/problems.js';
import type { RuleSet } from '../../../src/rules/rule-set.js';
import { buildEvent, eventFromFixture } from './fixture-events.js';

async function loadMatchRules(): Promise<RuleSet> {
  const result = await loadRules('test/fixtures/rules/match', { actions: actionRegistry });
  if (!result.ok) throw new Error(result.problems.map((problem) => formatProblem(problem)).join('\n'));
  return result.ruleSet;
}

/**
 * Compiles inline rules untyped (an empty source registry): these cases feed hand-made payloads
 * with fields the schemas do not list, to test rendering, not the load-time field check.
 */
function ruleSetOf(yaml: string, actions: ActionCatalog = actionRegistry): RuleSet {
  const result = compileRuleFiles([{ file: 'inline.yaml', content: yaml }], { actions, registry: {} });
  if (!result.ok) throw new Error(result.problems.map((problem) => formatProblem(problem)).join('\n'));
  return result.ruleSet;
}

interface MatchCase {
  readonly name: string;
  readonly event: BridgeEvent;
  readonly rules: string[];
  readonly actions: string[];
  /** `ruleId/actionIndex` → a subset of its rendered params. */
  readonly params?: Record<string, Record<string, unknown>>;
  readonly unmatched?: Array<[ruleId: string, reason: string]>;
}

function withData(event: BridgeEvent, data: Record<string, unknown>): BridgeEvent {
  return { ...event, data: { ...event.data, ...data } };
}

const lead = eventFromFixture('firstpromoter/lead_signup.json');
const suspiciousLead = withData(lead, { suspicion: 'self_referral' });

const table: MatchCase[] = [
  {
    name: 'a lead with no suspicion: only the lead rules without a failing condition',
    event: lead,
    rules: ['every-lead', 'big-campaign-lead'],
    actions: ['hubspot.upsert_contact', 'slack.post_message'],
    params: {
      'every-lead/0': { email: 'goqucugo@mailinator.com', properties: { lifecyclestage: 'lead', leads_of_promoter: '4' } },
      'big-campaign-lead/0': { channel: '#big-campaigns', text: 'Main Campaign has sold $2,010.00' },
    },
    unmatched: [['suspicious-lead', 'condition_false'], ['lead-with-website', 'condition_error'], ['any-firstpromoter-event', 'condition_false']],
  },
  {
    name: 'a suspicious lead: the fraud rule renders both its actions, in order',
    event: suspiciousLead,
    rules: ['suspicious-lead', 'every-lead', 'big-campaign-lead'],
    actions: ['slack.post_message', 'hubspot.upsert_contact', 'hubspot.upsert_contact', 'slack.post_message'],
    params: {
      'suspicious-lead/0': { channel: '#affiliate-fraud', text: 'Possible self_referral: goqucugo@mailinator.com via promoter@example.com' },
      'suspicious-lead/1': { email: 'goqucugo@mailinator.com', properties: { affiliate_suspicion: 'self_referral' } },
    },
  },
  {
    name: 'an approved reward: the exact rule and the firstpromoter.* glob',
    event: eventFromFixture('firstpromoter/reward_created.json'),
    rules: ['approved-reward', 'any-firstpromoter-event'],
    actions: ['slack.post_message', 'slack.post_message'],
    params: {
      'approved-reward/0': { text: 'promoter@example.com earned $2.00 on $100.00' },
      'any-firstpromoter-event/0': { text: 'firstpromoter.reward_created firstpromoter-22737431' },
    },
  },
  {
    name: 'a pending reward: the glob still fires, the approval rule does not',
    event: withData(eventFromFixture('firstpromoter/reward_created.json'), { status: 'pending' }),
    rules: ['any-firstpromoter-event'],
    actions: ['slack.post_message'],
    unmatched: [['approved-reward', 'condition_false']],
  },
  {
    name: 'a promoter sign-up: no rule is written for it',
    event: eventFromFixture('firstpromoter/promoter_signed_up.json'),
    rules: [],
    actions: [],
  },
  {
    name: 'the firstpromoter.* glob does not cross a dot',
    event: buildEvent('firstpromoter.referral.created', { id: 1 }),
    rules: [],
    actions: [],
  },
  {
    name: 'a Rewardful conversion',
    // A mixed-case address: the action lower-cases it (the scraped "[email protected]" of the
    // negative fixture is a plan failure, below).
    event: withData(eventFromFixture('rewardful/referral.converted.json'), {
      customer: { ...(eventFromFixture('rewardful/referral.converted.json').data as { customer: object }).customer, email: 'Fred.Durst@Example.com' },
    }),
    rules: ['rewardful-conversion'],
    actions: ['hubspot.upsert_contact'],
    // Rendered params are kept byte for byte; the action normalizes the email when it sends.
    params: { 'rewardful-conversion/0': { email: 'Fred.Durst@Example.com', properties: { lifecyclestage: 'customer' } } },
  },
  {
    name: 'a Rewardful commission matches rewardful.commission.*',
    event: buildEvent('rewardful.commission.paid', { amount: 1500, currency: 'EUR' }),
    rules: ['rewardful-commissions'],
    actions: ['slack.post_message'],
    params: { 'rewardful-commissions/0': { text: 'commission.paid: €15.00' } },
  },
];

describe('rules/plan', () => {
  let ruleSet: RuleSet;
  before(async () => {
    ruleSet = await loadMatchRules();
  });

  describe('matching table: event in, rules and actions out', () => {
    for (const testCase of table) {
      it(testCase.name, () => {
        const plan = planActions(ruleSet, testCase.event);
        expect(plan.failures).to.deep.equal([]);
        expect(plan.matched.map((rule) => rule.ruleId)).to.deep.equal(testCase.rules);
        expect(plan.actions.map((action) => action.action)).to.deep.equal(testCase.actions);
        for (const [key, params] of Object.entries(testCase.params ?? {})) {
          const [ruleId, index] = key.split('/');
          const action = plan.actions.find((candidate) => candidate.provenance.ruleId === ruleId && candidate.provenance.actionIndex === Number(index));
          expect(action, key).to.not.equal(undefined);
          expect(action!.params).to.deep.include(params);
        }
        if (testCase.unmatched) {
          expect(plan.unmatched.map((rule) => [rule.ruleId, rule.reason])).to.deep.equal(testCase.unmatched);
        }
      });
    }
  });

  it('carries provenance and the retry override on each action', () => {
    const plan = planActions(ruleSet, suspiciousLead);
    const [slack, hubspot] = plan.matched[0].actions;
    expect(slack.retry).to.deep.equal({ attempts: 3, backoffMs: 120_000 });
    expect(hubspot.retry).to.equal(undefined);
    expect(hubspot.provenance).to.deep.include({
      eventId: 'firstpromoter-22736304',
      ruleId: 'suspicious-lead',
      ruleFile: 'test/fixtures/rules/match/leads.yaml',
      actionIndex: 1,
    });
    expect(hubspot.provenance.ruleFileHash).to.match(/^[0-9a-f]{64}$/);
  });

  it('reports a condition that throws as condition_error with its message, never throwing', () => {
    const plan = planActions(ruleSet, lead);
    expect(plan.unmatched.find((rule) => rule.ruleId === 'lead-with-website')).to.deep.include({
      reason: 'condition_error',
      error: 'found no matching overload for \'null.startsWith(string)\'',
    });
  });

  it('records which part of a false condition was false, and not for an error; explainFalseConditions: false leaves it out', () => {
    const plan = planActions(ruleSet, lead);
    expect(plan.unmatched.find((rule) => rule.ruleId === 'suspicious-lead')).to.deep.equal({
      ruleId: 'suspicious-lead',
      file: 'test/fixtures/rules/match/leads.yaml',
      reason: 'condition_false',
      falseParts: [{ text: 'data.suspicion != "no_suspicion"', fields: [{ path: 'data.suspicion', value: '"no_suspicion"' }] }],
    });
    expect(plan.unmatched.find((rule) => rule.ruleId === 'lead-with-website')).not.to.have.property('falseParts');
    const unexplained = planActions(ruleSet, lead, { explainFalseConditions: false });
    expect(unexplained.unmatched.find((rule) => rule.ruleId === 'suspicious-lead')).to.deep.equal({
      ruleId: 'suspicious-lead',
      file: 'test/fixtures/rules/match/leads.yaml',
      reason: 'condition_false',
    });
  });

  it('an email HubSpot would refuse (the scraped seed\'s "[email protected]") is a plan failure naming the field', () => {
    const plan = planActions(ruleSet, eventFromFixture('../negative/rewardful/referral.converted.obfuscated-email.json'));
    expect(plan.actions).to.deep.equal([]);
    expect(plan.failures.map((failure) => [failure.ruleId, failure.error])).to.deep.equal([
      ['rewardful-conversion', 'params invalid once rendered: email [email\u00a0protected] is not an address HubSpot accepts'],
    ]);
  });

  it('a failing action is reported and the other actions are still planned', () => {
    const rules = ruleSetOf(`
rules:
  - id: two-actions
    on: firstpromoter.lead_signup
    do:
      - hubspot.upsert_contact: { email: "{{ data.missing_email }}" }
      - slack.post_message: { channel: "#x", text: "{{ data.email }}" }
`);
    const runtime = planActions(rules, lead);
    expect(runtime.actions.map((action) => action.action)).to.deep.equal(['slack.post_message']);
    expect(runtime.failures).to.have.length(1);
    expect(runtime.failures[0]).to.deep.include({
      ruleId: 'two-actions',
      action: 'hubspot.upsert_contact',
      actionIndex: 0,
      error: 'params invalid once rendered: email must not be empty',
      isPermanent: true,
    });
    expect(runtime.warnings).to.deep.equal(['rule two-actions action 1 (hubspot.upsert_contact): email: missing field data.missing_email rendered as empty text']);

    const strict = planActions(rules, lead, { strictTemplates: true });
    expect(strict.failures.map((failure) => failure.error)).to.deep.equal(['email: missing field data.missing_email']);
    expect(strict.actions).to.have.length(1);
  });

  describe('once_per: the key is rendered at plan time', () => {
    const pending = eventFromFixture('firstpromoter/fulfilment_pending.json');
    const rules = ruleSetOf(`
rules:
  - id: reward-to-fulfil
    on: firstpromoter.fulfilment_pending
    do:
      - slack.post_message: { channel: "#x", text: "reward {{ data.id }}" }
        once_per: "{{ data.id }}"
      - slack.post_message: { channel: "#y", text: "promoter {{ data.promoter.email }}" }
        once_per: { key: "{{ data.promoter.id }}/{{ data.reward.name | downcase }}", window: 24h }
        retry: { attempts: 2, backoff: 1s }
      - hubspot.upsert_contact: { email: "{{ data.promoter.email }}" }
`);

    it('each action carries its rendered key and window; an action without once_per carries none', () => {
      const plan = planActions(rules, pending);
      expect(plan.failures).to.deep.equal([]);
      expect(plan.actions.map((action) => action.oncePer)).to.deep.equal([
        { key: '2429153' },
        { key: '5272969/free subscription months', windowMs: 24 * 3_600_000 },
        undefined,
      ]);
      expect(plan.actions[1].retry).to.deep.equal({ attempts: 2, backoffMs: 1000 });
      expect(plan.actions[2]).not.to.have.property('oncePer');
    });

    it('the key is plain text: no Slack escaping, whatever the action', () => {
      const plan = planActions(rules, withData(pending, { id: '<@U1> & co' }));
      expect(plan.actions[0].oncePer).to.deep.equal({ key: '<@U1> & co' });
      expect(plan.actions[0].params.text).to.equal('reward &lt;@U1&gt; &amp; co');
    });

    it('a key that renders empty is a plan failure naming the key; the other actions are still planned', () => {
      const { id: _id, ...data } = pending.data;
      const plan = planActions(rules, { ...pending, data });
      expect(plan.failures.map((failure) => [failure.ruleId, failure.actionIndex, failure.error])).to.deep.equal([
        ['reward-to-fulfil', 0, 'once_per "{{ data.id }}" rendered empty: the action needs a key to run once per'],
      ]);
      expect(plan.actions.map((action) => action.provenance.actionIndex)).to.deep.equal([1, 2]);
      expect(plan.warnings).to.deep.equal([
        'rule reward-to-fulfil action 1 (slack.post_message): text: missing field data.id rendered as empty text',
        'rule reward-to-fulfil action 1 (slack.post_message): once_per: missing field data.id rendered as empty text',
      ]);
      // Only spaces is empty too, and a null field renders empty like a missing one.
      expect(planActions(rules, withData(pending, { id: '   ' })).failures.map((failure) => failure.error)).to.deep.equal([
        'once_per "{{ data.id }}" rendered empty: the action needs a key to run once per',
      ]);
      expect(planActions(rules, withData(pending, { id: null })).failures).to.have.length(1);
    });

    it('strict templates (rule tests) fail a key with a missing field, naming the field', () => {
      const { id: _id, ...data } = pending.data;
      const strictRules = ruleSetOf(`
rules:
  - id: strict-key
    on: firstpromoter.fulfilment_pending
    do:
      - slack.post_message: { channel: "#x", text: "static" }
        once_per: "{{ data.id }}"
`);
      expect(planActions(strictRules, { ...pending, data }, { strictTemplates: true }).failures.map((failure) => failure.error)).to.deep.equal([
        'once_per: missing field data.id',
      ]);
    });
  });

  it('a rule listing one type twice, or by type and glob, fires once', () => {
    const rules = ruleSetOf(`
rules:
  - id: twice
    on: [firstpromoter.lead_signup, firstpromoter.lead_signup, firstpromoter.lead_*]
    do:
      - slack.post_message: { channel: "#x", text: hi }
`);
    expect(planActions(rules, lead).actions).to.have.length(1);
  });

  it('keeps rule order across exact and glob rules', () => {
    const rules = ruleSetOf(`
rules:
  - id: a-glob
    on: firstpromoter.*
    do: [ { slack.post_message: { channel: "#x", text: a } } ]
  - id: b-exact
    on: firstpromoter.lead_signup
    do: [ { slack.post_message: { channel: "#x", text: b } } ]
  - id: c-glob
    on: firstpromoter.lead_*
    do: [ { slack.post_message: { channel: "#x", text: c } } ]
`);
    expect(planActions(rules, lead).matched.map((rule) => rule.ruleId)).to.deep.equal(['a-glob', 'b-exact', 'c-glob']);
    expect(rules.rulesFor('firstpromoter.lead_signup')).to.equal(rules.rulesFor('firstpromoter.lead_signup'));
  });

  describe("rendered params are checked by the action's own schema", () => {
    const rules = ruleSetOf(`
rules:
  - id: upsert
    on: firstpromoter.lead_signup
    do:
      - hubspot.upsert_contact: { email: "{{ data.email }}", properties: { firstname: "{{ data.name }}", lifecyclestage: customer } }
  - id: post
    on: firstpromoter.lead_signup
    do:
      - slack.post_message: { channel: "{{ data.channel }}", text: "{{ data.text }}" }
`);
    const cases: Array<[name: string, data: Record<string, unknown>, errors: string[]]> = [
      ['everything rendered', { email: 'a@example.com', name: 'Jane', channel: '#x', text: 'hi' }, []],
      ['an email rendered empty', { email: '', name: 'Jane', channel: '#x', text: 'hi' }, ['params invalid once rendered: email must not be empty']],
      ['a property rendered empty (HubSpot takes any string)', { email: 'a@example.com', name: '', channel: '#x', text: 'hi' }, []],
      ['email and property rendered empty', { email: '', name: '', channel: '#x', text: 'hi' }, ['params invalid once rendered: email must not be empty']],
      ['markup in a property', { email: 'a@example.com', name: '<b>', channel: '#x', text: 'hi' }, []],
      ['a channel rendered empty', { email: 'a@example.com', name: 'Jane', channel: '', text: 'hi' }, ['params invalid once rendered: channel must not be empty']],
      ['a text rendered empty (Slack takes it)', { email: 'a@example.com', name: 'Jane', channel: '#x', text: '' }, []],
    ];
    for (const [name, data, errors] of cases) {
      it(name, () => {
        const plan = planActions(rules, withData(lead, data));
        expect(plan.failures.map((failure) => failure.error)).to.deep.equal(errors);
        expect(plan.actions).to.have.length(2 - errors.length);
      });
    }

    it('every rule of a toy action schema applies, also to a value yup sees as one mixed', () => {
      const toy: Action<unknown> = {
        name: 'toy.record',
        params: yup
          .object({
            // Both accept the template as written (checked at load) and test what it renders to.
            meta: yup.mixed().test('meta', 'meta.a must be x', (value) => ['x', '{{ data.a }}'].includes((value as { a?: string }).a ?? '')),
            code: yup.string().strict().matches(/^([A-Z]+|\{\{ data\.code \}\})$/, 'code must be capitals'),
          })
          .strict() as yup.Schema<unknown>,
        connect: () => ({ execute: async () => ({ outcome: 'succeeded' }) }),
      };
      const toyRules = ruleSetOf(
        `
rules:
  - id: toy
    on: firstpromoter.lead_signup
    do:
      - toy.record: { meta: { a: "{{ data.a }}" }, code: "{{ data.code }}" }
`,
        { 'toy.record': toy },
      );
      const errorsFor = (data: Record<string, unknown>) => planActions(toyRules, withData(lead, data)).failures.map((failure) => failure.error);
      expect(errorsFor({ a: 'x', code: 'AB' })).to.deep.equal([]);
      expect(errorsFor({ a: 'y', code: 'AB' })).to.deep.equal(['params invalid once rendered: meta.a must be x']);
      expect(errorsFor({ a: 'y', code: 'ab' })).to.deep.equal(['params invalid once rendered: meta.a must be x; code must be capitals']);
    });
  });

  describe('escape sequences in a rule file render as liquidjs says, whatever else the payload holds', () => {
    // Issue 9: `\n` in a quoted filter argument rendered as a backslash and an n on one path and as
    // a newline on the other, depending on whether an unrelated field was present.
    const rules = ruleSetOf(String.raw`
rules:
  - id: list
    on: firstpromoter.lead_signup
    do:
      - slack.post_message:
          channel: "#x"
          text: '{{ data.items | replace: ", ", "\n• " }} {{ data.items | replace: ", ", "\t" }} {{ data.items | replace: ", ", "\u0041" }} é 😀 {{ data.note }}'
`);
    const expected = 'a\n• b a\tb aAb é 😀 ';
    it('with the unrelated field present', () => {
      const plan = planActions(rules, withData(lead, { items: 'a, b', note: '' }));
      expect(plan.actions.map((action) => action.params.text)).to.deep.equal([expected]);
      expect(plan.warnings).to.deep.equal([]);
    });
    it('with the unrelated field missing', () => {
      const plan = planActions(rules, withData(lead, { items: 'a, b' }));
      expect(plan.actions.map((action) => action.params.text)).to.deep.equal([expected]);
      expect(plan.warnings).to.deep.equal(['rule list action 1 (slack.post_message): text: missing field data.note rendered as empty text']);
    });
  });

  describe('typed HubSpot property values HubSpot would refuse (issue 15.6)', () => {
    const rules = ruleSetOf(`
rules:
  - id: typed
    on: firstpromoter.lead_signup
    do:
      - hubspot.upsert_contact:
          email: "{{ data.email }}"
          properties:
            affiliate_amount: { value: "{{ data.amount }}", type: number }
            affiliate_tier: { value: "{{ data.tier }}", type: enumeration, options: [gold, silver] }
`);
    it('a rendered value its type cannot hold is a plan failure naming the property, before any call', () => {
      const plan = planActions(rules, withData(lead, { email: 'a@example.com', amount: '12 EUR', tier: 'gold' }));
      expect(plan.actions).to.deep.equal([]);
      expect(plan.failures.map((failure) => failure.error)).to.deep.equal([
        'params invalid once rendered: property affiliate_amount: "12 EUR" is not a number',
      ]);
    });
    it('an option the enumeration lacks is a plan failure too', () => {
      const plan = planActions(rules, withData(lead, { email: 'a@example.com', amount: '1200', tier: 'bronze' }));
      expect(plan.failures.map((failure) => failure.error)).to.deep.equal([
        'params invalid once rendered: property affiliate_tier: "bronze" is not one of its options (gold, silver)',
      ]);
    });
    it('valid values plan; an empty one is left to when_empty, not refused', () => {
      const plan = planActions(rules, withData(lead, { email: 'a@example.com', amount: '1200', tier: '' }));
      expect(plan.failures).to.deep.equal([]);
      expect(plan.actions).to.have.length(1);
    });
    it('a literal value its type cannot hold fails at load, as file:line:col', () => {
      const result = compileRuleFiles([{ file: 'inline.yaml', content: `
rules:
  - id: literal
    on: firstpromoter.lead_signup
    do:
      - hubspot.upsert_contact:
          email: "{{ data.email }}"
          properties:
            affiliate_amount: { value: "twelve", type: number }
` }], { actions: actionRegistry });
      expect(result.ok).to.equal(false);
      expect(result.problems.map((problem) => formatProblem(problem))).to.deep.equal([
        'inline.yaml:9:13: property affiliate_amount: "twelve" is not a number',
      ]);
    });
  });

  describe('Block Kit blocks: payload text escaped per text object', () => {
    const ruleSet = () =>
      ruleSetOf(`rules:
  - id: blocks
    on: firstpromoter.lead_signup
    do:
      - slack.post_message:
          channel: "#x"
          text: "lead {{ data.email }}"
          blocks:
            - type: header
              text: { type: plain_text, text: "Lead {{ data.email }}" }
            - type: section
              text: { type: mrkdwn, text: "*Lead* {{ data.email }}" }
              fields:
                - { type: plain_text, text: "{{ data.email }}" }
                - { type: mrkdwn, text: "{{ data.email | raw }}" }
`);

    it('mrkdwn text is escaped like text; plain_text is shown as written, with mentions and links defused by a word joiner', () => {
      const plan = planActions(ruleSet(), withData(lead, { email: '<!channel> <@U1> <https://evil.example|x> & co' }));
      const params = plan.actions[0].params as { text: string; blocks: Array<{ text?: { text: string }; fields?: Array<{ text: string }> }> };
      const escaped = '&lt;!channel&gt; &lt;@U1&gt; &lt;https://evil.example|x&gt; &amp; co';
      const defused = '<\u2060!channel> <\u2060@U1> <\u2060https://evil.example|x> & co';
      expect(params.text).to.equal(`lead ${escaped}`);
      expect(params.blocks[0].text!.text).to.equal(`Lead ${defused}`);
      expect(params.blocks[1].text!.text).to.equal(`*Lead* ${escaped}`);
      expect(params.blocks[1].fields!.map((field) => field.text)).to.deep.equal([defused, '<!channel> <@U1> <https://evil.example|x> & co']);
    });
  });
});
