import { Environment, ParseError, type ParseResult } from '@marcbachmann/cel-js';
import type { BridgeEvent } from '../events/event.js';
import {
  ConditionBudgetExceeded,
  checkConditionShape,
  inspectConditionShape,
  meterValue,
  warnAboutConditionShape,
} from './condition-budget.js';

/**
 * The CEL environment every condition is checked and run in: exactly two variables, `event` and
 * `data`, both maps. CEL has no access to JS globals, prototypes or I/O; an unknown variable is a
 * type error at load time.
 */
const conditionEnvironment = new Environment({ homogeneousAggregateLiterals: false, enableOptionalTypes: true })
  .registerVariable('event', 'map', { description: 'The bridge event: id, source, type, providerType, occurredAt, receivedAt, status' })
  .registerVariable('data', 'map', { description: "The provider's payload body" });

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
}

/** A condition that could not be evaluated. */
export interface ConditionError {
  readonly error: string;
  /** Set when the evaluation budget stopped it: the rule's actions fail instead of not matching. @defaultValue false */
  readonly isBudgetExceeded?: boolean;
}

/** What conditions see. */
export interface ConditionScope {
  readonly event: BridgeEvent;
  readonly data: Record<string, unknown>;
}

/** A condition that does not compile: the sentence and the index in the expression it concerns. */
export interface ConditionProblem {
  readonly message: string;
  /** Character offset inside the expression, when the library gives one. */
  readonly index: number;
}

/**
 * Parses and type-checks a CEL expression once.
 * @returns the compiled condition, or the problem (syntax error, unknown variable, non-bool result).
 */
export function compileCondition(source: string): Condition | ConditionProblem {
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
  const prepare = shape.comprehensionNesting > 0 ? meterScope : (scope: ConditionScope) => scope;
  // The parsed program is cel-js's fastest entry point (it skips type-checking once check() ran).
  // Only the library evaluates: a condition means what cel-js says it means.
  return {
    source,
    warnings: warnAboutConditionShape(shape),
    evaluate(scope) {
      try {
        return interpret(program(prepare(scope)));
      } catch (error) {
        if (!isUnsupportedTypeError(error)) return describeEvaluationError(error);
      }
      // cel-js types an object by its `constructor` property, so a payload key named
      // `constructor` makes that object unreadable and the condition fail: a hostile lead could
      // switch off a fraud rule that way. Maps have no such key; run again on Map copies (rare
      // payloads only, so the common path pays nothing).
      try {
        return interpret(program(prepare({ event: toCelValue(scope.event) as BridgeEvent, data: toCelValue(scope.data) as Record<string, unknown> })));
      } catch (error) {
        return describeEvaluationError(error);
      }
    },
  };
}

/** One evaluation's metered view of the scope: one step budget for `event` and `data` together. */
function meterScope(scope: ConditionScope): ConditionScope {
  const meter = { steps: 0 };
  return { event: meterValue(scope.event, meter) as BridgeEvent, data: meterValue(scope.data, meter) as Record<string, unknown> };
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

function isUnsupportedTypeError(error: unknown): boolean {
  return error instanceof Error && /^Unsupported type/.test(firstLine(error));
}

/** Stored payloads nest at most 32 levels (sources/build-event.ts); this bound is a second guard. */
const MAX_CEL_DEPTH = 64;

/** A copy of a JSON value with every object turned into a Map, which CEL reads whatever its keys. */
function toCelValue(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_CEL_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => toCelValue(item, depth + 1));
  return new Map(Object.entries(value).map(([key, item]) => [key, toCelValue(item, depth + 1)]));
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
