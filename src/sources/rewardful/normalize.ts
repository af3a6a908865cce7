import type { BridgeEvent } from '../../events/event.js';
import { MalformedDeliveryError } from '../../errors.js';
import { buildBridgeEvent, isSafeEventId, isSafeEventType } from '../build-event.js';
import { isJsonObject, readIsoInstant } from '../schema-fields.js';
import type { NormalizeOptions } from '../source.js';
import { rewardfulObjectSchemas } from './schemas.js';

/**
 * Turns a verified Rewardful body `{ object, event: { id, type, created_at }, request: { id } }`
 * into the bridge's event: id `rewardful-<event.id>`, type `rewardful.<event.type>`, data the
 * `object`, envelope `{ request }`.
 *
 * @throws MalformedDeliveryError `envelope_unrecognised` when the body has no usable event id or
 *   type. An unknown type or an object that fails its schema gives a quarantined event instead.
 */
export function normalizeRewardfulDelivery(body: Record<string, unknown>, options: NormalizeOptions): BridgeEvent {
  const event = body.event;
  if (event !== undefined && !isJsonObject(event)) throw createUnrecognisedError(['event must be an object']);
  const { id, type, created_at: createdAt } = event ?? {};

  const envelopeProblems: string[] = [];
  // Rewardful ids are UUID strings.
  if (id === undefined) envelopeProblems.push('missing event.id');
  else if (typeof id !== 'string' || !isSafeEventId(id)) {
    envelopeProblems.push("event.id must be a string of letters, digits, '_', '.' or '-'");
  }
  if (type === undefined) envelopeProblems.push('missing event.type');
  else if (typeof type !== 'string' || !isSafeEventType(type)) {
    envelopeProblems.push("event.type must be a string of letters, digits, '_', '.' or '-'");
  }
  if (envelopeProblems.length > 0) throw createUnrecognisedError(envelopeProblems);

  const providerType = type as string;
  const isKnownType = Object.hasOwn(rewardfulObjectSchemas, providerType);
  const occurredAt = readIsoInstant(createdAt);
  return buildBridgeEvent(
    {
      source: 'rewardful',
      providerEventId: id as string,
      providerType,
      occurredAt,
      data: body.object,
      ...(body.request !== undefined ? { envelope: { request: body.request } } : {}),
      problems: [
        ...(isKnownType ? [] : [`Unknown Rewardful event type "${providerType}"`]),
        ...(occurredAt === null
          ? [
              createdAt === undefined
                ? 'event.created_at is missing'
                : 'event.created_at must be an ISO 8601 date-time with a time zone',
            ]
          : []),
      ],
    },
    options,
  );
}

function createUnrecognisedError(problems: string[]): MalformedDeliveryError {
  return new MalformedDeliveryError('envelope_unrecognised', `Body is not a Rewardful webhook: ${problems.join('; ')}`);
}
