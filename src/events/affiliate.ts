import * as yup from 'yup';

/*
 * One affiliate event model across providers. Besides its `<source>.<provider type>`, an event may
 * carry canonical types (`affiliate.commission.paid`), so one rule covers FirstPromoter and
 * Rewardful, and normalized fields under `affiliate` in the rule scope. Each source maps its own
 * payloads (sources/<provider>/affiliate.ts); this module is the provider-neutral contract: the
 * canonical types, the shape of the fields, and the yup schema that describes them (the one
 * description of `affiliate`, for tools that derive types from schemas).
 */

/** The namespace of canonical event types: `on: affiliate.lead.created`. Never a source name. */
export const CANONICAL_TYPE_NAMESPACE = 'affiliate';

/** Every canonical event type, in the order rules/README.md lists them. */
export const CANONICAL_EVENT_TYPES = [
  'affiliate.lead.created',
  'affiliate.lead.converted',
  'affiliate.lead.cancelled',
  'affiliate.promoter.created',
  'affiliate.promoter.approved',
  'affiliate.commission.created',
  'affiliate.commission.approved',
  'affiliate.commission.paid',
  'affiliate.commission.voided',
  'affiliate.payout.paid',
  'affiliate.fraud.suspected',
] as const;

export type CanonicalEventType = (typeof CANONICAL_EVENT_TYPES)[number];

/** Where an event came from: a provider's webhook, or synthesized from the provider's API by `reconcile`. */
export type EventOrigin = 'webhook' | 'reconciled';

/** The origin of an event stored before origins existed: those all came from webhooks. */
export const DEFAULT_EVENT_ORIGIN: EventOrigin = 'webhook';

/**
 * The canonical statuses of `affiliate.commission.status`. A provider's own value that maps to
 * none of them is kept as sent (see each source's mapping in rules/README.md).
 */
export const CANONICAL_COMMISSION_STATUSES = ['pending', 'approved', 'paid', 'voided'] as const;

/** The normalized fields a rule reads as `affiliate.…`. Every object is present; a field the event does not carry is null. */
export interface AffiliateFields {
  /** The source's name: `firstpromoter`, `rewardful`. */
  readonly provider: string;
  /** The referred person (FirstPromoter lead or v2 referral, Rewardful referral). Ids are strings for every provider. */
  readonly lead: { readonly id: string | null; readonly email: string | null };
  /** The affiliate (FirstPromoter promoter, Rewardful affiliate). */
  readonly promoter: { readonly id: string | null; readonly email: string | null; readonly name: string | null };
  /** The reward (FirstPromoter reward or v2 commission, Rewardful commission). */
  readonly commission: AffiliateAmount;
  /** The payout (FirstPromoter v2 payout, Rewardful payout). */
  readonly payout: AffiliateAmount;
  readonly campaign: { readonly name: string | null };
  /** FirstPromoter's suspicion of the lead (`self_referral`…); null when `no_suspicion` or not given. */
  readonly fraud: string | null;
}

/** A commission or a payout: what it is worth and where it stands. */
export interface AffiliateAmount {
  readonly id: string | null;
  /** Whole amount in the unit's smallest denomination: cents for money; for a non-cash unit, a count of that unit. */
  readonly amount_cents: number | null;
  /** The ISO 4217 code where the provider gives one (`USD`), else its unit (`cash`, `points`, `free_months`). */
  readonly currency: string | null;
  /** `pending`, `approved`, `paid`, `voided`, or the provider's own value when it maps to none of these. */
  readonly status: string | null;
}

/** What a source's affiliate normalizer makes of one event. */
export interface AffiliateDescription {
  /** The event's canonical types, each once: none, one, or two (a lead that is also suspected of fraud). */
  readonly canonicalTypes: readonly CanonicalEventType[];
  readonly affiliate: AffiliateFields;
}

// The schema types each leaf as the rules see it; `.defined()` because every key is always there.
const nullableText = yup.string().nullable().defined();
const nullableWholeNumber = yup.number().integer().nullable().defined();
const amountSchema = yup
  .object({ id: nullableText, amount_cents: nullableWholeNumber, currency: nullableText, status: nullableText })
  .noUnknown()
  .defined();

/**
 * The yup schema of {@link AffiliateFields}: the one description of what rules reach under
 * `affiliate`. Strict (no unknown keys), so a mapper that adds a field must add it here, and a
 * schema-derived type of `affiliate` is always complete.
 */
export const affiliateFieldsSchema = yup
  .object({
    provider: yup.string().defined(),
    lead: yup.object({ id: nullableText, email: nullableText }).noUnknown().defined(),
    promoter: yup.object({ id: nullableText, email: nullableText, name: nullableText }).noUnknown().defined(),
    commission: amountSchema,
    payout: amountSchema,
    campaign: yup.object({ name: nullableText }).noUnknown().defined(),
    fraud: nullableText,
  })
  .noUnknown()
  .defined();

/** Whether `type` is one of the canonical event types. */
export function isCanonicalEventType(type: string): type is CanonicalEventType {
  return (CANONICAL_EVENT_TYPES as readonly string[]).includes(type);
}

/** Fields all null but the provider: the start of every mapping, and what an event with nothing to map gets. */
export function emptyAffiliateFields(provider: string): AffiliateFields {
  const amount = { id: null, amount_cents: null, currency: null, status: null };
  return {
    provider,
    lead: { id: null, email: null },
    promoter: { id: null, email: null, name: null },
    commission: amount,
    payout: { ...amount },
    campaign: { name: null },
    fraud: null,
  };
}
