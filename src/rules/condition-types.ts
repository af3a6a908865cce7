import { ParseError, serialize, type ASTNode } from '@marcbachmann/cel-js';
import type { RuleScope } from './rule-scopes.js';
import { closestMatch, resolveFieldPath, type FieldType } from './scope-types.js';

/*
 * The load-time checks of a condition against the types of one event type's scope. The types are
 * cel-js's own checker's (rule-scopes.ts declares them); this file only turns its first error into
 * a sentence for rule authors, and adds the one check CEL's types cannot express: a field the
 * schema allows to be null, used where a null fails at run time. Both read cel-js's parse tree.
 */

/** A condition problem for one event type: the sentence and the index in the expression. */
export interface ConditionTypeProblem {
  readonly message: string;
  readonly index: number;
}

/**
 * Type-checks `source` in `scope` with cel-js and looks for unguarded nullable fields.
 * @returns every problem found (empty when the condition is sound for this scope).
 */
export function checkConditionTypes(source: string, scope: RuleScope): ConditionTypeProblem[] {
  let program;
  try {
    program = scope.checkEnvironment.parse(source);
  } catch (error) {
    // The untyped parse already reported syntax errors; the same parser cannot disagree.
    if (error instanceof ParseError) return [];
    throw error;
  }
  const checked = program.check();
  if (!checked.valid) {
    const error = checked.error;
    const node = (error as { node?: ASTNode } | undefined)?.node;
    const index = error?.range?.start ?? 0;
    if (error?.code === 'no_such_key' && node) return [{ message: describeUnknownField(node, scope), index: fieldIndex(node, index) }];
    return [{ message: `invalid condition: ${error?.summary ?? 'does not type-check'}`, index }];
  }
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    return [{ message: `a condition must be a bool, and this one is a ${checked.type}`, index: 0 }];
  }
  return findNullHazards(program.ast, scope);
}

/** `unknown field data.amont: did you mean data.amount?` */
function describeUnknownField(node: ASTNode, scope: RuleScope): string {
  const receiver = node.op === '.' || node.op === '.?' || node.op === '[]' || node.op === '[?]' ? (node.args as [ASTNode, unknown])[0] : null;
  const key = node.op === '.' || node.op === '.?' ? String(node.args[1]) : literalKey(node);
  const written = receiver ? `${serialize(receiver)}.${key}` : key;
  const receiverType = (receiver as { checkedType?: { name?: string } } | null)?.checkedType?.name;
  const fields = receiverType ? scope.objectTypes.get(receiverType)?.fields : undefined;
  const suggestion = fields ? closestMatch(key, Object.keys(fields)) : null;
  if (suggestion !== null && receiver) return `unknown field ${written}: did you mean ${serialize(receiver)}.${suggestion}?`;
  const base = receiver ? serialize(receiver) : 'data';
  return `unknown field ${written}: the schema does not list it; for a field the provider sends unlisted, test has(${written}) and read dyn(${base}).${key}`;
}

function literalKey(node: ASTNode): string {
  const index = (node.args as unknown[])[1] as ASTNode | undefined;
  return index && index.op === 'value' ? String(index.args) : '?';
}

/** The position of the misspelt key itself (`data.amont`: at `amont`), when the source shows it. */
function fieldIndex(node: ASTNode, fallback: number): number {
  if (node.op !== '.' && node.op !== '.?') return fallback;
  const key = String(node.args[1]);
  const at = node.input.lastIndexOf(key, node.range.end);
  return at >= node.range.start ? at : fallback;
}

// ---- Nullable fields used where a null fails at run time ----

/**
 * Finds each field the scope's schema allows to be null that the expression uses where a null
 * makes cel-js fail at run time (selecting a field of it, arithmetic, ordering, a method or
 * function call, `in` a null list, a bool operand), unless a guard on the path before it rules
 * null out: `P != null &&`, `P == null ||`, `P != null ? … : …`, or `has(P.x)` (has() of a field
 * below P is false when P is null). Comparing with `==`/`!=`, `has()`, `.?` chains and `dyn()` are
 * safe. `has(P)` alone is not a guard: it is true for a field that holds null.
 */
function findNullHazards(ast: ASTNode, scope: RuleScope): ConditionTypeProblem[] {
  const found = new Map<string, number>();
  const visit = (node: ASTNode, isUnsafe: boolean, guarded: ReadonlySet<string>): void => {
    const path = pathOf(node);
    if (path !== null && isUnsafe && !guarded.has(path.join('.')) && isNullableField(path, scope)) {
      const key = path.join('.');
      if (!found.has(key)) found.set(key, node.range.start);
    }
    const args = node.args as unknown;
    switch (node.op) {
      case 'id':
      case 'value':
        return;
      case '.':
        visit((args as [ASTNode])[0], true, guarded);
        return;
      case '.?':
        visit((args as [ASTNode])[0], false, guarded);
        return;
      case '==':
      case '!=':
        for (const child of args as ASTNode[]) visit(child, false, guarded);
        return;
      case 'in': {
        const [left, right] = args as [ASTNode, ASTNode];
        visit(left, false, guarded);
        visit(right, true, guarded);
        return;
      }
      case '&&': {
        const [left, right] = args as [ASTNode, ASTNode];
        visit(left, true, guarded);
        visit(right, true, union(guarded, guardsWhen(left, true)));
        return;
      }
      case '||': {
        const [left, right] = args as [ASTNode, ASTNode];
        visit(left, true, guarded);
        visit(right, true, union(guarded, guardsWhen(left, false)));
        return;
      }
      case '?:': {
        const [condition, then, otherwise] = args as [ASTNode, ASTNode, ASTNode];
        visit(condition, true, guarded);
        visit(then, isUnsafe, union(guarded, guardsWhen(condition, true)));
        visit(otherwise, isUnsafe, union(guarded, guardsWhen(condition, false)));
        return;
      }
      case 'call': {
        const [name, callArgs] = args as [string, ASTNode[]];
        // has() reads its path itself and is false, not an error, for a null on the way.
        if (name === 'has') return;
        for (const child of callArgs) visit(child, name !== 'dyn', guarded);
        return;
      }
      case 'rcall': {
        const [name, receiver, callArgs] = args as [string, ASTNode, ASTNode[]];
        // `x.?a.?b.orValue(d)` is d when a field on the way is missing or null, but null when b
        // itself holds null: the default does not cover a null at the end of the chain.
        const chain = name === 'orValue' ? chainPathOf(receiver) : null;
        if (chain !== null && isUnsafe && !guarded.has(chain.join('.')) && isNullableField(chain, scope)) {
          const key = chain.join('.');
          if (!found.has(key)) found.set(key, node.range.start);
        }
        visit(receiver, true, guarded);
        for (const child of callArgs) visit(child, true, guarded);
        return;
      }
      case 'list':
        for (const child of args as ASTNode[]) visit(child, false, guarded);
        return;
      case 'map':
        for (const [key, value] of args as [ASTNode, ASTNode][]) {
          visit(key, false, guarded);
          visit(value, false, guarded);
        }
        return;
      case '[?]': {
        const [receiver, index] = args as [ASTNode, ASTNode];
        visit(receiver, false, guarded);
        visit(index, true, guarded);
        return;
      }
      default:
        // Arithmetic, ordering, `!`, unary `-`, `[]`: a null operand fails.
        for (const child of Array.isArray(args) ? args : [args]) if (isNode(child)) visit(child, true, guarded);
    }
  };
  visit(ast, true, new Set());
  // In position order, the shorter path first where two start together (data.a before data.a.b).
  const ordered = [...found.entries()].sort(([pathA, indexA], [pathB, indexB]) => indexA - indexB || pathA.length - pathB.length);
  return ordered.map(([path, index]) => ({
    message: `${path} can be null, and a null here fails the condition at run time: test ${path} != null first (has() is true for a null field)`,
    index,
  }));
}

function isNode(value: unknown): value is ASTNode {
  return typeof value === 'object' && value !== null && 'op' in value;
}

/** `data.promoter.email` as ['data', 'promoter', 'email'], or null for anything but a plain field path. */
function pathOf(node: ASTNode): string[] | null {
  const path: string[] = [];
  let current: ASTNode = node;
  while (current.op === '.') {
    path.unshift(String(current.args[1]));
    current = current.args[0];
  }
  if (current.op !== 'id' || path.length === 0) return null;
  path.unshift(String(current.args));
  return path;
}

/** The path of an optional chain (`data.?promotion.?sales_total`), or null for anything else. */
function chainPathOf(node: ASTNode): string[] | null {
  const path: string[] = [];
  let current: ASTNode = node;
  let isOptional = false;
  while (current.op === '.' || current.op === '.?') {
    if (current.op === '.?') isOptional = true;
    path.unshift(String(current.args[1]));
    current = current.args[0];
  }
  if (current.op !== 'id' || path.length === 0 || !isOptional) return null;
  path.unshift(String(current.args));
  return path;
}

function isNullableField(path: readonly string[], scope: RuleScope): boolean {
  const root = scope.variables[path[0]];
  if (!root) return false;
  const resolved = resolveFieldPath(root, path.slice(1), { liquidProperties: false });
  if (!('type' in resolved)) return false;
  const type: FieldType = resolved.type;
  // `dyn` (an undescribed value) may be anything; only a declared nullable field is reported.
  return type.isNullable && !(type.kind === 'scalar' && type.cel === 'dyn');
}

/** The paths known not to be null when `node` evaluates to `outcome`. */
function guardsWhen(node: ASTNode, outcome: boolean): Set<string> {
  const guards = new Set<string>();
  const args = node.args as unknown;
  if (node.op === '!_' && isNode(args)) return guardsWhen(args, !outcome);
  if ((node.op === '&&' && outcome) || (node.op === '||' && !outcome)) {
    for (const child of args as ASTNode[]) for (const path of guardsWhen(child, outcome)) guards.add(path);
    return guards;
  }
  if ((node.op === '!=' && outcome) || (node.op === '==' && !outcome)) {
    const [left, right] = args as [ASTNode, ASTNode];
    const compared = isNullLiteral(right) ? pathOf(left) : isNullLiteral(left) ? pathOf(right) : null;
    if (compared) guards.add(compared.join('.'));
    return guards;
  }
  if (node.op === 'call' && outcome && (args as [string])[0] === 'has') {
    // has(data.a.b.c) is true only when data.a and data.a.b are objects: neither is null.
    const path = pathOf((args as [string, ASTNode[]])[1][0]);
    if (path) for (let end = 2; end < path.length; end += 1) guards.add(path.slice(0, end).join('.'));
  }
  return guards;
}

function isNullLiteral(node: ASTNode): boolean {
  return node.op === 'value' && node.args === null;
}

function union(a: ReadonlySet<string>, b: ReadonlySet<string>): ReadonlySet<string> {
  return b.size === 0 ? a : new Set([...a, ...b]);
}
