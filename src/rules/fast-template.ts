/**
 * A fast path for the templates most rules use: literal text and `{{ data.a.b | filter: arg }}`
 * outputs with the filters the shipped rules use. liquidjs renders such a template in about 25 µs (its
 * generator-based renderer); this closure renders it in well under 1 µs. Anything outside this
 * subset (tags, other filters, literals, `size`, whitespace control) is not compiled here
 * and renders through liquidjs, and so does any render where a variable is missing or a value is
 * not plain data, so warnings and errors always come from one place. Behaviour must match liquidjs
 * exactly; templates.spec.ts checks both paths on the same table.
 */
import { formatMoney } from './money.js';


/** A compiled fast template: returns the text, or NOT_FAST to ask for the liquidjs path. */
export type FastTemplate = (scope: Record<string, unknown>) => string | typeof NOT_FAST;

export const NOT_FAST: unique symbol = Symbol('not-fast');

/**
 * liquidjs's `memoryLimit` (templates.ts passes the same value): its string filters charge the
 * length of their text against it, per render, and fail once it is exceeded. The fast path keeps
 * the same count and hands over to liquidjs (which reports the error) instead of going past it.
 */
export const TEMPLATE_MEMORY_LIMIT = 10_000_000;

/** Reads one value out of the scope; NOT_FAST when it is missing or not plain data. */
type Read = (scope: Record<string, unknown>) => unknown;
/** One filter applied to a value. */
type Apply = (value: unknown, scope: Record<string, unknown>) => unknown;

type Argument = { readonly kind: 'literal'; readonly value: string | number } | { readonly kind: 'path'; readonly path: readonly string[] };

const FILTER_ARITY: Readonly<Record<string, { readonly minArgs: number; readonly maxArgs: number }>> = {
  money: { minArgs: 0, maxArgs: 1 },
  default: { minArgs: 1, maxArgs: 1 },
  upcase: { minArgs: 0, maxArgs: 0 },
  downcase: { minArgs: 0, maxArgs: 0 },
  strip: { minArgs: 0, maxArgs: 0 },
  replace: { minArgs: 2, maxArgs: 2 },
  remove_first: { minArgs: 1, maxArgs: 1 },
};
/** `size` means several things in liquidjs (a key, a length, a key count): left to it. */
const SPECIAL_SEGMENTS = new Set(['size']);
const ROOTS = new Set(['event', 'data']);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Memory charged by the render in progress. Rendering is synchronous and never re-entered, so
 * one module-level counter, reset at the start of each render, does what liquidjs's per-render
 * limiter does without allocating one per render.
 */
let memoryUsed = 0;

/** Charges `count` as liquidjs's Limiter.use does; false when the limit would be exceeded. */
function charge(count: number): boolean {
  if (count > 0) {
    if (memoryUsed + count > TEMPLATE_MEMORY_LIMIT) return false;
    memoryUsed += count;
  }
  return true;
}

/**
 * Compiles `source` if it is in the fast subset.
 * @param escape applied to every output value not ending in `| raw` (Slack escaping or plain
 * stringification), as liquidjs's `outputEscape` does.
 * @returns the fast template, or null when the source needs liquidjs.
 */
export function compileFastTemplate(source: string, escape: (value: unknown) => string): FastTemplate | null {
  if (source.includes('{%')) return null;
  const literals: string[] = [];
  const outputs: Read[] = [];
  let position = 0;
  let literal = '';
  while (position < source.length) {
    const open = source.indexOf('{{', position);
    if (open < 0) {
      literal += source.slice(position);
      break;
    }
    literal += source.slice(position, open);
    const close = source.indexOf('}}', open + 2);
    if (close < 0) return null;
    const output = compileOutput(source.slice(open + 2, close), escape);
    if (output === null) return null;
    literals.push(literal);
    outputs.push(output);
    literal = '';
    position = close + 2;
  }
  const tail = literal;
  const count = outputs.length;
  // literals[i] precedes outputs[i]; `tail` follows the last output.
  return (scope) => {
    memoryUsed = 0;
    let text = '';
    for (let i = 0; i < count; i += 1) {
      const rendered = outputs[i](scope);
      if (rendered === NOT_FAST) return NOT_FAST;
      text += literals[i] + (rendered as string);
    }
    return text + tail;
  };
}

/** Compiles one `{{ }}` body to a function returning its text, or null when it is outside the subset. */
function compileOutput(body: string, escape: (value: unknown) => string): Read | null {
  // `{{-`/`-}}` trim whitespace in liquidjs; leave them to it.
  if (body.startsWith('-') || body.endsWith('-')) return null;
  const segments = splitOutsideQuotes(body, '|');
  if (segments === null) return null;
  const path = parsePath(segments[0].trim());
  if (path === null) return null;
  const read = compileLookup(path);
  const filters: Apply[] = [];
  let isRaw = false;
  for (const [index, segment] of segments.slice(1).entries()) {
    const colon = segment.indexOf(':');
    const name = (colon < 0 ? segment : segment.slice(0, colon)).trim();
    if (name === 'raw') {
      // Only a final `raw` skips escaping in liquidjs; anywhere else it is a plain identity filter.
      if (index !== segments.length - 2) return null;
      isRaw = true;
      continue;
    }
    const arity = Object.hasOwn(FILTER_ARITY, name) ? FILTER_ARITY[name] : undefined;
    if (!arity) return null;
    const args: Argument[] = [];
    if (colon >= 0) {
      const rawArgs = splitOutsideQuotes(segment.slice(colon + 1), ',');
      if (rawArgs === null) return null;
      for (const rawArg of rawArgs) {
        const arg = parseArgument(rawArg.trim());
        if (arg === null) return null;
        args.push(arg);
      }
    }
    if (args.length < arity.minArgs || args.length > arity.maxArgs) return null;
    filters.push(compileFilter(name, args.map(compileArgument)));
  }
  const finish = isRaw ? renderRaw : escape;
  if (filters.length === 0) {
    return (scope) => {
      const value = read(scope);
      return value === NOT_FAST ? NOT_FAST : finish(value);
    };
  }
  return (scope) => {
    let value = read(scope);
    for (let i = 0; i < filters.length && value !== NOT_FAST; i += 1) value = filters[i](value, scope);
    return value === NOT_FAST ? NOT_FAST : finish(value);
  };
}

/** `| raw` output: liquidjs's stringify for the scalars, liquidjs itself for anything else. */
function renderRaw(value: unknown): string | typeof NOT_FAST {
  if (value === null) return '';
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : NOT_FAST;
}

function parsePath(text: string): string[] | null {
  const segments = text.split('.');
  if (!ROOTS.has(segments[0])) return null;
  for (const segment of segments) {
    if (!IDENTIFIER.test(segment) || SPECIAL_SEGMENTS.has(segment)) return null;
  }
  return segments;
}

function parseArgument(text: string): Argument | null {
  const quoted = /^"([^"]*)"$|^'([^']*)'$/.exec(text);
  if (quoted) return { kind: 'literal', value: quoted[1] ?? quoted[2] };
  if (/^-?[0-9]+$/.test(text)) return { kind: 'literal', value: Number(text) };
  const path = parsePath(text);
  return path === null ? null : { kind: 'path', path };
}

function compileArgument(arg: Argument): Read {
  if (arg.kind === 'path') return compileLookup(arg.path);
  const value = arg.value;
  return () => value;
}

/** Splits on `separator` outside quotes; null when a quote is left open. */
function splitOutsideQuotes(text: string, separator: string): string[] | null {
  const parts: string[] = [];
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i];
    if (quote) {
      if (char === quote) quote = null;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quote) return null;
  parts.push(text.slice(start));
  return parts;
}

/**
 * Plain data only: strings, finite numbers, booleans, null, arrays and plain objects, read through
 * own properties (liquidjs runs with `ownPropertyOnly`). `first`/`last` on a list are its first and
 * last items, as in liquidjs; on anything else they are ordinary keys. A missing value is NOT_FAST
 * so that liquidjs reports it (strict error or warning).
 */
function compileLookup(path: readonly string[]): Read {
  const segments = path.slice();
  const length = segments.length;
  return (scope) => {
    let value: unknown = scope;
    for (let i = 0; i < length; i += 1) {
      if (value === null || typeof value !== 'object') return NOT_FAST;
      const segment = segments[i];
      if (Array.isArray(value) && (segment === 'first' || segment === 'last')) {
        if (value.length === 0) return NOT_FAST;
        const index = segment === 'first' ? 0 : value.length - 1;
        if (!Object.hasOwn(value, index)) return NOT_FAST;
        value = value[index];
        continue;
      }
      if (!Object.hasOwn(value, segment)) return NOT_FAST;
      value = (value as Record<string, unknown>)[segment];
    }
    return value === undefined ? NOT_FAST : value;
  };
}

/** liquidjs's stringify for the scalars; NOT_FAST for lists and maps (joined or `[object Object]` there). */
function stringifyScalar(value: unknown): string | typeof NOT_FAST {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return NOT_FAST;
}

function compileFilter(name: string, args: readonly Read[]): Apply {
  const [first, second] = args;
  switch (name) {
    case 'money':
      // Errors (text that is no amount) are reported by the liquidjs path, with its wording.
      if (args.length === 0) {
        return (value) => {
          try {
            return formatMoney(value);
          } catch {
            return NOT_FAST;
          }
        };
      }
      return (value, scope) => {
        const currency = first(scope);
        if (currency === NOT_FAST) return NOT_FAST;
        try {
          return formatMoney(value, currency);
        } catch {
          return NOT_FAST;
        }
      };
    case 'default':
      // liquidjs evaluates the argument before calling the filter: a missing one is reported even
      // when the value is used, so it goes to liquidjs here too.
      return (value, scope) => {
        const fallback = first(scope);
        if (fallback === NOT_FAST) return NOT_FAST;
        if (typeof value === 'string' || Array.isArray(value)) return value.length > 0 ? value : fallback;
        return value === null || value === false ? fallback : value;
      };
    case 'upcase':
    case 'downcase':
    case 'strip':
      return (value) => {
        if (value !== null && typeof value === 'object') return NOT_FAST;
        const text = value === null ? '' : String(value);
        if (!charge(text.length)) return NOT_FAST;
        return name === 'upcase' ? text.toUpperCase() : name === 'downcase' ? text.toLowerCase() : text.trim();
      };
    case 'replace':
      return (value, scope) => {
        const text = stringifyScalar(value);
        const pattern = stringifyScalar(first(scope));
        const replacement = stringifyScalar(second(scope));
        if (text === NOT_FAST || pattern === NOT_FAST || replacement === NOT_FAST) return NOT_FAST;
        const parts = text.split(pattern);
        if (!charge(text.length + (parts.length - 1) * (replacement.length - pattern.length))) return NOT_FAST;
        return parts.join(replacement);
      };
    case 'remove_first':
      return (value, scope) => {
        const text = stringifyScalar(value);
        const pattern = stringifyScalar(first(scope));
        if (text === NOT_FAST || pattern === NOT_FAST) return NOT_FAST;
        if (!charge(text.length + pattern.length)) return NOT_FAST;
        return text.replace(pattern, '');
      };
    default:
      throw new Error(`no fast filter ${name}`);
  }
}
