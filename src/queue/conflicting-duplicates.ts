import { createHash } from 'node:crypto';
import type { BridgeEvent } from '../events/event.js';
import { CONFLICTING_DUPLICATE_TYPE } from '../events/event.js';

/**
 * Id squatting: deduplication by event id alone lets anyone who holds a source's shared secret
 * send junk under an upcoming id (FirstPromoter's ids are sequential), and the genuine delivery of
 * that id would then be answered `duplicate` and never planned. So a delivery is a duplicate only
 * when its body's digest equals the first delivery's; a different body under a known id is stored
 * as a separate, quarantined event of type `<source>.conflicting_duplicate`, which rules can alert on.
 *
 * The digest travels in the event job id (`<event id>.<digest>.<delivery tag>`), which BullMQ's
 * deduplication answers with, so recognising a conflict costs nothing beyond the one write intake
 * already makes; only a conflict costs a second one.
 */

export { CONFLICTING_DUPLICATE_TYPE };

/** The reason stored in a conflicting duplicate's `validationErrors`, first line. */
export const CONFLICTING_DUPLICATE_REASON = 'conflicting_duplicate';

/** Hex characters of the SHA-256 kept: 64 bits, plenty to tell two bodies of one event id apart. */
const DIGEST_LENGTH = 16;

/**
 * The digest of what a delivery says about its event: the type, the time and the payload (secrets
 * stripped). Envelope metadata that describes the delivery rather than the event (Rewardful's
 * `request`) is left out, so a provider's redelivery of the same event stays a duplicate.
 */
export function digestEventBody(event: BridgeEvent): string {
  return digestSerializedEventBody(event, JSON.stringify(event.data));
}

/**
 * {@link digestEventBody} from the event's data already serialised (`JSON.stringify(event.data)`,
 * as the intake stores it): the same digest, without serialising the payload a second time. The
 * bytes hashed are those of `JSON.stringify([type, occurredAt, data])`, so digests stay comparable
 * with those in job ids written before.
 */
export function digestSerializedEventBody(event: Pick<BridgeEvent, 'type' | 'occurredAt'>, dataJson: string | undefined): string {
  return createHash('sha256')
    .update(`[${JSON.stringify(event.type) ?? 'null'},${JSON.stringify(event.occurredAt) ?? 'null'},`)
    .update(dataJson ?? 'null')
    .update(']')
    .digest('hex')
    .slice(0, DIGEST_LENGTH);
}

/** The delivery tag part of an event job id: the body's digest, then what makes the delivery unique. */
export function buildDeliveryTag(bodyDigest: string, uniquePart: string): string {
  return `${bodyDigest}.${uniquePart}`;
}

/**
 * The body digest inside the event job id of a first delivery of `eventId`, or null for an id
 * written before digests were (those keep the old meaning: any redelivery is a duplicate).
 */
export function readDigestOfJobId(jobId: string, eventId: string): string | null {
  if (!jobId.startsWith(`${eventId}.`)) return null;
  const digest = jobId.slice(eventId.length + 1).split('.')[0];
  return digest.length === DIGEST_LENGTH && /^[0-9a-f]+$/.test(digest) ? digest : null;
}

/**
 * The event stored for a delivery whose id `event.id` was first delivered with another body: its
 * own id (`<event id>.conflict-<digest>`, so the same junk sent again is an ordinary duplicate),
 * type `<source>.conflicting_duplicate`, status `quarantined`, the delivery's payload as `data`,
 * and `conflict` naming the event id and the type it claimed.
 */
export function buildConflictingDuplicate(event: BridgeEvent, bodyDigest: string): BridgeEvent {
  return {
    ...event,
    id: `${event.id}.conflict-${bodyDigest}`,
    type: `${event.source}.${CONFLICTING_DUPLICATE_TYPE}`,
    providerType: CONFLICTING_DUPLICATE_TYPE,
    status: 'quarantined',
    validationErrors: [
      `${CONFLICTING_DUPLICATE_REASON}: event id ${event.id} was delivered before with a different body; this delivery (type ${event.type}) was not planned as ${event.id}`,
      ...(event.validationErrors ?? []),
    ],
    conflict: { eventId: event.id, claimedType: event.type },
  };
}
