import { CaptureTag, Context, Liquid, TokenKind, toValueSync, type Template } from 'liquidjs';
import type { TextEscaper } from '../actions/action.js';
import { BridgeError } from '../errors.js';
import { formatMoney } from './money.js';
import { RULE_VARIABLE_NAMES } from './rule-scopes.js';

/** The variables templates (and conditions) see: rule-scopes.ts's RULE_VARIABLES. */
export const TEMPLATE_VARIABLES: readonly string[] = RULE_VARIABLE_NAMES;

export { formatMoney };

/**
 * liquidjs's `memoryLimit`: its string filters charge the length of their text against it, per
 * render, and fail once it is exceeded, so one payload field cannot make a render allocate
 * without bound.
 */
export const TEMPLATE_MEMORY_LIMIT = 10_000_000;

/**
 * Longest text one template may render (and one `{% capture %}` may hold), in characters: far
 * above any action's own limits (Slack's 40,000-character text, HubSpot's 65,536-character
 * property values), far below what would strain the worker. liquidjs's memoryLimit charges ranges
 * and string filters but not output, so `{% for %}` loops (and captures doubling themselves) could
 * build hundreds of MB inside its 10 MB limit; each render writes through
 * {@link OutputLimitedEmitter} instead.
 */
export const TEMPLATE_OUTPUT_LIMIT = 1_000_000;

/**
 * liquidjs's emitter (the `Emitter` it writes every output to) with a cap: writing past
 * {@link TEMPLATE_OUTPUT_LIMIT} characters stops the render with an error, which fails the action
 * as a plan error.
 */
class OutputLimitedEmitter {
  buffer = '';

  write(html: unknown): void {
    const text = typeof html === 'string' ? html : stringifyValue(html);
    if (this.buffer.length + text.length > TEMPLATE_OUTPUT_LIMIT) {
      throw new Error(`template output over ${TEMPLATE_OUTPUT_LIMIT.toLocaleString('en')} characters`);
    }
    this.buffer += text;
  }
}

/**
 * liquidjs's own `capture`, rendering its body through {@link OutputLimitedEmitter} (liquidjs
 * gives a capture an uncapped emitter of its own) and charging what it captured to the render's
 * memoryLimit, so captures that double themselves in a loop stop at the limit.
 */
class OutputLimitedCaptureTag extends CaptureTag {
  override *render(ctx: Context): Generator<unknown, void, string> {
    const captured: string = yield this.liquid.renderer.renderTemplates(this.templates, ctx, new OutputLimitedEmitter());
    ctx.memoryLimit.use(captured.length);
    ctx.bottom()[this.variable] = captured;
  }
}

/** Renders parsed templates with liquidjs, synchronously, through {@link OutputLimitedEmitter}. */
function renderLimited(engine: Liquid, template: Template[], scope: Record<string, unknown>, strictVariables: boolean): string {
  const context = new Context(scope, engine.options, { sync: true, strictVariables }, { liquid: engine });
  return toValueSync(engine.renderer.renderTemplates(template, context, new OutputLimitedEmitter())) as string;
}

/** How an interpolated value becomes text: never `undefined`; objects and lists as JSON. */
export function stringifyValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value) ?? '';
  return String(value);
}

/**
 * A liquidjs engine for one escaper. The escaper runs on every `{{ }}` output (not on the literal
 * text the author wrote) unless its last filter is `raw`; liquidjs applies it after the filters,
 * so a filter cannot undo it. Plain actions still go through `stringifyValue` so objects print as
 * JSON.
 */
function createEngine(escapeText: TextEscaper | undefined): Liquid {
  const engine = new Liquid({
    outputEscape: escapeText ? (value: unknown) => escapeText(stringifyValue(value)) : stringifyValue,
    strictFilters: true,
    ownPropertyOnly: true,
    // `{{ x | default: "n/a" }}` and `{% if x %}` must work on missing fields even in strict mode.
    lenientIf: true,
    timezoneOffset: 0,
    // Stryker disable next-line StringLiteral: no filter the bridge offers reads the locale (money formats itself); kept for date filters.
    locale: 'en-US',
    // Stryker disable next-line BooleanLiteral: liquidjs caches file templates only, and there are none (templates: {}).
    cache: false,
    // No file system: templates come from rule files only. Partials would read files from the cwd.
    templates: {},
    parseLimit: 100_000,
    renderLimit: 1_000,
    memoryLimit: TEMPLATE_MEMORY_LIMIT,
  });
  for (const tag of ['include', 'render', 'layout', 'block']) delete engine.tags[tag];
  engine.registerTag('capture', OutputLimitedCaptureTag);
  engine.registerFilter('money', formatMoney);
  return engine;
}

/** Plain text: interpolated values are only stringified. */
const plainEngine = createEngine(undefined);
/**
 * One engine per escaper, built on first use: actions reuse one escaper function, so this holds
 * one entry per kind of escaping (Slack mrkdwn today). Weak, so a test's throwaway escaper goes.
 */
const escapingEngines = new WeakMap<TextEscaper, Liquid>();

function engineFor(escapeText: TextEscaper | undefined): Liquid {
  if (escapeText === undefined) return plainEngine;
  let engine = escapingEngines.get(escapeText);
  if (engine === undefined) {
    engine = createEngine(escapeText);
    escapingEngines.set(escapeText, engine);
  }
  return engine;
}

/** A params value compiled once: static parts kept as they are, strings with markup parsed. */
export type TemplateTree =
  | { readonly kind: 'static'; readonly value: unknown }
  | {
      readonly kind: 'template';
      readonly source: string;
      /** The engine it was parsed by (the action's escaping), which also renders it. */
      readonly engine: Liquid;
      /** liquidjs's parse tree, parsed once at load. */
      readonly template: Template[];
    }
  | { readonly kind: 'list'; readonly items: readonly TemplateTree[] }
  | { readonly kind: 'map'; readonly entries: readonly (readonly [string, TemplateTree])[] };

/**
 * The text of a compiled params value that every render contains whatever the event: static
 * strings as they are, and of a template only its literal parts outside any `{{ }}` or `{% %}`
 * (liquidjs's top-level HTML tokens: text inside an `{% if %}` may not render). Lists and maps keep
 * their shape. `check` measures it against an action's limits (Action.lint).
 */
export function literalTextOf(tree: TemplateTree): unknown {
  switch (tree.kind) {
    case 'static':
      return tree.value;
    case 'template':
      return tree.template
        .filter((part) => part.token.kind === TokenKind.HTML)
        .map((part) => (part.token as unknown as { getContent(): string }).getContent())
        .join('');
    case 'list':
      return tree.items.map(literalTextOf);
    case 'map':
      return Object.fromEntries(tree.entries.map(([key, item]) => [key, literalTextOf(item)]));
  }
}

/** A template that does not compile: where in the params, the sentence, and the index in the string. */
export interface TemplateProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
  readonly index: number;
}

/** Path segments as written in messages: `blocks[0].text.text`. */
export function formatParamPath(path: readonly (string | number)[]): string {
  return path.map((segment, i) => (typeof segment === 'number' ? `[${segment}]` : i === 0 ? segment : `.${segment}`)).join('');
}

/** ` in blocks[0].text` for messages; nothing for a template that is the whole value. */
function inParam(path: readonly (string | number)[]): string {
  return path.length === 0 ? '' : ` in ${formatParamPath(path)}`;
}

/** `text: ` before a render message; nothing for a template that is the whole value. */
function prefixOf(path: readonly (string | number)[]): string {
  return path.length === 0 ? '' : `${formatParamPath(path)}: `;
}

/**
 * Compiles every string inside `value` (recursively through lists and maps) as a Liquid template
 * for an action with the given escaper (its `escapeText`; undefined: plain text). Numbers,
 * booleans and strings with no `{{`/`{%` stay as they are. Templates may use only `event` and `data`.
 * `basePath` names where `value` sits in messages (`invalid template in once_per: …`); problem
 * paths start with it. `variables` are the names templates may use (a digest template sees
 * `events` and `count` instead of `event` and `data`).
 * @returns the tree and every problem found (syntax errors, unknown filters, unknown variables).
 */
export function compileTemplateTree(
  value: unknown,
  escapeText?: TextEscaper,
  basePath: readonly (string | number)[] = [],
  variables: readonly string[] = TEMPLATE_VARIABLES,
  escapeTextIn?: (mapping: Readonly<Record<string, unknown>>) => TextEscaper | undefined,
): { tree: TemplateTree; problems: TemplateProblem[] } {
  const problems: TemplateProblem[] = [];
  const tree = compileNode(value, engineFor(escapeText), [...basePath], problems, variables, escapeTextIn);
  return { tree, problems };
}

function compileNode(
  value: unknown,
  inherited: Liquid,
  path: (string | number)[],
  problems: TemplateProblem[],
  variables: readonly string[],
  escapeTextIn?: (mapping: Readonly<Record<string, unknown>>) => TextEscaper | undefined,
): TemplateTree {
  // A mapping may call for its own escaping (a Block Kit plain_text object), for it and below.
  const ownEscaper = escapeTextIn && value !== null && typeof value === 'object' && !Array.isArray(value) ? escapeTextIn(value as Record<string, unknown>) : undefined;
  const engine = ownEscaper ? engineFor(ownEscaper) : inherited;
  if (typeof value === 'string') {
    if (!value.includes('{{') && !value.includes('{%')) return { kind: 'static', value };
    try {
      const template = engine.parse(value);
      checkVariables(engine, template, value, path, problems, variables);
      return { kind: 'template', source: value, engine, template };
    } catch (error) {
      problems.push({
        path,
        message: `invalid template${inParam(path)}: ${stripLiquidPosition(error)}`,
        index: liquidErrorIndex(error, value),
      });
      return { kind: 'static', value };
    }
  }
  if (Array.isArray(value)) {
    const items = value.map((item, i) => compileNode(item, engine, [...path, i], problems, variables, escapeTextIn));
    return items.every((item) => item.kind === 'static') ? { kind: 'static', value: deepFreeze(value) } : { kind: 'list', items };
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([key, item]) => [key, compileNode(item, engine, [...path, key], problems, variables, escapeTextIn)] as const);
    return entries.every(([, item]) => item.kind === 'static') ? { kind: 'static', value: deepFreeze(value) } : { kind: 'map', entries };
  }
  return { kind: 'static', value };
}

function checkVariables(
  engine: Liquid,
  template: Template[],
  source: string,
  path: (string | number)[],
  problems: TemplateProblem[],
  variables: readonly string[],
): void {
  const analysis = engine.analyzeSync(template);
  for (const [name, occurrences] of Object.entries(analysis.globals)) {
    if (variables.includes(name)) continue;
    const location = occurrences[0]?.location;
    problems.push({
      path,
      message: `unknown variable ${name}${inParam(path)}: ${variables === TEMPLATE_VARIABLES ? 'templates see' : 'this template sees'} ${listVariables(variables)}`,
      index: location ? indexOfRowCol(source, location.row, location.col) : 0,
    });
  }
}

/** `event and data`; `event, data and affiliate`. */
function listVariables(names: readonly string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** Thrown by renderTemplateTree; `path` is the params path of the failing string. */
export class TemplateRenderError extends BridgeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('template_render_failed', message, options);
  }
}

export interface RenderOptions {
  /** A missing variable is an error naming it (used by `test`), instead of empty text and a warning. */
  readonly strict: boolean;
}

/**
 * Renders a compiled tree with `{ event, data, affiliate }`.
 * @returns the rendered value and warnings (missing fields rendered as empty, in non-strict mode).
 * @throws TemplateRenderError for a missing field in strict mode, or a filter failing (e.g. `money` on text).
 */
export function renderTemplateTree(
  tree: TemplateTree,
  scope: Record<string, unknown>,
  options: RenderOptions,
  warnings: string[] = [],
): { value: unknown; warnings: string[] } {
  return { value: renderTemplateValue(tree, scope, options.strict, warnings), warnings };
}

/**
 * renderTemplateTree without the result wrapper, for the planner's hot loop: warnings are pushed
 * onto `warnings`. Params paths in messages are relative to `tree`.
 */
export function renderTemplateValue(tree: TemplateTree, scope: Record<string, unknown>, isStrict: boolean, warnings: string[]): unknown {
  return renderNode(tree, tree, scope, isStrict, warnings);
}

// The params path of a string is needed only for a warning or an error, so it is not built while
// rendering (that cost one array per node per render): it is found from `root` when needed.
function renderNode(root: TemplateTree, tree: TemplateTree, scope: Record<string, unknown>, isStrict: boolean, warnings: string[]): unknown {
  switch (tree.kind) {
    case 'static':
      return tree.value;
    case 'list': {
      const items = tree.items;
      const rendered: unknown[] = new Array(items.length);
      for (let i = 0; i < items.length; i += 1) rendered[i] = renderNode(root, items[i], scope, isStrict, warnings);
      return rendered;
    }
    case 'map': {
      const entries = tree.entries;
      const rendered: Record<string, unknown> = {};
      for (let i = 0; i < entries.length; i += 1) rendered[entries[i][0]] = renderNode(root, entries[i][1], scope, isStrict, warnings);
      return rendered;
    }
    case 'template':
      return renderWithLiquid(root, tree, scope, isStrict, warnings);
  }
}

function renderWithLiquid(
  root: TemplateTree,
  tree: Extract<TemplateTree, { kind: 'template' }>,
  scope: Record<string, unknown>,
  isStrict: boolean,
  warnings: string[],
): string {
  const engine = tree.engine;
  try {
    // Strict first: cheap when nothing is missing, and the only way to learn which field was.
    return renderLimited(engine, tree.template, scope, true);
  } catch (error) {
    const prefix = prefixOf(pathTo(root, tree) ?? []);
    const missing = undefinedVariableOf(error);
    if (missing === null) {
      throw new TemplateRenderError(`${prefix}${stripLiquidPosition(error)}`, { cause: error });
    }
    if (isStrict) {
      throw new TemplateRenderError(`${prefix}missing field ${missing}`, { cause: error });
    }
    warnings.push(`${prefix}missing field ${missing} rendered as empty text`);
    try {
      return renderLimited(engine, tree.template, scope, false);
    } catch (lenientError) {
      throw new TemplateRenderError(`${prefix}${stripLiquidPosition(lenientError)}`, { cause: lenientError });
    }
  }
}

/** The params path from `root` to `node` (compared by identity), or null when it is not inside. */
function pathTo(root: TemplateTree, node: TemplateTree): (string | number)[] | null {
  if (root === node) return [];
  if (root.kind === 'list') {
    for (let i = 0; i < root.items.length; i += 1) {
      const rest = pathTo(root.items[i], node);
      if (rest !== null) return [i, ...rest];
    }
  } else if (root.kind === 'map') {
    for (const [key, item] of root.entries) {
      const rest = pathTo(item, node);
      if (rest !== null) return [key, ...rest];
    }
  }
  return null;
}

function undefinedVariableOf(error: unknown): string | null {
  if (!(error instanceof Error) || error.name !== 'UndefinedVariableError') return null;
  const original = (error as { originalError?: unknown }).originalError;
  const message = original instanceof Error ? original.message : error.message;
  const match = /undefined variable: ([^,]+)/.exec(message);
  return match ? match[1].trim() : 'unknown';
}

/** liquidjs appends `, line:L, col:C` (inside the template); we position messages ourselves. */
function stripLiquidPosition(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0].replace(/, line:\d+, col:\d+$/, '');
}

function liquidErrorIndex(error: unknown, source: string): number {
  const match = /, line:(\d+), col:(\d+)$/.exec(error instanceof Error ? error.message.split('\n')[0] : '');
  return match ? indexOfRowCol(source, Number(match[1]), Number(match[2])) : 0;
}

/** The index in `source` of liquidjs's 1-based row and column. */
export function indexOfRowCol(source: string, row: number, col: number): number {
  const lines = source.split('\n');
  let index = 0;
  for (let i = 0; i < row - 1 && i < lines.length; i += 1) index += lines[i].length + 1;
  return Math.min(index + Math.max(col - 1, 0), source.length);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
