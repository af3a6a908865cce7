import * as yup from 'yup';

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
    validationErrors: yup.array(yup.string().required()),
    envelope: payloads.envelope,
    data: payloads.data,
  });
}
