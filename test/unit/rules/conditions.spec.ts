import { expect } from 'chai';
import { describeFalseParts } from '../../../src/rules/condition-explanation.js';
import { compileCondition, isConditionProblem, type Condition } from '../../../src/rules/conditions.js';
import { buildEvent } from './fixture-events.js';

const event = buildEvent('firstpromoter.reward_created', {
  status: 'approved',
  amount: 200,
  rate: 0.2,
  suspicion: null,
  tags: ['vip', 'eu'],
  promoter: { email: 'promoter@example.com' },
});
const scope = { event, data: event.data };

function compiled(source: string): Condition {
  const condition = compileCondition(source);
  if (isConditionProblem(condition)) throw new Error(condition.message);
  return condition;
}

describe('rules/conditions', () => {
  const table: Array<[expression: string, outcome: boolean | { error: string }]> = [
    ['data.status == "approved"', true],
    ['data.status == "pending"', false],
    ['data.amount >= 100 && data.amount < 1000', true],
    ['data.rate > 0.1', true],
    ['data.suspicion == null', true],
    ['"vip" in data.tags', true],
    ['data.promoter.email.endsWith("@example.com")', true],
    ['event.type == "firstpromoter.reward_created" && event.source == "firstpromoter"', true],
    ['event.type.startsWith("rewardful.")', false],
    ['has(data.lead)', false],
    ['has(data.lead) && data.lead.email == "x"', false],
    ['data.?lead.?email.orValue("none") == "none"', true],
    ['size(data.tags) == 2', true],
    ['data.lead.email == "x"', { error: 'No such key: lead' }],
    ['data.status > 3', { error: 'no such overload: dyn<string> > int' }],
    ['data.amount', { error: 'condition returned the int 200, not a bool' }],
    // Documented integers reach CEL as ints (the schema says so), so integer arithmetic works at
    // run time as the load-time check promised; before, `200` was a double and these failed.
    ['data.amount / 100 > 1', true],
    ['data.amount / 100 == 2', true],
    ['data.amount + 1 > 200', true],
    ['data.amount % 20 == 0', true],
    ['double(data.amount) / 100.0 == 2.0', true],
    ['event.occurredAt > timestamp("2024-10-03T00:00:00Z")', true],
    ['event.occurredAt.getFullYear() == 2024', true],
    ['data.constructor == null', { error: 'No such key: constructor' }],
    ['data["__proto__"] == null', { error: 'No such key: __proto__' }],
  ];
  for (const [expression, outcome] of table) {
    it(`${expression} → ${JSON.stringify(outcome)}`, () => {
      expect(compiled(expression).evaluate(scope)).to.deep.equal(outcome);
    });
  }

  describe('refused at load', () => {
    const refused: Array<[expression: string, message: string, index: number]> = [
      ['data.status ==', 'invalid condition: Unexpected token: EOF', 14],
      ['process.exit(1)', 'invalid condition: Unknown variable: process', 0],
      ['globalThis.fetch("https://x")', 'invalid condition: Unknown variable: globalThis', 0],
      ['require("fs")', 'invalid condition: found no matching overload for \'require(string)\'', 0],
      ['data.x == 1 && this.y', 'invalid condition: Unknown variable: this', 15],
      ['"approved"', 'a condition must be a bool, and this one is a string', 0],
      ['1 + 2', 'a condition must be a bool, and this one is a int', 0],
    ];
    for (const [expression, message, index] of refused) {
      it(expression, () => {
        expect(compileCondition(expression)).to.deep.equal({ message, index });
      });
    }
  });
});

describe('conditions on payloads with a "constructor" key', () => {
  it('still read the fields beside it (cel-js types objects by their constructor property)', () => {
    const condition = compileCondition('data.suspicion != "no_suspicion" && data.promoter.email.endsWith("@example.com")');
    if (isConditionProblem(condition)) throw new Error(condition.message);
    const data = { suspicion: 'self_referral', constructor: { name: 'x' }, promoter: { email: 'p@example.com', constructor: 'y' } };
    expect(condition.evaluate({ event: {} as never, data })).to.equal(true);
    expect(condition.evaluate({ event: {} as never, data: { ...data, suspicion: 'no_suspicion' } })).to.equal(false);
  });
});

describe('what cel-js decides on awkward payloads', () => {
  const payloads = {
    usual: { status: 'approved', amount: 40000, rate: 0.5, flag: true, unit: 'points', customer: { email: 'c@example.com' }, promoter: { profile: { country: 'AU' } } },
    other: { status: 'pending', amount: 39999.5, rate: -2, flag: false, unit: 'cash', customer: null, promoter: { profile: { country: 'US' } } },
    swapped: { status: 3, amount: '50000', rate: '0.5', flag: 'true', unit: 1, customer: 'c', promoter: { profile: 'AU' } },
    containers: { status: ['approved'], amount: { v: 1 }, rate: [1], flag: null, unit: ['points'], customer: [], promoter: [] },
    nulls: { status: null, amount: null, rate: null, flag: null, unit: null, customer: null, promoter: null },
    missing: {},
    constructorBeside: { constructor: { name: 'x' }, status: 'approved', amount: 50000, flag: true, unit: 'points', customer: { constructor: 'y', email: 'e' }, promoter: { profile: { country: 'AU', constructor: 1 } } },
    constructorAsField: { status: 'approved', customer: { constructor: 'Object' }, promoter: { profile: { constructor: 'AU' } } },
    inherited: { status: 'approved', customer: { email: 'e' }, promoter: { profile: {} } },
    nullPrototype: Object.assign(Object.create(null) as object, { status: 'approved', amount: 1 }),
    protoKey: JSON.parse('{"__proto__": {"status": "approved"}, "amount": 1}') as object,
  } satisfies Record<string, object>;
  const table: Array<[expression: string, payload: keyof typeof payloads, outcome: boolean | { error: string }]> = [
    ['data.status == "approved"', 'usual', true],
    ['data.status == "approved"', 'swapped', false],
    ['data.status == "approved"', 'containers', false],
    ['data.status == "approved"', 'nulls', false],
    ['data.status == "approved"', 'missing', { error: 'No such key: status' }],
    ['data.status == "approved"', 'constructorBeside', true],
    ['data.status == "approved"', 'nullPrototype', true],
    ['data.status == "approved"', 'protoKey', { error: 'No such key: status' }],
    ['data.status != "approved"', 'other', true],
    ['data.status != "approved"', 'nulls', true],
    ['data.amount >= 40000', 'usual', true],
    ['data.amount >= 40000', 'other', false],
    ['data.amount >= 40000', 'swapped', { error: 'no such overload: dyn<string> >= int' }],
    ['data.amount >= 40000', 'containers', { error: 'no such overload: dyn<map<string, double>> >= int' }],
    ['data.amount >= 40000', 'nulls', { error: 'no such overload: dyn<null> >= int' }],
    ['data.amount >= 40000', 'constructorBeside', true],
    ['data.amount == 40000', 'usual', true],
    ['data.amount == 40000', 'swapped', false],
    ['data.rate > 0.1', 'swapped', { error: 'no such overload: dyn<string> > double' }],
    ['data.flag == true', 'swapped', false],
    ['data.unit in ["points", "free_months"]', 'usual', true],
    ['data.unit in ["points", "free_months"]', 'containers', false],
    ['has(data.customer)', 'nulls', true],
    ['has(data.customer)', 'missing', false],
    ['has(data.customer.email)', 'other', false],
    ['has(data.customer.email)', 'missing', { error: 'No such key: customer' }],
    ['has(data.customer.toString)', 'usual', false],
    ['has(data.customer.constructor)', 'usual', false],
    ['has(data.customer.constructor)', 'constructorAsField', true],
    ['has(data.__proto__)', 'usual', false],
    ['has(data.__proto__)', 'protoKey', true],
    ['data.customer == null || data.status == "approved"', 'swapped', false],
    ['data.customer == null || data.status == "approved"', 'nulls', true],
    ['data.promoter.profile.constructor == "AU"', 'usual', { error: 'No such key: constructor' }],
    ['data.promoter.profile.constructor == "AU"', 'constructorAsField', true],
    ['data.promoter.profile.constructor == "AU"', 'constructorBeside', false],
    ['has(data.promoter.profile) && data.promoter.profile.country == "AU"', 'usual', true],
    ['has(data.promoter.profile) && data.promoter.profile.country == "AU"', 'constructorBeside', true],
    ['has(data.promoter.profile) && data.promoter.profile.country == "AU"', 'swapped', { error: 'No such key: country' }],
    ['has(data.promoter.profile) && data.promoter.profile.country == "AU"', 'nulls', false],
    ['event.nope == "x"', 'usual', { error: 'No such key: nope' }],
  ];
  for (const [expression, payload, outcome] of table) {
    it(`${expression} on ${payload} → ${JSON.stringify(outcome)}`, () => {
      expect(compiled(expression).evaluate({ event, data: payloads[payload] as Record<string, unknown> })).to.deep.equal(outcome);
    });
  }
});

describe('which part of a false condition was false (issue 14.6)', () => {
  const pending = buildEvent('firstpromoter.reward_created', {
    status: 'pending',
    amount: 200,
    rate: 0.2,
    suspicion: null,
    tags: ['vip', 'eu'],
    promoter: { email: 'promoter@example.com' },
  });
  const pendingScope = { event: pending, data: pending.data };
  const explained = (source: string) => {
    const condition = compiled(source);
    expect(condition.evaluate(pendingScope), source).to.equal(false);
    return condition.explainFalse(pendingScope);
  };

  const table: Array<[expression: string, sentence: string]> = [
    // &&: the first conjunct that is false, wherever it stands in the chain.
    ['data.status == "approved" && data.amount > 100', 'data.status == "approved" is false (data.status = "pending")'],
    ['data.amount > 100 && data.rate < 1.0 && data.status == "approved"', 'data.status == "approved" is false (data.status = "pending")'],
    // ||: every disjunct was false, each listed.
    [
      'data.status == "approved" || data.amount > 1000',
      'each is false: data.status == "approved" (data.status = "pending"); data.amount > 1000 (data.amount = 200)',
    ],
    // Nested parentheses: the false conjunct is itself an ||, explained in turn; text as written.
    [
      '(data.amount > 100 && (data.status == "approved" || data.status == "paid"))',
      'each is false: data.status == "approved" (data.status = "pending"); data.status == "paid" (data.status = "pending")',
    ],
    [
      'data.amount > 100 && (!(data.status == "pending"))',
      '!(data.status == "pending") is false (data.status = "pending")',
    ],
    ['data.amount > 0 && ( data.status  ==  "x" )', 'data.status  ==  "x" is false (data.status = "pending")'],
    // has() guards: the guard is the false part, and the field it tests is absent.
    ['has(data.lead) && data.lead.email == "x"', 'has(data.lead) is false (data.lead is absent)'],
    ['has(data.promoter.name) || data.promoter.email == ""', 'each is false: has(data.promoter.name) (data.promoter.name is absent); data.promoter.email == "" (data.promoter.email = "promoter@example.com")'],
    // A conjunct that errors does not decide an &&: the false one after it does (CEL's semantics).
    ['data.lead.email == "x" && data.amount > 500', 'data.amount > 500 is false (data.amount = 200)'],
    // Other shapes are one part: the whole condition, with every field it reads.
    ['data.status == "pending" ? data.amount > 500 : true', 'data.status == "pending" ? data.amount > 500 : true is false (data.status = "pending", data.amount = 200)'],
    // A comprehension's loop variable is not a field; its receiver is.
    ['"vip" in data.tags && data.tags.exists(t, t == "us")', 'data.tags.exists(t, t == "us") is false (data.tags = ["vip", "eu"])'],
    [
      'event.type == "firstpromoter.lead_signup" || event.occurredAt < timestamp("2000-01-01T00:00:00Z")',
      'each is false: event.type == "firstpromoter.lead_signup" (event.type = "firstpromoter.reward_created"); event.occurredAt < timestamp("2000-01-01T00:00:00Z") (event.occurredAt = timestamp("2024-10-03T13:45:20.103Z"))',
    ],
  ];
  for (const [expression, sentence] of table) {
    it(expression, () => {
      expect(describeFalseParts(explained(expression))).to.equal(sentence);
    });
  }

  it('records each part with its text and fields, as the trace keeps it', () => {
    expect(explained('data.amount >= 100 && data.status in ["approved", "paid"]')).to.deep.equal([
      { text: 'data.status in ["approved", "paid"]', fields: [{ path: 'data.status', value: '"pending"' }] },
    ]);
  });

  it('a condition that fails to evaluate is an error, not a false part', () => {
    const condition = compiled('data.lead.email == "x" || data.amount > 500');
    expect(condition.evaluate(pendingScope)).to.deep.equal({ error: 'No such key: lead' });
  });

  it('explains within the same budget as the condition: past it, the whole condition is the part', () => {
    const withTags = (count: number) => {
      const event = buildEvent('firstpromoter.reward_created', { status: 'pending', tags: Array.from({ length: count }, (_, i) => `t${i}`) });
      return { event, data: event.data };
    };
    const condition = compiled('(data.tags.exists(t, t == "x") && true) || false');
    // 9,000 tags: the condition reads 9,000 items; its explanation, with a budget of its own, 18,000
    // (the && chain, then its false part): within the budget.
    expect(condition.evaluate(withTags(9_000))).to.equal(false);
    expect(describeFalseParts(condition.explainFalse(withTags(9_000)))).to.equal(
      'each is false: data.tags.exists(t, t == "x") (data.tags = ["t0", "t1", "t2", "t3", "t4", …]); false',
    );
    // 11,000: the condition still fits the 20,000 budget, its explanation does not.
    expect(condition.evaluate(withTags(11_000))).to.equal(false);
    expect(describeFalseParts(condition.explainFalse(withTags(11_000)))).to.equal(
      '(data.tags.exists(t, t == "x") && true) || false is false (data.tags: condition exceeded its evaluation budget of 20,000 list items and map keys read)',
    );
  });
});
