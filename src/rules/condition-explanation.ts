import { EvaluationError, serialize, type ASTNode, type ParseResult } from '@marcbachmann/cel-js';

/*
 * Which part of a false condition was false (issue 14.6: "why didn't my alert go out?"). Read from
 * cel-js's own parse tree, and every part is evaluated by cel-js itself: each part's text is parsed
 * and checked in the condition's environment and run on the same values, within the same budget,
 * as the whole condition. Nothing here decides what an operator or a function means.
 *
 * - A chain of `&&` is false at its first conjunct that is false (CEL's `&&` is false as soon as
 *   one side is, even when the other fails): that conjunct, explained again if it is itself a chain.
 * - A chain of `||` is false only when every disjunct is: each of them, explained in turn.
 * - Any other shape (`!`, a ternary, a comparison, a macro) is one part: itself.
 */

/** A field a false part reads, and what CEL read there. */
export interface ConditionFieldValue {
  /** `data.amount`, `event.type`: a plain path from a rule variable. */
  readonly path: string;
  /** The value as CEL literals write it (`"pending"`, `150`, `null`), shortened past 80 characters; absent when the read failed. */
  readonly value?: string;
  /** Why it could not be read: `absent` for a missing key, else cel-js's message. */
  readonly error?: string;
}

/** A part of a condition that was false. */
export interface FalseConditionPart {
  /** The part as written in the rule (as cel-js prints it when its position in the source is not exact). */
  readonly text: string;
  /** The fields it reads, in the order written (at most {@link MAX_FIELDS_PER_PART}). */
  readonly fields: readonly ConditionFieldValue[];
}

/** Fields listed per part: enough for the usual comparison or guard, bounded for the trace. */
export const MAX_FIELDS_PER_PART = 5;

/** Characters of a value shown; longer ones end with `…`. */
const MAX_VALUE_LENGTH = 80;

/** cel-js's comprehension macros: their bodies read the loop variable, not the event's fields. */
const COMPREHENSION_MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/** One node of the explanation: a chain of `&&` or `||`, or a part evaluated as a whole. */
type PartNode =
  | { readonly kind: '&&' | '||'; readonly text: string; readonly children: readonly PartNode[] }
  | { readonly kind: 'part'; readonly text: string; readonly fields: readonly string[] };

/** Parses (and checks) a part's text in the condition's environment; null when it cannot stand alone. */
export type PartParser = (text: string) => ParseResult | null;

/**
 * Explains conditions of one expression: the parse tree is split into parts once, on the first
 * false evaluation, and each part's program is compiled once.
 */
export class ConditionExplainer {
  readonly #source: string;
  readonly #ast: ASTNode;
  readonly #parse: PartParser;
  readonly #variables: ReadonlySet<string>;
  #tree: PartNode | null = null;
  readonly #programs = new Map<string, ParseResult | null>();

  /**
   * @param source the condition as written
   * @param ast cel-js's parse tree of `source`
   * @param parse parses a part in the condition's environment
   * @param variables the rule variables whose fields are listed (`event`, `data`, `affiliate`)
   */
  constructor(source: string, ast: ASTNode, parse: PartParser, variables: readonly string[]) {
    this.#source = source;
    this.#ast = ast;
    this.#parse = parse;
    this.#variables = new Set(variables);
  }

  /**
   * The parts that made the condition false on `values` (the CEL values the condition itself was
   * given). Never throws: when no part can be singled out (a part fails on its own, the budget
   * runs out), the whole condition is the part.
   */
  explain(values: Record<string, unknown>): FalseConditionPart[] {
    try {
      this.#tree ??= this.#split(this.#ast, true);
      const parts = this.#explainNode(this.#tree, values);
      if (parts !== null) return parts;
    } catch {
      // A budget error or anything cel-js throws: fall back to the whole condition.
    }
    const whole = this.#tree?.kind === 'part' ? this.#tree : { kind: 'part' as const, text: this.#source.trim(), fields: collectFieldPaths(this.#ast, this.#variables) };
    return [this.#describe(whole, values)];
  }

  #explainNode(node: PartNode, values: Record<string, unknown>): FalseConditionPart[] | null {
    if (node.kind === 'part') return [this.#describe(node, values)];
    if (node.kind === '&&') {
      for (const child of node.children) if (this.#evaluate(child.text, values) === false) return this.#explainNode(child, values);
      return null;
    }
    const parts: FalseConditionPart[] = [];
    for (const child of node.children) {
      // The chain was false, so each disjunct was; one that is not (it changed, it fails) leaves nothing to single out.
      if (this.#evaluate(child.text, values) !== false) return null;
      const explained = this.#explainNode(child, values);
      if (explained === null) return null;
      parts.push(...explained);
    }
    return parts;
  }

  #describe(node: Extract<PartNode, { kind: 'part' }>, values: Record<string, unknown>): FalseConditionPart {
    return { text: node.text, fields: node.fields.map((path) => this.#readField(path, values)) };
  }

  #readField(path: string, values: Record<string, unknown>): ConditionFieldValue {
    const program = this.#programOf(path);
    if (program === null) return { path, error: 'cannot be read on its own' };
    try {
      return { path, value: formatCelValue(program(values)) };
    } catch (error) {
      if (error instanceof EvaluationError && error.code === 'no_such_key') return { path, error: 'absent' };
      return { path, error: error instanceof Error ? ((error as { summary?: string }).summary ?? error.message.split('\n')[0]) : String(error) };
    }
  }

  /** The part's value, or undefined when it failed. */
  #evaluate(text: string, values: Record<string, unknown>): unknown {
    const program = this.#programOf(text);
    if (program === null) return undefined;
    try {
      return program(values);
    } catch {
      return undefined;
    }
  }

  #programOf(text: string): ParseResult | null {
    let program = this.#programs.get(text);
    if (program === undefined) {
      program = this.#parse(text);
      this.#programs.set(text, program);
    }
    return program;
  }

  #split(node: ASTNode, isRoot: boolean): PartNode {
    const text = isRoot ? this.#source.trim() : this.#textOf(node);
    if (node.op === '&&' || node.op === '||') {
      const children = flattenChain(node, node.op).map((child) => this.#split(child, false));
      return { kind: node.op, text, children };
    }
    return { kind: 'part', text, fields: collectFieldPaths(node, this.#variables) };
  }

  /**
   * The node's text as written. cel-js's ranges leave out a node's enclosing parentheses and, for
   * some nodes (`!(…)`), a closing one of their own: the range is widened over parentheses until
   * the text parses to the same tree, else cel-js prints the node.
   */
  #textOf(node: ASTNode): string {
    const printed = serialize(node);
    const source = this.#source;
    let start = node.range.start;
    let end = node.range.end;
    for (let widening = 0; widening < 4; widening += 1) {
      const text = source.slice(start, end).trim();
      if (this.#isSameTree(text, printed)) return text;
      const next = source.slice(end).search(/\S/);
      if (next >= 0 && source[end + next] === ')') end += next + 1;
      else break;
    }
    start = node.range.start;
    end = node.range.end;
    for (let widening = 0; widening < 4; widening += 1) {
      const before = source.slice(0, start).search(/\(\s*$/);
      const after = source.slice(end).search(/\S/);
      if (before < 0 || after < 0 || source[end + after] !== ')') break;
      start = before;
      end += after + 1;
      const text = source.slice(start, end).trim();
      if (this.#isSameTree(text, printed)) return text;
    }
    return printed;
  }

  #isSameTree(text: string, printed: string): boolean {
    const program = text === '' ? null : this.#programOf(text);
    return program !== null && serialize(program.ast) === printed;
  }
}

/** The operands of a chain of one operator, parentheses or not: `a && (b && c)` → a, b, c. */
function flattenChain(node: ASTNode, op: '&&' | '||'): ASTNode[] {
  if (node.op !== op) return [node];
  const [left, right] = node.args as [ASTNode, ASTNode];
  return [...flattenChain(left, op), ...flattenChain(right, op)];
}

/** The plain field paths (`data.promoter.email`) a part reads, in source order, each once, at most MAX_FIELDS_PER_PART. */
function collectFieldPaths(root: ASTNode, variables: ReadonlySet<string>): string[] {
  const found: Array<{ path: string; at: number }> = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (!isNode(node) || node.op === 'value' || node.op === 'id') return;
    if (node.op === '.') {
      const path = pathOf(node, variables);
      if (path !== null) {
        found.push({ path, at: node.range.start });
        return;
      }
    }
    if (node.op === 'rcall') {
      const [name, receiver, callArgs] = node.args as [string, ASTNode, ASTNode[]];
      visit(receiver);
      // A comprehension's body reads its loop variable; only its receiver is an event field.
      if (!COMPREHENSION_MACROS.has(name)) visit(callArgs);
      return;
    }
    if (node.op === 'call') {
      visit((node.args as [string, ASTNode[]])[1]);
      return;
    }
    visit(node.args);
  };
  visit(root);
  const paths: string[] = [];
  for (const { path } of found.sort((a, b) => a.at - b.at)) if (!paths.includes(path)) paths.push(path);
  return paths.slice(0, MAX_FIELDS_PER_PART);
}

/** `data.promoter.email` for a chain of field selections from a rule variable; null otherwise. */
function pathOf(node: ASTNode, variables: ReadonlySet<string>): string | null {
  const keys: string[] = [];
  let current: ASTNode = node;
  while (current.op === '.') {
    keys.unshift(String(current.args[1]));
    current = current.args[0];
  }
  if (current.op !== 'id' || !variables.has(String(current.args))) return null;
  // Only keys CEL can write after a dot: other keys need `data["…"]`, which is not a plain path.
  if (!keys.every((key) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(key))) return null;
  return [String(current.args), ...keys].join('.');
}

function isNode(value: unknown): value is ASTNode {
  return typeof value === 'object' && value !== null && typeof (value as { op?: unknown }).op === 'string';
}

/** A CEL value as CEL literals write it, for an operator to read: `"pending"`, `150`, `null`, `[…]`. */
export function formatCelValue(value: unknown): string {
  const text = formatValue(value, 0);
  return text.length > MAX_VALUE_LENGTH ? `${text.slice(0, MAX_VALUE_LENGTH - 1)}…` : text;
}

function formatValue(value: unknown, depth: number): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > MAX_VALUE_LENGTH ? `${value.slice(0, MAX_VALUE_LENGTH)}…` : value);
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return `timestamp("${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()}")`;
  if (value instanceof Uint8Array) return `bytes(${value.length} bytes)`;
  if (depth >= 2) return Array.isArray(value) ? '[…]' : '{…}';
  if (Array.isArray(value)) return `[${value.slice(0, 5).map((item) => formatValue(item, depth + 1)).join(', ')}${value.length > 5 ? ', …' : ''}]`;
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value as object);
  if (value instanceof Map || Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) {
    const shown = entries.slice(0, 5).map(([key, item]) => `${formatValue(key, depth + 1)}: ${formatValue(item, depth + 1)}`);
    return `{${shown.join(', ')}${entries.length > 5 ? ', …' : ''}}`;
  }
  // cel-js's own value classes (uint, duration, optional) print themselves.
  return String(value);
}

/**
 * One sentence for the parts of a false condition, as `events trace`, `simulate`, `test` and the
 * dashboard print it:
 * `data.status == "approved" is false (data.status = "pending")`, or for several parts (every
 * disjunct of an `||`) `each is false: data.a > 1 (data.a = 0); has(data.b) (data.b is absent)`.
 */
export function describeFalseParts(parts: readonly FalseConditionPart[]): string {
  if (parts.length === 1) return `${parts[0].text} is false${describeFields(parts[0].fields)}`;
  return `each is false: ${parts.map((part) => `${part.text}${describeFields(part.fields)}`).join('; ')}`;
}

function describeFields(fields: readonly ConditionFieldValue[]): string {
  if (fields.length === 0) return '';
  const described = fields.map((field) =>
    field.value !== undefined ? `${field.path} = ${field.value}` : field.error === 'absent' ? `${field.path} is absent` : `${field.path}: ${field.error}`,
  );
  return ` (${described.join(', ')})`;
}
