import type { BridgeEvent } from '../../events/event.js';
import { MalformedDeliveryError } from '../../errors.js';
import { buildBridgeEvent, isSafeEventId, isSafeEventType } from '../build-event.js';
import { isJsonObject, readIsoInstant } from '../schema-fields.js';
import type { NormalizeOptions } from '../source.js';
import { CLASSIC_TYPE_ALIASES, classicDataSchemas, v2DataSchemas } from './schemas.js';

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
  const event = body.event;
  if (event !== undefined && !isJsonObject(event)) throw createUnrecognisedError(['event must be an object']);
  const { id, type, created_at: createdAt } = event ?? {};

  const envelopeProblems: string[] = [];
  // Classic event ids are integers; a string here means this is not the envelope we know.
  if (id === undefined) envelopeProblems.push('missing event.id');
  else if (!(Number.isSafeInteger(id) && (id as number) >= 0)) envelopeProblems.push('event.id must be an integer');
  envelopeProblems.push(...checkType(type, 'event.type'));
  if (envelopeProblems.length > 0) throw createUnrecognisedError(envelopeProblems);

  const providerType = CLASSIC_TYPE_ALIASES[type as string] ?? (type as string);
  const isKnownType = Object.hasOwn(classicDataSchemas, providerType);
  const occurredAt = readIsoInstant(createdAt);
  return buildBridgeEvent(
    {
      source: 'firstpromoter',
      providerEventId: String(id),
      providerType,
      occurredAt,
      data: body.data,
      problems: [
        ...(isKnownType ? [] : [describeUnknownType(providerType)]),
        ...(occurredAt === null ? [describeBadTimestamp('event.created_at', createdAt, false)] : []),
      ],
    },
    options,
  );
}

function normalizeV2(body: Record<string, unknown>, options: NormalizeOptions): BridgeEvent {
  const { event_id: eventId, event_type: type, timestamp } = body;

  const envelopeProblems: string[] = [];
  // Documented as a UUID string; an integer id is accepted too, as in the classic envelope.
  if (eventId === undefined) envelopeProblems.push('missing event_id');
  else if (!isUsableV2EventId(eventId)) {
    envelopeProblems.push("event_id must be a string of letters, digits, '_', '.' or '-', or an integer");
  }
  envelopeProblems.push(...checkType(type, 'event_type'));
  if (envelopeProblems.length > 0) throw createUnrecognisedError(envelopeProblems);

  const providerType = type as string;
  const isKnownType = Object.hasOwn(v2DataSchemas, providerType);
  const occurredAt = readV2Timestamp(timestamp);
  const envelope: Record<string, unknown> = {};
  for (const field of V2_ENVELOPE_FIELDS) {
    if (body[field] !== undefined) envelope[field] = body[field];
  }
  return buildBridgeEvent(
    {
      source: 'firstpromoter',
      providerEventId: String(eventId),
      providerType,
      occurredAt,
      data: body.data,
      envelope,
      problems: [
        ...(isKnownType ? [] : [describeUnknownType(providerType)]),
        ...(occurredAt === null ? [describeBadTimestamp('timestamp', timestamp, true)] : []),
      ],
    },
    options,
  );
}

function isUsableV2EventId(value: unknown): boolean {
  if (typeof value === 'string') return isSafeEventId(value);
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function checkType(type: unknown, name: string): string[] {
  if (type === undefined) return [`missing ${name}`];
  if (typeof type !== 'string' || !isSafeEventType(type)) {
    return [`${name} must be a string of letters, digits, '_', '.' or '-'`];
  }
  return [];
}

/** v2 timestamps are ISO 8601 strings; epoch seconds are accepted as well. */
function readV2Timestamp(value: unknown): string | null {
  if (typeof value === 'number') {
    const time = value * 1000;
    return Number.isFinite(time) && value >= 0 && Math.abs(time) <= 8.64e15 ? new Date(time).toISOString() : null;
  }
  return readIsoInstant(value);
}

function describeUnknownType(type: string): string {
  return `Unknown FirstPromoter event type "${type}"`;
}

function describeBadTimestamp(name: string, value: unknown, acceptsEpochSeconds: boolean): string {
  if (value === undefined) return `${name} is missing`;
  return `${name} must be an ISO 8601 date-time with a time zone${acceptsEpochSeconds ? ' or epoch seconds' : ''}`;
}

function createUnrecognisedError(problems: string[]): MalformedDeliveryError {
  return new MalformedDeliveryError('envelope_unrecognised', `Body is not a FirstPromoter webhook: ${problems.join('; ')}`);
}
