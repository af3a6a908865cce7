/**
 * A fast path for the conditions most rules use: field selections on `event`/`data` compared with
 * a literal (`data.status == "approved"`, `data.amount >= 40000`, `data.unit in ["a", "b"]`,
 * `data.customer != null`), `has(data.a.b)`, and `&&`, `||`, `!` over those. cel-js evaluates such
 * a condition in 0.2 to 2 µs (an AST walk with overload dispatch, more with many distinct rules);
 * this closure does it in a few tens of nanoseconds.
 *
 * It is built from the AST cel-js parsed and type-checked at load, so it sees exactly what cel-js
 * sees. Anything outside the subset is not compiled here, and any evaluation that meets something
 * other than plain data of the expected type (a missing field, a number compared with a string, a
 * list where a map should be) returns NOT_FAST and runs through cel-js, so errors and their
 * messages always come from one place. Behaviour must match cel-js exactly; conditions.spec.ts
 * checks both paths on the same table.
 */

export const NOT_FAST: unique symbol = Symbol('not-fast-condition');

/** What conditions see (see conditions.ts). */
type Scope = { readonly event: unknown; readonly data: unknown };

/** A compiled condition: true/false, or NOT_FAST to ask cel-js. */
export type FastCondition = (scope: Scope) => boolean | typeof NOT_FAST;

/** Reads a field; NOT_FAST when it is missing or a step is not a plain map. */
type Read = (scope: Scope) => unknown;

/** The parts of a cel-js AST node this module reads (lib/parser.js `ASTNode`). */
interface CelNode {
  readonly op: string;
  readonly args: unknown;
}

/** Numbers whose conversion from a CEL int literal to a double is exact. */
const MAX_EXACT_INT = 2n ** 53n;

/**
 * Compiles the AST of a checked condition (`program.ast`) if it is in the fast subset.
 * @returns the fast condition, or null when it needs cel-js.
 */
export function compileFastCondition(ast: unknown): FastCondition | null {
  try {
    return compileBool(ast);
  } catch {
    // An AST shape this module does not know (another cel-js version): cel-js runs it.
    return null;
  }
}

function isNode(value: unknown): value is CelNode {
  return value !== null && typeof value === 'object' && typeof (value as { op?: unknown }).op === 'string';
}

function compileBool(node: unknown): FastCondition | null {
  if (!isNode(node)) return null;
  const args = node.args as unknown[];
  switch (node.op) {
    case '&&': {
      const left = compileBool(args[0]);
      const right = compileBool(args[1]);
      if (left === null || right === null) return null;
      // CEL's `false && x` is false even when x fails; a left side that needs cel-js sends the
      // whole condition there (cel-js also absorbs a failing left side if the right is false).
      return (scope) => {
        const first = left(scope);
        if (first !== true) return first;
        return right(scope);
      };
    }
    case '||': {
      const left = compileBool(args[0]);
      const right = compileBool(args[1]);
      if (left === null || right === null) return null;
      return (scope) => {
        const first = left(scope);
        if (first !== false) return first;
        return right(scope);
      };
    }
    case '!_': {
      const operand = compileBool(unaryOperand(node));
      if (operand === null) return null;
      return (scope) => {
        const value = operand(scope);
        return value === NOT_FAST ? NOT_FAST : !value;
      };
    }
    case 'value':
      return typeof node.args === 'boolean' ? constant(node.args) : null;
    case 'call':
      return args[0] === 'has' && Array.isArray(args[1]) && args[1].length === 1 ? compileHas(args[1][0]) : null;
    case '==':
    case '!=':
      return compileEquality(node.op, args[0], args[1]);
    case '<':
    case '<=':
    case '>':
    case '>=':
      return compileOrdering(node.op, args[0], args[1]);
    case 'in':
      return compileIn(args[0], args[1]);
    default:
      return null;
  }
}

/** cel-js keeps a unary operator's operand as `args` itself. */
function unaryOperand(node: CelNode): unknown {
  return Array.isArray(node.args) ? node.args[0] : node.args;
}

function constant(value: boolean): FastCondition {
  return () => value;
}

/** `data.a.b` / `event.type` as a list of names, or null for anything else (index, call, optional). */
function fieldPath(node: unknown): string[] | null {
  if (!isNode(node)) return null;
  if (node.op === 'id') return node.args === 'data' || node.args === 'event' ? [node.args] : null;
  if (node.op !== '.') return null;
  const [object, name] = node.args as [unknown, unknown];
  if (typeof name !== 'string') return null;
  const path = fieldPath(object);
  return path === null ? null : [...path, name];
}

/** A map as cel-js reads it from JSON: a plain object (arrays are lists, anything else is not data). */
function isPlainMap(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function compileRead(path: readonly string[]): Read {
  const [root, ...fields] = path;
  const count = fields.length;
  return (scope) => {
    let value: unknown = root === 'data' ? scope.data : scope.event;
    for (let i = 0; i < count; i += 1) {
      if (!isPlainMap(value) || !Object.hasOwn(value, fields[i])) return NOT_FAST;
      value = value[fields[i]];
    }
    // The variables themselves must be maps too (cel-js checks them against their declared type).
    if (count === 0 && !isPlainMap(value)) return NOT_FAST;
    return value === undefined ? NOT_FAST : value;
  };
}

/** `has(data.a.b)`: whether the map `data.a` has the key `b`. */
function compileHas(argument: unknown): FastCondition | null {
  const path = fieldPath(argument);
  if (path === null || path.length < 2) return null;
  const readParent = compileRead(path.slice(0, -1));
  const key = path[path.length - 1];
  return (scope) => {
    const parent = readParent(scope);
    if (!isPlainMap(parent)) return NOT_FAST;
    if (Object.hasOwn(parent, key)) return true;
    // An inherited name (`toString`) is left to cel-js; a key found nowhere is plainly absent.
    return key in parent ? NOT_FAST : false;
  };
}

type Literal = { readonly kind: 'string'; readonly value: string } | { readonly kind: 'number'; readonly value: number } | { readonly kind: 'bool'; readonly value: boolean } | { readonly kind: 'null' };

function literalOf(node: unknown): Literal | null {
  if (!isNode(node)) return null;
  if (node.op === '-_') {
    const inner = literalOf(unaryOperand(node));
    return inner !== null && inner.kind === 'number' ? { kind: 'number', value: -inner.value } : null;
  }
  if (node.op !== 'value') return null;
  const value = node.args;
  if (typeof value === 'string') return { kind: 'string', value };
  if (typeof value === 'boolean') return { kind: 'bool', value };
  if (value === null) return { kind: 'null' };
  if (typeof value === 'bigint') return value <= MAX_EXACT_INT && value >= -MAX_EXACT_INT ? { kind: 'number', value: Number(value) } : null;
  if (typeof value === 'number' && Number.isFinite(value)) return { kind: 'number', value };
  return null;
}

/** `field == literal` / `field != literal` for string, bool and null literals (numbers: CEL's numeric equality is left to cel-js). */
function compileEquality(op: '==' | '!=', left: unknown, right: unknown): FastCondition | null {
  const path = fieldPath(left);
  const literal = literalOf(right);
  if (path === null || literal === null || literal.kind === 'number') return null;
  const read = compileRead(path);
  const isEqual = op === '==';
  switch (literal.kind) {
    case 'string': {
      const expected = literal.value;
      return (scope) => {
        const value = read(scope);
        return typeof value === 'string' ? (value === expected) === isEqual : NOT_FAST;
      };
    }
    case 'bool': {
      const expected = literal.value;
      return (scope) => {
        const value = read(scope);
        return typeof value === 'boolean' ? (value === expected) === isEqual : NOT_FAST;
      };
    }
    case 'null':
      // Only null equals null; a string, number, bool, list or map is simply not null.
      return (scope) => {
        const value = read(scope);
        return value === NOT_FAST ? NOT_FAST : (value === null) === isEqual;
      };
  }
}

/** `field < number` and friends, for a JSON number and a numeric literal. */
function compileOrdering(op: '<' | '<=' | '>' | '>=', left: unknown, right: unknown): FastCondition | null {
  const path = fieldPath(left);
  const literal = literalOf(right);
  if (path === null || literal === null || literal.kind !== 'number') return null;
  const read = compileRead(path);
  const bound = literal.value;
  const compare: (value: number) => boolean =
    op === '<' ? (value) => value < bound : op === '<=' ? (value) => value <= bound : op === '>' ? (value) => value > bound : (value) => value >= bound;
  return (scope) => {
    const value = read(scope);
    return typeof value === 'number' && Number.isFinite(value) ? compare(value) : NOT_FAST;
  };
}

/** `field in ["a", "b"]` with a list of string literals. */
function compileIn(left: unknown, right: unknown): FastCondition | null {
  const path = fieldPath(left);
  if (path === null || !isNode(right) || right.op !== 'list' || !Array.isArray(right.args)) return null;
  const options: string[] = [];
  for (const item of right.args) {
    const literal = literalOf(item);
    if (literal === null || literal.kind !== 'string') return null;
    options.push(literal.value);
  }
  const read = compileRead(path);
  const set = new Set(options);
  return (scope) => {
    const value = read(scope);
    return typeof value === 'string' ? set.has(value) : NOT_FAST;
  };
}
