import type { BridgeEvent } from '../../events/event.js';
import { describeAffiliateEvent, type Source } from '../../sources/source.js';
import { setEventPath } from './event-from-payload.js';

/** One `--set PATH=VALUE` of `simulate`, as typed on the command line. */
export interface PayloadChange {
  /** The option as written, for messages: `data.amount=25000`. */
  readonly text: string;
  /** `data.amount`, `event.origin`. */
  readonly path: string;
  /** The text after the first `=`, not yet typed. */
  readonly value: string;
}

const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);
/** JSON's number syntax: what a number field accepts. */
const NUMBER_SYNTAX = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** A change that cannot apply: the message is the exact sentence `simulate` prints. */
export class PayloadChangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * Splits `PATH=VALUE` at the first `=` (a value may hold `=`).
 * @throws PayloadChangeError when there is no `=` or no path.
 */
export function parsePayloadChange(text: string): PayloadChange {
  const equals = text.indexOf('=');
  if (equals <= 0) throw new PayloadChangeError(`--set ${text}: write PATH=VALUE, such as --set data.amount=25000`);
  return { text, path: text.slice(0, equals), value: text.slice(equals + 1) };
}

/**
 * Applies `changes` in order to a copy of `event`, each typed by the field it replaces, then
 * derives the event's affiliate model again (canonical types and `affiliate` fields follow the
 * changed payload, as if the provider had sent it so). The path must name a field the event
 * already has: a change never adds one, so a misspelt path is an error instead of a silent no-op.
 *
 * Typing: a number field takes a JSON number (`25000` stays a number; `lots` is an error), a
 * boolean field `true` or `false`, a string field any text as written; a null field takes a JSON
 * literal (number, `true`, `false`, `null`) or else the text as a string.
 *
 * @param normalizeAffiliate the event's source's affiliate normalizer (undefined: none).
 * @throws PayloadChangeError with the exact sentence for a path outside `data.`/`event.`, a
 *   forbidden segment, a missing field, a field inside a non-object, or a value of the wrong type.
 */
export function applyPayloadChanges(
  event: BridgeEvent,
  changes: readonly PayloadChange[],
  normalizeAffiliate: Source['normalizeAffiliate'],
): BridgeEvent {
  if (changes.length === 0) return event;
  let changed = event;
  for (const change of changes) changed = setEventPath(changed, change.path, typeValue(changed, change));
  return describeAffiliateEvent(changed, normalizeAffiliate);
}

/** The change's value, typed by the field it replaces. */
function typeValue(event: BridgeEvent, change: PayloadChange): unknown {
  const segments = change.path.split('.');
  const [root, ...rest] = segments;
  if ((root !== 'data' && root !== 'event') || rest.length === 0 || rest.some((segment) => segment === '')) {
    throw new PayloadChangeError(`--set ${change.text}: paths start with data. or event., such as data.amount`);
  }
  const forbidden = segments.find((segment) => FORBIDDEN_SEGMENTS.has(segment));
  if (forbidden) throw new PayloadChangeError(`--set ${change.text}: ${forbidden} is not allowed in a path`);
  let container: unknown = root === 'data' ? event.data : event;
  let where = root;
  for (let i = 0; i < rest.length; i += 1) {
    const key = rest[i] as string;
    if (container === null || typeof container !== 'object') {
      throw new PayloadChangeError(`--set ${change.text}: ${where} is ${describeKind(container)}, not an object`);
    }
    if (!Object.hasOwn(container, key)) {
      throw new PayloadChangeError(`--set ${change.text}: ${where} has no field ${key} (--set changes fields, it does not add them)`);
    }
    container = (container as Record<string, unknown>)[key];
    where = `${where}.${key}`;
  }
  return typeAs(container, change, where);
}

function typeAs(current: unknown, change: PayloadChange, where: string): unknown {
  const { value } = change;
  switch (typeof current) {
    case 'number':
      if (!NUMBER_SYNTAX.test(value)) throw new PayloadChangeError(`--set ${change.text}: ${where} is a number, and ${JSON.stringify(value)} is not one`);
      return Number(value);
    case 'boolean':
      if (value !== 'true' && value !== 'false') throw new PayloadChangeError(`--set ${change.text}: ${where} is true or false, and ${JSON.stringify(value)} is neither`);
      return value === 'true';
    case 'string':
      return value;
    default:
      if (current !== null) throw new PayloadChangeError(`--set ${change.text}: ${where} is ${describeKind(current)}: --set changes a number, text, true/false or null field`);
      // A null field says nothing of its type: a JSON literal keeps its type, anything else is text.
      if (value === 'null' || value === 'true' || value === 'false' || NUMBER_SYNTAX.test(value)) return JSON.parse(value) as unknown;
      return value;
  }
}

function describeKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
