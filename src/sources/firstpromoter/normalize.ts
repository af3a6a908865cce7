import type { BridgeEvent } from '../../events/event.js';
import { isSafeEventId } from '../build-event.js';
import { normalizeEnvelope, readEnvelopeObject, SAFE_TOKEN_REQUIREMENT } from '../envelope.js';
import { readIsoInstant } from '../schema-fields.js';
import type { NormalizeOptions } from '../source.js';
import { CLASSIC_TYPE_ALIASES, classicDataSchemas, v2DataSchemas } from './schemas.js';

/** The source's name and spelling, shared by its descriptor (index.ts) and its messages. */
export const FIRSTPROMOTER_IDENTITY = { name: 'firstpromoter', title: 'FirstPromoter' } as const;

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
  return normalizeEnvelope(
    FIRSTPROMOTER_IDENTITY,
    {
      // Documented as a UUID string; an integer id is accepted too, as in the classic envelope.
      id: {
        path: 'event_id',
        value: body.event_id,
        isUsable: isUsableV2EventId,
        requirement: `${SAFE_TOKEN_REQUIREMENT}, or an integer`,
      },
      type: { path: 'event_type', value: body.event_type },
      isKnownType: (type) => Object.hasOwn(v2DataSchemas, type),
      occurredAt: {
        path: 'timestamp',
        value: body.timestamp,
        read: readV2Timestamp,
        requirement: 'must be an ISO 8601 date-time with a time zone or epoch seconds',
      },
      data: body.data,
      envelope,
    },
    options,
  );
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
