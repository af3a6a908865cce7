import type { AffiliateFields, CanonicalEventType, EventOrigin } from './affiliate.js';
import * as yup from 'yup';

/**
 * The provider type (and type suffix) of a delivery whose id was first seen with another body: the
 * bridge stores it as a quarantined `<source>.conflicting_duplicate` event (queue/conflicting-duplicates.ts),
 * an event type of every source that rules may name.
 */
export const CONFLICTING_DUPLICATE_TYPE = 'conflicting_duplicate';

/** The provider-neutral event every rule sees. See ../shared/DESIGN.md, "The event every rule sees". */
export type EventStatus = 'valid' | 'quarantined';

/** Where an event came from (defined with the affiliate model): `webhook`, or `reconciled` (src/reconcile/). */
export type { EventOrigin };

/**
 * The name of a registered source (`firstpromoter`, `rewardful`): a key of sources/registry.ts,
 * which is the only list of them. A plain string here, so that a registry can grow without this
 * file changing; the HTTP layer and the events worker only ever see names the registry holds.
 */
export type SourceName = string;

export interface BridgeEvent {
  /** `<source>-<provider event id>`, e.g. `firstpromoter-22736304`: never a bare integer. */
  readonly id: string;
  readonly source: SourceName;
  /** `<source>.<provider type>`, e.g. `firstpromoter.lead_signup`, `rewardful.referral.converted`. */
  readonly type: string;
  /** The provider's own type name, e.g. `lead_signup`, `referral.converted`. */
  readonly providerType: string;
  /** ISO 8601, from the provider's envelope. */
  readonly occurredAt: string;
  /** ISO 8601, when the bridge received the delivery. */
  readonly receivedAt: string;
  readonly status: EventStatus;
  /**
   * `webhook` for a provider's delivery, `reconciled` for an event `reconcile` synthesized from the
   * provider's API. Rules read it as `event.origin`, always set there.
   * @defaultValue `webhook`: events stored before origins existed came from webhooks
   */
  readonly origin?: EventOrigin;
  /**
   * The event's canonical types (`affiliate.lead.created`…), from its source's affiliate normalizer:
   * a rule whose `on` names one of them matches the event as if it named the provider type, once.
   * Empty when the provider type has no canonical equivalent.
   * @defaultValue none: the source maps no affiliate model, or the event was stored before it existed
   */
  readonly canonicalTypes?: readonly CanonicalEventType[];
  /**
   * The normalized affiliate fields (rules read them as `affiliate.…`), from the same normalizer.
   * @defaultValue none: rules then see `affiliate` as null
   */
  readonly affiliate?: AffiliateFields;
  /** Why a quarantined event failed its schema (or that its type is unknown); absent when valid. */
  readonly validationErrors?: string[];
  /**
   * `schema` when the events worker quarantined the event for its payload's schema (then its
   * `validationErrors` are the schema's, and a replay checks the payload again with the current
   * schemas: sources/check-event.ts). Absent for a valid event, and for one quarantined at intake
   * (unknown type, unreadable envelope field, a payload too deep or an array too long to check)
   * or stored before this field existed: no replay changes what those were found to be.
   */
  readonly quarantinedBy?: 'schema';
  /**
   * Envelope fields other than the payload, kept for rules and traces (FirstPromoter v2 `action`,
   * `entity_type`, `entity_id`, `changes`; Rewardful `request`). Secrets stripped.
   */
  readonly envelope?: Record<string, unknown>;
  /** The provider's payload body (FirstPromoter `data`, Rewardful `object`), secrets stripped. */
  readonly data: Record<string, unknown>;
  /**
   * Only on a `<source>.conflicting_duplicate` event: a delivery whose event id was first delivered
   * with a different body (see queue/conflicting-duplicates.ts). `eventId` is that id, `claimedType`
   * the type this delivery claimed.
   */
  readonly conflict?: { readonly eventId: string; readonly claimedType: string };
}

/** Oldest receipt first; the id breaks ties, so an order of stored events is the same on every run. */
export function compareEventsByReceipt(a: BridgeEvent, b: BridgeEvent): number {
  return a.receivedAt < b.receivedAt ? -1 : a.receivedAt > b.receivedAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The fields of `event` as rules see them, as a yup schema: `check` derives their CEL types from
 * it (rules/scope-types.ts), and conditions get the values in those types. `envelope` and `data`
 * are the source's own schemas of that event type, given by the caller. Adding a field to
 * BridgeEvent that rules may read is one line here.
 */
export function defineRuleEventSchema(payloads: { readonly data: yup.ISchema<unknown>; readonly envelope: yup.ISchema<unknown> }) {
  // `celType: timestamp`: ISO 8601 text that conditions compare as CEL timestamps.
  const instant = yup.string().meta({ celType: 'timestamp' });
  return yup.object({
    id: yup.string().required(),
    source: yup.string().required(),
    type: yup.string().required(),
    providerType: yup.string().required(),
    occurredAt: instant.required(),
    receivedAt: instant.required(),
    status: yup.string().required(),
    // Rules always see an origin (rules/rule-scopes.ts defaults it for events stored before it existed).
    origin: yup.string().oneOf(['webhook', 'reconciled']).required(),
    canonicalTypes: yup.array(yup.string().required()),
    validationErrors: yup.array(yup.string().required()),
    envelope: payloads.envelope,
    data: payloads.data,
  });
}
