import { Environment, ParseError, type ParseResult } from '@marcbachmann/cel-js';
import type { AffiliateFields } from '../events/affiliate.js';
import type { BridgeEvent } from '../events/event.js';
import {
  ConditionBudgetExceeded,
  checkConditionShape,
  inspectConditionShape,
  meterValue,
  warnAboutConditionShape,
} from './condition-budget.js';
import { ConditionExplainer, type FalseConditionPart } from './condition-explanation.js';
import { RULE_VARIABLE_NAMES, shippedScopeCatalog, type RuleScopeCatalog } from './rule-scopes.js';

/**
 * The CEL environment every condition is parsed and run in: the variables rules see (`event`,
 * `data`), as maps. Their fields are typed per event type by condition-types.ts, in an environment
 * of its own that only checks. CEL has no access to JS globals, prototypes or I/O; an unknown
 * variable is a type error at load time.
 */
const conditionEnvironment = new Environment({ homogeneousAggregateLiterals: false, enableOptionalTypes: true });
// Every variable of rule-scopes.ts's RULE_VARIABLES (event, data): their field types are checked per
// event type by condition-types.ts; here they are maps, read as the values are handed in.
for (const name of RULE_VARIABLE_NAMES) conditionEnvironment.registerVariable(name, 'map');

/** A condition compiled once at load. */
export interface Condition {
  /** The expression as written. */
  readonly source: string;
  /** What `check` warns about (a costly shape, such as nested comprehensions); empty for most. */
  readonly warnings: readonly string[];
  /**
   * @returns `true`/`false`, or an error message when evaluation failed (missing field, wrong type,
   * a result that is not a bool), with `isBudgetExceeded` when it read more than its evaluation
   * budget (condition-budget.ts). Never throws.
   */
  evaluate(scope: ConditionScope): boolean | ConditionError;
  /**
   * Which parts made the condition false on `scope` (condition-explanation.ts), each part
   * evaluated by cel-js on the same values and within the same budget. Call it only after
   * `evaluate` returned false: it costs a few evaluations, so a true condition never pays for it.
   * Never throws; the whole condition is the one part when none can be singled out.
   */
  explainFalse(scope: ConditionScope): FalseConditionPart[];
}

/** A condition that could not be evaluated. */
export interface ConditionError {
  readonly error: string;
  /** Set when the evaluation budget stopped it: the rule's actions fail instead of not matching. @defaultValue false */
  readonly isBudgetExceeded?: boolean;
}

/** What conditions see (rule-scope.ts builds it). */
export interface ConditionScope {
  readonly event: BridgeEvent;
  readonly data: Record<string, unknown>;
  /** Always set by rule-scope.ts; a hand-built scope without it fails any condition that reads it. */
  readonly affiliate?: AffiliateFields;
}

/** A condition that does not compile: the sentence and the index in the expression it concerns. */
export interface ConditionProblem {
  readonly message: string;
  /** Character offset inside the expression, when the library gives one. */
  readonly index: number;
}

/**
 * Parses and type-checks a CEL expression once. This is the check every event type shares (syntax,
 * variables); the typed check of each event type's fields is condition-types.ts's.
 * @param scopes where evaluation reads the CEL types of an event's values (ints as BigInt,
 *   timestamps as Date). @defaultValue the shipped source registry's catalog
 * @returns the compiled condition, or the problem (syntax error, unknown variable, non-bool result).
 */
export function compileCondition(source: string, scopes: RuleScopeCatalog = shippedScopeCatalog()): Condition | ConditionProblem {
  let program: ParseResult;
  try {
    program = conditionEnvironment.parse(source);
  } catch (error) {
    if (error instanceof ParseError) {
      return { message: `invalid condition: ${error.summary}`, index: error.range?.start ?? 0 };
    }
    throw error;
  }
  const checked = program.check();
  if (!checked.valid) {
    const error = checked.error;
    return { message: `invalid condition: ${error?.summary ?? 'does not type-check'}`, index: error?.range?.start ?? 0 };
  }
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    return { message: `a condition must be a bool, and this one is a ${checked.type}`, index: 0 };
  }
  const shape = inspectConditionShape((program as unknown as { ast?: unknown }).ast);
  const [budgetProblem] = checkConditionShape(shape);
  if (budgetProblem) return budgetProblem;
  // Only conditions that iterate read the payload through the metering view (condition-budget.ts):
  // the others cost at most their own size, and pay nothing.
  const prepare = shape.comprehensionNesting > 0 ? meterScope : (values: Record<string, unknown>) => values;
  // Built on the first false evaluation: most conditions of a rule set are never explained.
  let explainer: ConditionExplainer | null = null;
  // The parsed program is cel-js's fastest entry point (it skips type-checking once check() ran).
  // Only the library evaluates: a condition means what cel-js says it means.
  return {
    source,
    warnings: warnAboutConditionShape(shape),
    evaluate(scope) {
      // The values are handed to CEL in the types the check declared (typedScopeOf): an int field
      // as a BigInt, so `data.amount / 100` is int arithmetic at run time as at load. Objects are
      // Maps, which CEL reads whatever their keys (a payload key `constructor` included).
      try {
        return interpret(program(prepare(typedScopeOf(scope, scopes))));
      } catch (error) {
        return describeEvaluationError(error);
      }
    },
    explainFalse(scope) {
      explainer ??= new ConditionExplainer(source, program.ast, parsePart, RULE_VARIABLE_NAMES);
      // One metered view for the whole explanation: its parts share one budget, as the condition's reads do.
      return explainer.explain(prepare(typedScopeOf(scope, scopes)));
    },
  };
}

/** A part of a condition, parsed and checked in the conditions' environment; null when it does not stand alone. */
function parsePart(text: string): ParseResult | null {
  try {
    const part = conditionEnvironment.parse(text);
    return part.check().valid ? part : null;
  } catch {
    return null;
  }
}

/** One conversion per event (and catalog), shared by every condition of every rule that reads it. */
const typedScopes = new WeakMap<RuleScopeCatalog, WeakMap<BridgeEvent, Record<string, unknown>>>();

function typedScopeOf(scope: ConditionScope, scopes: RuleScopeCatalog): Record<string, unknown> {
  const event = scope.event;
  // A scope whose data is not the event's own (a hand-built one) is converted as given.
  if (scope.data !== event.data) return scopes.toCelValues({ ...event, data: scope.data });
  let byEvent = typedScopes.get(scopes);
  if (byEvent === undefined) typedScopes.set(scopes, (byEvent = new WeakMap()));
  let values = byEvent.get(event);
  if (values === undefined) {
    values = scopes.toCelValues(event);
    byEvent.set(event, values);
  }
  return values;
}


/** One evaluation's metered view of the CEL values: one step budget for every variable together. */
function meterScope(values: Record<string, unknown>): Record<string, unknown> {
  const meter = { steps: 0 };
  const metered: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) metered[name] = meterValue(value, meter);
  return metered;
}

function describeEvaluationError(error: unknown): ConditionError {
  const budgetError = findBudgetError(error);
  if (budgetError) return { error: budgetError.message, isBudgetExceeded: true };
  return { error: error instanceof Error ? firstLine(error) : String(error) };
}

/** cel-js may wrap what a value read throws; the budget's error is looked for in the cause chain. */
function findBudgetError(error: unknown): ConditionBudgetExceeded | null {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = (current as { cause?: unknown }).cause, depth += 1) {
    if (current instanceof ConditionBudgetExceeded) return current;
  }
  return null;
}

function interpret(result: unknown): boolean | ConditionError {
  if (typeof result === 'boolean') return result;
  return { error: `condition returned ${describeValue(result)}, not a bool` };
}

/** Distinguishes a compiled condition from a problem. */
export function isConditionProblem(value: Condition | ConditionProblem): value is ConditionProblem {
  return 'message' in value;
}

function firstLine(error: Error): string {
  const summary = (error as { summary?: unknown }).summary;
  return typeof summary === 'string' ? summary : error.message.split('\n')[0];
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `the int ${value}`;
  if (typeof value === 'string') return `the string "${value}"`;
  return `a ${typeof value}`;
}
