import { expect } from 'chai';
import { actionRegistry } from '../../../src/actions/registry.js';
import { CONDITION_STEP_BUDGET, MAX_COMPREHENSION_NESTING } from '../../../src/rules/condition-budget.js';
import { compileCondition, isConditionProblem, type Condition } from '../../../src/rules/conditions.js';
import { compileRuleFiles } from '../../../src/rules/compile-rules.js';
import { planActions } from '../../../src/rules/plan.js';
import { formatProblem } from '../../../src/rules/problems.js';
import { TEMPLATE_OUTPUT_LIMIT, TemplateRenderError, compileTemplateTree, renderTemplateTree } from '../../../src/rules/templates.js';
import { buildEvent } from './fixture-events.js';

function compiled(source: string): Condition {
  const condition = compileCondition(source);
  if (isConditionProblem(condition)) throw new Error(condition.message);
  return condition;
}

const itemsOf = (count: number) => Array.from({ length: count }, (_, i) => ({ id: i, tag: `t${i}` }));
const eventWith = (data: Record<string, unknown>) => {
  const event = buildEvent('firstpromoter.lead_signup', data);
  return { event, data: event.data };
};

/**
 * The rule CPU budget (issue 10): a rule author's condition or template cannot block the worker.
 * No timing assertions (bench/rule-attacks.ts prints the figures): an attack that were not bounded
 * would run past mocha's 20 s timeout and fail the test.
 */
describe('rules: CPU and memory budget of conditions and templates', () => {
  describe('matches(): RE2 patterns, linear time', () => {
    it('answers a catastrophic-backtracking pattern on 100,000 characters (bare: doubles per character, 28 take 1.3 s)', () => {
      const condition = compiled('data.email.matches("^(a+)+$")');
      expect(condition.evaluate(eventWith({ email: `${'a'.repeat(100_000)}b` }))).to.equal(false);
      expect(condition.evaluate(eventWith({ email: 'aaaa' }))).to.equal(true);
    });

    const refused: Array<[string, string]> = [
      ['data.email.matches(data.pattern)', 'invalid condition: matches() needs its pattern written in the rule as a string literal, not read from the event'],
      ['data.email.matches("^" + data.domain)', 'invalid condition: matches() needs its pattern written in the rule as a string literal, not read from the event'],
      [
        'data.email.matches("(a)\\\\1")',
        'invalid condition: the pattern "(a)\\\\1" is not RE2 syntax (error parsing regexp: invalid escape sequence: `\\1`): matches() takes RE2 patterns, without backreferences or lookarounds',
      ],
      [
        'data.email.matches("(?=a)b")',
        'invalid condition: the pattern "(?=a)b" is not RE2 syntax (error parsing regexp: invalid or unsupported Perl syntax: `(?=`): matches() takes RE2 patterns, without backreferences or lookarounds',
      ],
      ['data.email.matches("(?i)abc")', 'invalid condition: the pattern "(?i)abc" is RE2 syntax that JavaScript cannot run (such as an inline (?i) flag): write it without'],
    ];
    for (const [source, message] of refused) {
      it(`refuses ${source} at load`, () => {
        const problem = compileCondition(source);
        expect(isConditionProblem(problem) ? problem.message : 'compiled').to.equal(message);
      });
    }

    it('keeps RE2 patterns that JavaScript runs the same: classes, anchors, alternation, counted repetition', () => {
      const condition = compiled('data.email.matches("^[a-z0-9._%+-]+@(example|test)\\\\.(com|org)$") && data.code.matches("^[A-Z]{2}[0-9]{3,5}$")');
      expect(condition.evaluate(eventWith({ email: 'ops@example.com', code: 'AB1234' }))).to.equal(true);
      expect(condition.evaluate(eventWith({ email: 'ops@example.net', code: 'AB1234' }))).to.equal(false);
    });
  });

  describe('comprehensions: an evaluation budget', () => {
    it(`stops nested comprehensions over a 1,000-item list at ${CONDITION_STEP_BUDGET.toLocaleString('en')} items read (bare: a million steps)`, () => {
      const condition = compiled('data.items.all(x, data.items.all(y, x.id != y.id || x.tag == y.tag))');
      expect(condition.evaluate(eventWith({ items: itemsOf(1_000) }))).to.deep.equal({
        error: `condition exceeded its evaluation budget of ${CONDITION_STEP_BUDGET.toLocaleString('en')} list items and map keys read`,
        isBudgetExceeded: true,
      });
      // Within the budget the same condition answers as cel-js does.
      expect(condition.evaluate(eventWith({ items: itemsOf(50) }))).to.equal(true);
    });

    it('meters map keys too, and single comprehensions stay exact', () => {
      const keys = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, i]));
      expect(compiled('data.m.all(a, data.m.all(b, a != b || data.m[a] == data.m[b]))').evaluate(eventWith({ m: keys }))).to.deep.include({ isBudgetExceeded: true });
      expect(compiled('data.items.exists(x, x.id == 999)').evaluate(eventWith({ items: itemsOf(1_000) }))).to.equal(true);
      expect(compiled('data.items.filter(x, x.id < 10).size() == 10').evaluate(eventWith({ items: itemsOf(1_000) }))).to.equal(true);
    });

    it(`refuses comprehensions nested deeper than ${MAX_COMPREHENSION_NESTING} at load, even over literal lists`, () => {
      const problem = compileCondition('[1, 2].all(a, [1, 2].all(b, [1, 2].exists(c, a + b == c)))');
      expect(isConditionProblem(problem) ? problem.message : 'compiled').to.equal(
        'invalid condition: comprehensions (all, exists, exists_one, map, filter) nest 3 deep; at most 2 levels are allowed, since each level multiplies the work',
      );
    });

    it('check warns about two nested levels, at the condition', () => {
      const result = compileRuleFiles(
        [
          {
            file: 'rules/nested.yaml',
            content: `rules:
  - id: nested
    on: firstpromoter.lead_signup
    if: dyn(data).items.exists(x, dyn(data).items.exists(y, x.id == y.id + 1))
    do:
      - slack.post_message: { channel: "#ops", text: "hi" }
`,
          },
        ],
        { actions: actionRegistry },
      );
      expect(result.ok).to.equal(true);
      expect((result.warnings ?? []).map((warning) => formatProblem(warning))).to.deep.equal([
        `rules/nested.yaml:4:9: condition nests comprehensions 2 deep: its work grows with the product of the lists' sizes, and an evaluation that reads more than ${CONDITION_STEP_BUDGET.toLocaleString('en')} list items or map keys fails the rule's actions`,
      ]);
    });

    it("fails every action of the rule as a plan error, and the other rules still plan", () => {
      const result = compileRuleFiles(
        [
          {
            file: 'rules/nested.yaml',
            content: `rules:
  - id: nested
    on: firstpromoter.lead_signup
    if: dyn(data).items.all(x, dyn(data).items.all(y, x.id != y.id || x.tag == y.tag))
    do:
      - slack.post_message: { channel: "#ops", text: "a" }
      - slack.post_message: { channel: "#ops", text: "b" }
  - id: plain
    on: firstpromoter.lead_signup
    do:
      - slack.post_message: { channel: "#ops", text: "c" }
`,
          },
        ],
        { actions: actionRegistry },
      );
      if (!result.ok) throw new Error(JSON.stringify(result.problems));
      const event = buildEvent('firstpromoter.lead_signup', { items: itemsOf(1_000) });
      const plan = planActions(result.ruleSet, event);
      const error = `if: condition exceeded its evaluation budget of ${CONDITION_STEP_BUDGET.toLocaleString('en')} list items and map keys read`;
      expect(plan.failures.map((failure) => [failure.ruleId, failure.actionIndex, failure.error])).to.deep.equal([
        ['nested', 0, error],
        ['nested', 1, error],
      ]);
      expect(plan.actions.map((action) => action.params.text)).to.deep.equal(['c']);
      expect(plan.unmatched.map((rule) => rule.ruleId)).to.deep.equal(['nested']);
    });
  });

  describe('templates: output capped per render', () => {
    const render = (source: string, data: Record<string, unknown> = {}) => {
      const { tree, problems } = compileTemplateTree({ text: source });
      expect(problems).to.deep.equal([]);
      return () => renderTemplateTree(tree, { event: {}, data }, { strict: false }).value;
    };
    const overLimit = `text: template output over ${TEMPLATE_OUTPUT_LIMIT.toLocaleString('en')} characters`;

    it('stops a capture that doubles itself (bare: 28 doublings build 512 MB inside the 10 MB memoryLimit)', () => {
      const doubling = render('{% capture x %}ab{% endcapture %}{% for i in (1..40) %}{% capture x %}{{ x }}{{ x }}{% endcapture %}{% endfor %}{{ x }}');
      expect(doubling).to.throw(TemplateRenderError, overLimit);
    });

    it('stops a loop writing a large field again and again', () => {
      expect(render('{% for i in (1..100000) %}{{ data.big }}{% endfor %}', { big: 'y'.repeat(10_000) })).to.throw(TemplateRenderError, overLimit);
    });

    it('renders right up to the cap', () => {
      expect(render('{{ data.big }}', { big: 'y'.repeat(TEMPLATE_OUTPUT_LIMIT) })()).to.deep.equal({ text: 'y'.repeat(TEMPLATE_OUTPUT_LIMIT) });
      expect(render('{% capture x %}{{ data.a }}{% endcapture %}[{{ x }}]', { a: 'ok' })()).to.deep.equal({ text: '[ok]' });
    });
  });
});
