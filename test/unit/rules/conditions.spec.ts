import { expect } from 'chai';
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
