import { createHash } from 'node:crypto';
import type { BridgeEvent } from '../../events/event.js';
import { isSafeEventId } from '../build-event.js';
import { normalizeEnvelope, readEnvelopeObject, SAFE_TOKEN_REQUIREMENT } from '../envelope.js';
import { isJsonObject, readIsoInstant } from '../schema-fields.js';
import type { NormalizeOptions } from '../source.js';
import { CLASSIC_TYPE_ALIASES, classicDataSchemas, v2DataSchemas } from './schemas.js';

/** The source's name and spelling, shared by its descriptor (index.ts) and its messages. */
export const FIRSTPROMOTER_IDENTITY = { name: 'firstpromoter', title: 'FirstPromoter' } as const;

/**
 * The provider type of a v2 test delivery starts with this: `test.referral.created`, so its event
 * type is `firstpromoter.test.referral.created`. No rule written for `firstpromoter.referral.created`
 * or `firstpromoter.referral.*` matches it (a glob's `*` stops at dots); a rule that wants test
 * deliveries names them: `on: firstpromoter.test.referral.created`.
 */
export const TEST_DELIVERY_TYPE_PREFIX = 'test.';

/**
 * Whether a v2 body is a test delivery: FirstPromoter's "Send test" and `POST /webhooks/test` send
 * a real envelope whose payload is `"data": { "test": true }` (docs.firstpromoter.com/webhooks-v2/deliveries,
 * "Sending a test delivery"; api-reference-v2 webhooks/test-webhook). No documented v2 resource has
 * a `test` field, so `data.test === true` is the mark; other sample fields beside it change nothing.
 */
export function isTestDelivery(body: Record<string, unknown>): boolean {
  return isJsonObject(body.data) && body.data.test === true;
}

/** The v2 envelope fields kept in the event's `envelope`, in this order. */
const V2_ENVELOPE_FIELDS = ['action', 'entity_type', 'entity_id', 'changes'] as const;

/**
 * Turns a verified FirstPromoter body into the bridge's event. Two envelopes are told apart by
 * shape: the classic `{ event: { id, type, created_at }, data }` and Webhooks v2
 * `{ event_id, event_type, action, entity_type, entity_id, changes, data, timestamp }`.
 *
 * The id is `firstpromoter-<event id>` (never the bare integer: BullMQ refuses integer-like job ids)
 * and the type `firstpromoter.<provider type>`; the spelling `promoter_signs_up` becomes
 * `promoter_signed_up`.
 *
 * @throws MalformedDeliveryError `envelope_unrecognised` when the body has no usable event id or
 *   type. An unknown type or a payload that fails its schema gives a quarantined event instead.
 */
export function normalizeFirstPromoterDelivery(body: Record<string, unknown>, options: NormalizeOptions): BridgeEvent {
  const isV2 = body.event === undefined && (body.event_id !== undefined || body.event_type !== undefined);
  return isV2 ? normalizeV2(body, options) : normalizeClassic(body, options);
}

function normalizeClassic(body: Record<string, unknown>, options: NormalizeOptions): BridgeEvent {
  const event = readEnvelopeObject(FIRSTPROMOTER_IDENTITY, body, 'event');
  return normalizeEnvelope(
    FIRSTPROMOTER_IDENTITY,
    {
      // Classic event ids are integers; a string here means this is not the envelope we know.
      id: { path: 'event.id', value: event.id, isUsable: isNonNegativeInteger, requirement: 'must be an integer' },
      type: { path: 'event.type', value: event.type },
      typeAliases: CLASSIC_TYPE_ALIASES,
      isKnownType: (type) => Object.hasOwn(classicDataSchemas, type),
      occurredAt: { path: 'event.created_at', value: event.created_at },
      data: body.data,
    },
    options,
  );
}

function normalizeV2(body: Record<string, unknown>, options: NormalizeOptions): BridgeEvent {
  const envelope: Record<string, unknown> = {};
  for (const field of V2_ENVELOPE_FIELDS) {
    if (body[field] !== undefined) envelope[field] = body[field];
  }
  // A test delivery is stored and traced like any other, under its own type, and is never
  // quarantined for lacking the resource's fields. Its envelope is a sample one: the documentation
  // does not promise an event id or a timestamp, so their absence is tolerated (the less forgiving
  // reading), with an id derived from the body and the arrival time.
  const isTest = isTestDelivery(body);
  const eventId = isTest && body.event_id === undefined ? deriveTestEventId(body, options.receivedAt) : body.event_id;
  return normalizeEnvelope(
    FIRSTPROMOTER_IDENTITY,
    {
      // Documented as a UUID string; an integer id is accepted too, as in the classic envelope.
      id: {
        path: 'event_id',
        value: eventId,
        isUsable: isUsableV2EventId,
        requirement: `${SAFE_TOKEN_REQUIREMENT}, or an integer`,
      },
      type: {
        path: 'event_type',
        value: isTest && typeof body.event_type === 'string' ? `${TEST_DELIVERY_TYPE_PREFIX}${body.event_type}` : body.event_type,
      },
      isKnownType: (type) => isTest || Object.hasOwn(v2DataSchemas, type),
      occurredAt: {
        path: 'timestamp',
        value: body.timestamp,
        read: isTest ? (value) => (value === undefined ? options.receivedAt.toISOString() : readV2Timestamp(value)) : readV2Timestamp,
        requirement: 'must be an ISO 8601 date-time with a time zone or epoch seconds',
      },
      data: body.data,
      envelope,
    },
    options,
  );
}

/**
 * `test-<16 hex>`, from the arrival time and the envelope's scalar fields: the same test sent at
 * the same instant is the same delivery. The body itself is not serialised: it may nest deeper
 * than `JSON.stringify` can go.
 */
function deriveTestEventId(body: Record<string, unknown>, receivedAt: Date): string {
  const hash = createHash('sha256').update(receivedAt.toISOString());
  for (const field of ['event_type', 'action', 'entity_type', 'entity_id', 'timestamp']) {
    const value = body[field];
    hash.update(`\n${typeof value === 'string' || typeof value === 'number' ? String(value) : ''}`);
  }
  return `test-${hash.digest('hex').slice(0, 16)}`;
}

function isNonNegativeInteger(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isUsableV2EventId(value: unknown): boolean {
  if (typeof value === 'string') return isSafeEventId(value);
  return isNonNegativeInteger(value);
}

/** v2 timestamps are ISO 8601 strings; epoch seconds are accepted as well. */
function readV2Timestamp(value: unknown): string | null {
  if (typeof value === 'number') {
    const time = value * 1000;
    return Number.isFinite(time) && value >= 0 && Math.abs(time) <= 8.64e15 ? new Date(time).toISOString() : null;
  }
  return readIsoInstant(value);
}
