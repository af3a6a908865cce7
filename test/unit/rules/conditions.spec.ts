import { expect } from 'chai';
import { Environment } from '@marcbachmann/cel-js';
import { compileCondition, isConditionProblem, type Condition } from '../../../src/rules/conditions.js';
import { compileFastCondition } from '../../../src/rules/fast-condition.js';
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

/** The AST cel-js gives for an expression, for the same environment as conditions.ts. */
function celAst(source: string): unknown {
  const environment = new Environment({ homogeneousAggregateLiterals: false, enableOptionalTypes: true })
    .registerVariable('event', 'map')
    .registerVariable('data', 'map');
  const program = environment.parse(source);
  program.check();
  return program.ast;
}

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
    ['data.amount', { error: 'condition returned a number, not a bool' }],
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

describe('the condition fast path decides exactly as cel-js does', () => {
  const payloads: Array<[name: string, data: unknown]> = [
    ['the usual payload', { status: 'approved', amount: 40000, rate: 0.5, flag: true, unit: 'points', customer: { email: 'c@example.com' }, promoter: { profile: { country: 'AU' } } }],
    ['other values', { status: 'pending', amount: 39999.5, rate: -2, flag: false, unit: 'cash', customer: null, promoter: { profile: { country: 'US' } } }],
    ['negative and huge numbers', { status: '', amount: -5, rate: 1e300, flag: false, unit: '', customer: {}, promoter: {} }],
    ['numbers as text, text as numbers', { status: 3, amount: '50000', rate: '0.5', flag: 'true', unit: 1, customer: 'c', promoter: { profile: 'AU' } }],
    ['lists and maps where scalars are expected', { status: ['approved'], amount: { v: 1 }, rate: [1], flag: null, unit: ['points'], customer: [], promoter: [] }],
    ['nulls everywhere', { status: null, amount: null, rate: null, flag: null, unit: null, customer: null, promoter: null }],
    ['fields missing', {}],
    ['a constructor key beside the fields', { constructor: { name: 'x' }, status: 'approved', amount: 50000, flag: true, unit: 'points', customer: { constructor: 'y', email: 'e' }, promoter: { profile: { country: 'AU', constructor: 1 } } }],
    ['a constructor key as the field', { status: 'approved', customer: { constructor: 'Object' }, promoter: { profile: { constructor: 'AU' } } }],
    ['inherited names', { status: 'approved', customer: { email: 'e' }, promoter: { profile: {} } }],
    ['a null-prototype map', Object.assign(Object.create(null) as object, { status: 'approved', amount: 1 })],
  ];
  const expressions: Array<[expression: string, isFast: boolean]> = [
    ['data.status == "approved"', true],
    ['data.status != "approved"', true],
    ['"approved" == data.status', false],
    ['data.amount >= 40000', true],
    ['data.amount < 40000', true],
    ['data.amount > -10 && data.amount <= 40000.0', true],
    ['data.rate > 0.1', true],
    ['data.amount == 40000', false],
    ['data.flag == true', true],
    ['data.flag != false', true],
    ['!(data.flag == true)', true],
    ['data.unit in ["points", "free_months"]', true],
    ['data.unit in ["points", 1]', false],
    ['has(data.customer)', true],
    ['has(data.customer.email)', true],
    ['has(data.customer.toString)', true],
    ['has(data.customer.constructor)', true],
    ['has(data.customer) && data.customer != null && has(data.customer.email)', true],
    ['has(data.promoter.profile) && data.promoter.profile.country == "AU"', true],
    ['data.customer == null || data.status == "approved"', true],
    ['data.promoter.profile.constructor == "AU"', true],
    ['data.status == "approved" || data.amount >= 40000', true],
    ['event.type == "firstpromoter.reward_created"', true],
    ['event.nope == "x"', true],
    ['true && data.status == "approved"', true],
    ['data.status.startsWith("a")', false],
    ['data["status"] == "approved"', false],
  ];
  for (const [expression, isFast] of expressions) {
    it(expression, () => {
      const fast = compileCondition(expression);
      const slow = compileCondition(expression, { isFastPathEnabled: false });
      if (isConditionProblem(fast) || isConditionProblem(slow)) throw new Error('should compile');
      for (const [name, data] of payloads) {
        const conditionScope = { event, data: data as Record<string, unknown> };
        expect(fast.evaluate(conditionScope), name).to.deep.equal(slow.evaluate(conditionScope));
      }
      expect(compileFastCondition(celAst(expression)) !== null, 'compiled to the fast path').to.equal(isFast);
    });
  }
});
