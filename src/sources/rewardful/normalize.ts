import type { BridgeEvent } from '../../events/event.js';
import { normalizeEnvelope, readEnvelopeObject } from '../envelope.js';
import type { NormalizeOptions } from '../source.js';
import { rewardfulObjectSchemas } from './schemas.js';

/** The source's name and spelling, shared by its descriptor (index.ts) and its messages. */
export const REWARDFUL_IDENTITY = { name: 'rewardful', title: 'Rewardful' } as const;

/**
 * Turns a verified Rewardful body `{ object, event: { id, type, created_at }, request: { id } }`
 * into the bridge's event: id `rewardful-<event.id>`, type `rewardful.<event.type>`, data the
 * `object`, envelope `{ request, api_version }` (each when present). `event.api_version` says which
 * version of the REST API the object follows (`"v1"` in developers.rewardful.com/webhooks/requests);
 * it is kept so rules and traces can tell payload versions apart.
 *
 * @throws MalformedDeliveryError `envelope_unrecognised` when the body has no usable event id or
 *   type. An unknown type or an object that fails its schema gives a quarantined event instead.
 */
export function normalizeRewardfulDelivery(body: Record<string, unknown>, options: NormalizeOptions): BridgeEvent {
  const event = readEnvelopeObject(REWARDFUL_IDENTITY, body, 'event');
  return normalizeEnvelope(
    REWARDFUL_IDENTITY,
    {
      // Rewardful ids are UUID strings.
      id: { path: 'event.id', value: event.id },
      type: { path: 'event.type', value: event.type },
      isKnownType: (type) => Object.hasOwn(rewardfulObjectSchemas, type),
      occurredAt: { path: 'event.created_at', value: event.created_at },
      data: body.object,
      ...(body.request !== undefined || event.api_version !== undefined
        ? {
            envelope: {
              ...(body.request !== undefined ? { request: body.request } : {}),
              ...(event.api_version !== undefined ? { api_version: event.api_version } : {}),
            },
          }
        : {}),
    },
    options,
  );
}
