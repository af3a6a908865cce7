import { createRequire } from 'node:module';
import v8 from 'node:v8';

// re2js takes about 0.35 s to load (its Unicode tables): loaded on the first pattern checked, so
// the api role and rule files without `matches()` never pay for it.
const requireModule = createRequire(import.meta.url);
let re2js: typeof import('re2js') | undefined;
function loadRe2js(): typeof import('re2js') {
  re2js ??= requireModule('re2js') as typeof import('re2js');
  return re2js;
}

/**
 * What bounds the CPU one condition can take (issue 10, "rule CPU budget"). Kept apart from
 * conditions.ts, which owns the CEL environment and its declarations: these functions only read
 * cel-js's own parse tree and meter the values the library reads, so a condition still means what
 * cel-js says it means.
 *
 * 1. `matches()` runs cel-js's own handler, a JavaScript RegExp. A pattern must be a string literal
 *    that RE2 (re2js) accepts, checked at load: RE2 syntax has no backreferences or lookarounds,
 *    so V8's linear-time engine can run every accepted pattern, and V8 is told to switch to it
 *    once a match backtracks too much (`enableLinearTimeRegexFallback`). cel-js does not let a
 *    built-in overload be replaced (its registry refuses an overlapping signature and freezes its
 *    declarations), so RE2 itself cannot be plugged in as the matcher.
 * 2. Comprehensions (`all`, `exists`, `exists_one`, `map`, `filter`) over the payload are metered:
 *    the condition reads `event` and `data` through a view that counts every list element and map
 *    key it hands out, and stops the evaluation past {@link CONDITION_STEP_BUDGET}.
 * 3. Comprehensions nested more than {@link MAX_COMPREHENSION_NESTING} deep are refused at load
 *    (lists written in the expression itself are not metered, and three levels of 1,000-element
 *    literals are a billion steps); two levels load with a warning from `check`.
 */

/** List elements and map keys one condition may read while it evaluates comprehensions. */
export const CONDITION_STEP_BUDGET = 20_000;

/** Deepest nesting of comprehensions a condition may have. */
export const MAX_COMPREHENSION_NESTING = 2;

/** Matches that backtrack more than this switch to V8's linear-time engine. */
const BACKTRACKS_BEFORE_LINEAR_FALLBACK = 10_000;

/** cel-js's comprehension macros: each iterates its receiver. */
const COMPREHENSION_MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

let isFallbackEnabled = false;

/**
 * Tells V8 to rerun a regular expression on its linear-time engine once it backtracks more than
 * {@link BACKTRACKS_BEFORE_LINEAR_FALLBACK} times (V8 flags, process-wide, idempotent). The
 * engine handles every pattern without backreferences and lookarounds, which RE2 syntax excludes.
 */
export function enableLinearTimeRegexFallback(): void {
  if (isFallbackEnabled) return;
  v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
  v8.setFlagsFromString(`--regexp-backtracks-before-fallback=${BACKTRACKS_BEFORE_LINEAR_FALLBACK}`);
  isFallbackEnabled = true;
}

// At load, before any condition compiles a pattern: V8 caches a compiled RegExp by its source,
// and a pattern compiled before the flag is set keeps backtracking.
enableLinearTimeRegexFallback();

/** cel-js's parse-tree node: `op` and its `args` (nodes, names, or a value). */
interface CelNode {
  readonly op: string;
  readonly args: unknown;
  readonly start?: number;
}

function isCelNode(value: unknown): value is CelNode {
  return value !== null && typeof value === 'object' && typeof (value as CelNode).op === 'string';
}

/** What a condition's parse tree shows about its cost. */
export interface ConditionShape {
  /** Deepest nesting of comprehensions (0: none). */
  readonly comprehensionNesting: number;
  /** Each `matches()` call: its pattern when written as a string literal, else null; where it is. */
  readonly regexCalls: ReadonlyArray<{ readonly pattern: string | null; readonly index: number }>;
}

/** Reads the cost-relevant shape of a parsed condition from cel-js's parse tree (`program.ast`). */
export function inspectConditionShape(ast: unknown): ConditionShape {
  const regexCalls: Array<{ pattern: string | null; index: number }> = [];
  const nestingOf = (node: unknown): number => {
    if (Array.isArray(node)) return Math.max(0, ...node.map(nestingOf));
    if (!isCelNode(node) || node.op === 'value') return 0;
    if ((node.op === 'rcall' || node.op === 'call') && Array.isArray(node.args)) {
      const name = node.args[0] as string;
      const receiver = node.op === 'rcall' ? node.args[1] : undefined;
      const callArgs = (node.op === 'rcall' ? node.args[2] : node.args[1]) as unknown[];
      if (name === 'matches') {
        const patternNode = node.op === 'rcall' ? callArgs[0] : callArgs[1];
        const pattern = isCelNode(patternNode) && patternNode.op === 'value' && typeof patternNode.args === 'string' ? patternNode.args : null;
        regexCalls.push({ pattern, index: (isCelNode(patternNode) ? patternNode.start : undefined) ?? node.start ?? 0 });
      }
      const inner = nestingOf(callArgs);
      const outer = nestingOf(receiver);
      const isComprehension = node.op === 'rcall' && COMPREHENSION_MACROS.has(name) && callArgs.length >= 2;
      return Math.max(outer, isComprehension ? inner + 1 : inner);
    }
    return nestingOf(node.args);
  };
  const comprehensionNesting = nestingOf(ast);
  return { comprehensionNesting, regexCalls };
}

/** A problem that stops the condition from loading: the sentence and where in the expression. */
export interface BudgetProblem {
  readonly message: string;
  readonly index: number;
}

/** The load-time checks of a condition's shape: regex patterns, nesting depth. Empty when it may load. */
export function checkConditionShape(shape: ConditionShape): BudgetProblem[] {
  const problems: BudgetProblem[] = [];
  for (const call of shape.regexCalls) {
    if (call.pattern === null) {
      problems.push({ message: 'invalid condition: matches() needs its pattern written in the rule as a string literal, not read from the event', index: call.index });
      continue;
    }
    const rejection = rejectPattern(call.pattern);
    if (rejection !== null) problems.push({ message: `invalid condition: the pattern ${JSON.stringify(call.pattern)} ${rejection}`, index: call.index });
  }
  if (shape.comprehensionNesting > MAX_COMPREHENSION_NESTING) {
    problems.push({
      message: `invalid condition: comprehensions (all, exists, exists_one, map, filter) nest ${shape.comprehensionNesting} deep; at most ${MAX_COMPREHENSION_NESTING} levels are allowed, since each level multiplies the work`,
      index: 0,
    });
  }
  return problems;
}

/** What `check` warns about in a condition that loads (its shape is costly, not wrong). */
export function warnAboutConditionShape(shape: ConditionShape): string[] {
  if (shape.comprehensionNesting < 2) return [];
  return [
    `condition nests comprehensions ${shape.comprehensionNesting} deep: its work grows with the product of the lists' sizes, and an evaluation that reads more than ${CONDITION_STEP_BUDGET.toLocaleString('en')} list items or map keys fails the rule's actions`,
  ];
}

/** Why RE2 or JavaScript refuses `pattern`, or null when both accept it. */
function rejectPattern(pattern: string): string | null {
  try {
    loadRe2js().RE2JS.compile(pattern);
  } catch (error) {
    return `is not RE2 syntax (${error instanceof Error ? error.message : String(error)}): matches() takes RE2 patterns, without backreferences or lookarounds`;
  }
  try {
    new RegExp(pattern);
  } catch {
    return 'is RE2 syntax that JavaScript cannot run (such as an inline (?i) flag): write it without';
  }
  return null;
}

/** Thrown through cel-js when a condition reads more than its budget; conditions.ts reports it. */
export class ConditionBudgetExceeded extends Error {
  constructor() {
    super(`condition exceeded its evaluation budget of ${CONDITION_STEP_BUDGET.toLocaleString('en')} list items and map keys read`);
    this.name = 'ConditionBudgetExceeded';
  }
}

/** A step counter shared by every view of one evaluation. */
interface Meter {
  steps: number;
}

function charge(meter: Meter, steps: number): void {
  meter.steps += steps;
  if (meter.steps > CONDITION_STEP_BUDGET) throw new ConditionBudgetExceeded();
}

/**
 * A read-only view of `value` for one evaluation that charges `meter` one step per list element
 * read and one per map key listed, so comprehensions over the payload stop at the budget.
 * Non-container values pass through as they are; a Map (conditions.ts's fallback copies) is
 * metered when its keys are listed.
 */
export function meterValue(value: unknown, meter: Meter = { steps: 0 }): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Map) return meterMap(value, meter);
  const views = new Map<PropertyKey, unknown>();
  const isList = Array.isArray(value);
  // A proxy must hand out a frozen target's own values unchanged; a shallow copy frees the views.
  const target: object = Object.isFrozen(value) ? (isList ? [...(value as unknown[])] : { ...value }) : value;
  return new Proxy(target, {
    get(target, key, receiver) {
      const item = Reflect.get(target, key, receiver);
      if (typeof key === 'symbol' || key === 'length' || key === 'constructor') return item;
      if (isList) charge(meter, 1);
      if (item === null || typeof item !== 'object') return item;
      let view = views.get(key);
      if (view === undefined) {
        view = meterValue(item, meter);
        views.set(key, view);
      }
      return view;
    },
    ownKeys(target) {
      const keys = Reflect.ownKeys(target);
      charge(meter, keys.length);
      return keys;
    },
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  });
}

function meterMap(map: Map<unknown, unknown>, meter: Meter): Map<unknown, unknown> {
  const metered = new Map<unknown, unknown>();
  for (const [key, item] of map) metered.set(key, meterValue(item, meter));
  const keys = metered.keys.bind(metered);
  metered.keys = () => {
    charge(meter, metered.size);
    return keys();
  };
  return metered;
}
