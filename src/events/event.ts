/** The provider-neutral event every rule sees. See ../shared/DESIGN.md, "The event every rule sees". */
export type EventStatus = 'valid' | 'quarantined';

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
  /** Why a quarantined event failed its schema (or that its type is unknown); absent when valid. */
  readonly validationErrors?: string[];
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
