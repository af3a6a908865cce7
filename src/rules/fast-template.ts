/**
 * A fast path for the templates most rules use: literal text and `{{ data.a.b | filter: arg }}`
 * outputs with a few common filters. liquidjs renders such a template in about 25 µs (its
 * generator-based renderer); this closure renders it in well under 1 µs. Anything outside this
 * subset (tags, other filters, literals, `first`/`size`, whitespace control) is not compiled here
 * and renders through liquidjs, and so does any render where a variable is missing or a value is
 * not plain data, so warnings and errors always come from one place. Behaviour must match liquidjs
 * exactly; templates.spec.ts checks both paths on the same table.
 */
import { formatMoney } from './money.js';

/** A compiled fast template: returns the text, or NOT_FAST to ask for the liquidjs path. */
export type FastTemplate = (scope: Record<string, unknown>) => string | typeof NOT_FAST;

export const NOT_FAST: unique symbol = Symbol('not-fast');

type Argument = { readonly kind: 'literal'; readonly value: string | number } | { readonly kind: 'path'; readonly path: readonly string[] };
interface Filter {
  readonly name: string;
  readonly args: readonly Argument[];
}
interface Output {
  readonly path: readonly string[];
  readonly filters: readonly Filter[];
  readonly isRaw: boolean;
}

const SUPPORTED_FILTERS: Readonly<Record<string, { readonly minArgs: number; readonly maxArgs: number }>> = {
  money: { minArgs: 0, maxArgs: 1 },
  default: { minArgs: 1, maxArgs: 1 },
  upcase: { minArgs: 0, maxArgs: 0 },
  downcase: { minArgs: 0, maxArgs: 0 },
  strip: { minArgs: 0, maxArgs: 0 },
};
/** Path segments liquidjs treats specially (`first`, `last`, `size`): left to liquidjs. */
const SPECIAL_SEGMENTS = new Set(['first', 'last', 'size']);
const ROOTS = new Set(['event', 'data']);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Compiles `source` if it is in the fast subset.
 * @param escape applied to every output value not ending in `| raw` (Slack escaping or plain
 * stringification), as liquidjs's `outputEscape` does.
 * @returns the fast template, or null when the source needs liquidjs.
 */
export function compileFastTemplate(source: string, escape: (value: unknown) => string): FastTemplate | null {
  if (source.includes('{%')) return null;
  const parts: Array<string | Output> = [];
  let position = 0;
  while (position < source.length) {
    const open = source.indexOf('{{', position);
    if (open < 0) {
      parts.push(source.slice(position));
      break;
    }
    if (open > position) parts.push(source.slice(position, open));
    const close = source.indexOf('}}', open + 2);
    if (close < 0) return null;
    const output = parseOutput(source.slice(open + 2, close));
    if (output === null) return null;
    parts.push(output);
    position = close + 2;
  }
  return (scope) => {
    let text = '';
    for (const part of parts) {
      if (typeof part === 'string') {
        text += part;
        continue;
      }
      const rendered = renderOutput(part, scope, escape);
      if (rendered === NOT_FAST) return NOT_FAST;
      text += rendered;
    }
    return text;
  };
}

function parseOutput(body: string): Output | null {
  // `{{-`/`-}}` trim whitespace in liquidjs; leave them to it.
  if (body.startsWith('-') || body.endsWith('-')) return null;
  const segments = splitOutsideQuotes(body, '|');
  if (segments === null) return null;
  const path = parsePath(segments[0].trim());
  if (path === null) return null;
  const filters: Filter[] = [];
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
    const spec = SUPPORTED_FILTERS[name];
    if (!spec) return null;
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
    if (args.length < spec.minArgs || args.length > spec.maxArgs) return null;
    filters.push({ name, args });
  }
  return { path, filters, isRaw };
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

/** Plain data only: strings, finite numbers, booleans, null, arrays and plain objects. */
function lookup(scope: Record<string, unknown>, path: readonly string[]): unknown | typeof NOT_FAST {
  let value: unknown = scope;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return NOT_FAST;
    if (!Object.hasOwn(value, segment)) return NOT_FAST;
    value = (value as Record<string, unknown>)[segment];
  }
  return value === undefined ? NOT_FAST : value;
}

function renderOutput(output: Output, scope: Record<string, unknown>, escape: (value: unknown) => string): string | typeof NOT_FAST {
  let value = lookup(scope, output.path);
  if (value === NOT_FAST) return NOT_FAST;
  for (const filter of output.filters) {
    const args: unknown[] = [];
    for (const arg of filter.args) {
      const argValue = arg.kind === 'literal' ? arg.value : lookup(scope, arg.path);
      if (argValue === NOT_FAST) return NOT_FAST;
      args.push(argValue);
    }
    const next = applyFilter(filter.name, value, args);
    if (next === NOT_FAST) return NOT_FAST;
    value = next;
  }
  if (!output.isRaw) return escape(value);
  if (value === null) return '';
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : NOT_FAST;
}

function applyFilter(name: string, value: unknown, args: readonly unknown[]): unknown | typeof NOT_FAST {
  switch (name) {
    case 'money':
      // Errors (text that is no amount) are reported by the liquidjs path, with its wording.
      try {
        return formatMoney(value, ...(args as [unknown?]));
      } catch {
        return NOT_FAST;
      }
    case 'default':
      if (typeof value === 'string' || Array.isArray(value)) return value.length > 0 ? value : args[0];
      return value === null || value === false ? args[0] : value;
    case 'upcase':
    case 'downcase':
    case 'strip': {
      if (value !== null && typeof value === 'object') return NOT_FAST;
      const text = value === null ? '' : String(value);
      return name === 'upcase' ? text.toUpperCase() : name === 'downcase' ? text.toLowerCase() : text.trim();
    }
    default:
      return NOT_FAST;
  }
}
