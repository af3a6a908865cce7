import type { BridgeEvent, SourceName } from '../../events/event.js';
import { buildInternalEvent, findInternalEventType, INTERNAL_EVENT_TYPE_NAMES, INTERNAL_SOURCE, isInternalEventType } from '../../events/internal-events.js';
import { applySchemaCheck } from '../../sources/check-event.js';
import { DEFAULT_STRIPPED_FIELDS, sourceRegistry } from '../../sources/registry.js';
import { checkPayload, isJsonObject } from '../../sources/schema-fields.js';
import { describeAffiliateEvent, type Source } from '../../sources/source.js';

export { DEFAULT_STRIPPED_FIELDS } from '../../sources/registry.js';

/**
 * What building an event from a payload needs of each source (no auth check): `normalize` and
 * `checkSchema`, `recognize` with its `envelopeDescription` to guess the source, and
 * `normalizeAffiliate` to derive the affiliate model again after a change. A source registry is one.
 */
export type PayloadNormalizers = Readonly<
  Record<SourceName, Pick<Source, 'normalize' | 'checkSchema' | 'recognize' | 'envelopeDescription' | 'normalizeAffiliate'>>
>;

/**
 * The sources in the order their envelopes are tried: the last registered first. The oldest
 * checks are the loosest (FirstPromoter's is "has `data` and `event`"), so a newer provider with a
 * more specific envelope is not taken for an older one.
 */
function listInRecognitionOrder(normalizers: PayloadNormalizers) {
  return Object.entries(normalizers).reverse();
}

/**
 * Guesses the source of a delivery body from its envelope, with each source's `recognize`
 * (Rewardful wraps the payload in `object`, FirstPromoter in `data`).
 * @returns the source, or null when the shape is none of them.
 */
export function inferSource(body: Record<string, unknown>, normalizers: PayloadNormalizers = sourceRegistry): SourceName | null {
  for (const [name, source] of listInRecognitionOrder(normalizers)) if (source.recognize(body)) return name;
  return null;
}

/** Options of {@link buildEventFromPayload}. */
export interface BuildEventOptions {
  /**
   * A name among `normalizers`, or `bridge` (INTERNAL_SOURCE) for one of the bridge's own events;
   * any other is an error. @defaultValue `bridge` for a body whose `type` is a bridge type, else
   * inferred from the payload's envelope (see inferSource)
   */
  readonly source?: string;
  /** The sources an event may come from (a source registry is one). */
  readonly normalizers: PayloadNormalizers;
  /** @defaultValue now (`new Date()`) */
  readonly receivedAt?: Date;
  /** @defaultValue DEFAULT_STRIPPED_FIELDS */
  readonly strippedFields?: readonly string[];
}

/**
 * Turns a parsed delivery body into the event rules see, through the source's normaliser (no
 * authentication: this is for `test` and `simulate`). A bridge event's body is the event's own
 * documented shape, `{ "type": "bridge.action.failed", "data": {…}, "id"?: "…" }`: see
 * buildInternalEventFromPayload.
 * @throws Error with a sentence naming the problem (not an object, unknown or uninferable source,
 * a bridge payload that is not one, or whatever the normaliser throws).
 */
export function buildEventFromPayload(body: unknown, options: BuildEventOptions): BridgeEvent {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new Error('the payload must be a JSON object (a full provider envelope)');
  }
  const record = body as Record<string, unknown>;
  const receivedAt = options.receivedAt ?? new Date();
  // Before the envelopes: a bridge body (type and data) could pass for a loose provider envelope.
  if (options.source === INTERNAL_SOURCE || (options.source === undefined && typeof record.type === 'string' && isInternalEventType(record.type))) {
    return buildInternalEventFromPayload(record, receivedAt);
  }
  let source: SourceName;
  if (options.source !== undefined) {
    if (!Object.hasOwn(options.normalizers, options.source)) {
      throw new Error(`unknown source ${options.source}: use ${[...Object.keys(options.normalizers), INTERNAL_SOURCE].join(' or ')}`);
    }
    source = options.source;
  } else {
    const inferred = inferSource(record, options.normalizers);
    if (inferred === null) {
      const shapes = listInRecognitionOrder(options.normalizers).map(([, normalizer]) => normalizer.envelopeDescription);
      throw new Error(`cannot tell the source from the payload (neither ${shapes.join(' nor ')}): name it with source`);
    }
    source = inferred;
  }
  const normalizer = options.normalizers[source] as PayloadNormalizers[string];
  // As the bridge does it: normalised at intake, schema-checked by the events worker.
  return applySchemaCheck(
    normalizer,
    normalizer.normalize(record, {
      receivedAt,
      strippedFields: options.strippedFields ?? DEFAULT_STRIPPED_FIELDS,
    }),
  );
}

const INTERNAL_PAYLOAD_KEYS = ['type', 'data', 'id'];

/**
 * The event the bridge stores for a bridge event of this type and data (events/internal-events.ts,
 * buildInternalEvent: the failure reporter's builder), from a hand-written payload
 * `{ "type": "bridge.action.failed", "data": {…}, "id"?: "…" }`. The data is checked strictly
 * against its type's schema first, every problem listed: the bridge never stores a bridge event
 * whose data does not match it, so a rule test on one would test nothing that can happen.
 * @param receivedAt the event's `receivedAt`; without an `id`, the id is the one the bridge would give it.
 * @throws Error with a sentence naming the problem: another key, a type that is not a bridge type,
 *   missing or non-object data, or the data's problems (`data.attempts must be a number`).
 */
export function buildInternalEventFromPayload(body: Readonly<Record<string, unknown>>, receivedAt: Date): BridgeEvent {
  const others = Object.keys(body).filter((key) => !INTERNAL_PAYLOAD_KEYS.includes(key));
  if (others.length > 0) {
    throw new Error(`a bridge event payload holds type, data and (optionally) id, not ${others.join(', ')}`);
  }
  const { type, data, id } = body;
  if (typeof type !== 'string') throw new Error(`a bridge event payload needs a type: ${INTERNAL_EVENT_TYPE_NAMES.join(' or ')}`);
  if (id !== undefined && (typeof id !== 'string' || id === '')) throw new Error('the id of a bridge event payload must be a non-empty string');
  const event = checkInternalEvent(type, data);
  return buildInternalEvent(type, event.data, {
    id: (id as string | undefined) ?? event.declared.defaultIdOf(event.data),
    receivedAtMs: receivedAt.getTime(),
  });
}

/**
 * A bridge event after `set` or `--set` changed it: its data checked again, and `occurredAt`
 * following the changed data, as if the bridge had built it so (its id and receipt stay).
 * @throws Error as buildInternalEventFromPayload does.
 */
export function recheckInternalEvent(event: BridgeEvent): BridgeEvent {
  const { data } = checkInternalEvent(event.type, event.data);
  const rebuilt = buildInternalEvent(event.type, data, { id: event.id, receivedAtMs: Date.parse(event.receivedAt) });
  return { ...event, occurredAt: rebuilt.occurredAt, data: rebuilt.data };
}

function checkInternalEvent(type: string, data: unknown) {
  const declared = findInternalEventType(type);
  if (declared === null) throw new Error(`${type} is not a bridge event type: use ${INTERNAL_EVENT_TYPE_NAMES.join(' or ')}`);
  if (!isJsonObject(data)) throw new Error(`a ${type} payload needs data: an object with the fields rules/README.md lists (When an action fails)`);
  const problems = checkPayload(declared.data, data, 'data');
  if (problems.length > 0) throw new Error(`the ${type} data is not what the bridge sends: ${problems.join('; ')}`);
  return { declared, data };
}

/**
 * An event after `set` (a rule test) changed it, as if it had been sent so: a provider's gets its
 * affiliate model derived again from the changed payload; a bridge event's data is checked again.
 * @throws Error for a bridge event whose changed data is not what the bridge sends.
 */
export function describeChangedEvent(event: BridgeEvent, normalizers: PayloadNormalizers): BridgeEvent {
  if (event.source === INTERNAL_SOURCE) return recheckInternalEvent(event);
  return describeAffiliateEvent(event, Object.hasOwn(normalizers, event.source) ? normalizers[event.source]?.normalizeAffiliate : undefined);
}

const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

/**
 * Returns a copy of `event` with `value` set at a dotted path under `data.` or `event.` (e.g.
 * `data.suspicion`, `data.promoter.email`, `event.type`). Missing objects on the way are created;
 * the original event is not changed.
 * @throws Error for a path outside data/event, or one naming `__proto__`, `prototype` or `constructor`.
 */
export function setEventPath(event: BridgeEvent, dottedPath: string, value: unknown): BridgeEvent {
  const segments = dottedPath.split('.');
  const [root, ...rest] = segments;
  if ((root !== 'data' && root !== 'event') || rest.length === 0 || rest.some((segment) => segment === '')) {
    throw new Error(`cannot set ${dottedPath}: paths start with data. or event.`);
  }
  const forbidden = segments.find((segment) => FORBIDDEN_SEGMENTS.has(segment));
  if (forbidden) throw new Error(`cannot set ${dottedPath}: ${forbidden} is not allowed in a path`);
  if (root === 'event') {
    if (rest[0] === 'data') return setEventPath(event, ['data', ...rest.slice(1)].join('.'), value);
    return { ...event, ...setIn(event as unknown as Record<string, unknown>, rest, value) } as BridgeEvent;
  }
  return { ...event, data: setIn(event.data, rest, value) };
}

/** Copy-on-write set: every object on the path is copied; own properties only. */
function setIn(target: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  const copy: Record<string, unknown> = Array.isArray(target) ? ([...target] as unknown as Record<string, unknown>) : { ...target };
  if (rest.length === 0) {
    Object.defineProperty(copy, head, { value, enumerable: true, writable: true, configurable: true });
    return copy;
  }
  const existing = Object.hasOwn(target, head) ? target[head] : undefined;
  const child = existing !== null && typeof existing === 'object' ? (existing as Record<string, unknown>) : {};
  Object.defineProperty(copy, head, { value: setIn(child, rest, value), enumerable: true, writable: true, configurable: true });
  return copy;
}
