import type * as yup from 'yup';
import {
  amountsByUnit,
  anyObject,
  decimal,
  defineList,
  defineRecord,
  flag,
  integer,
  text,
  timestamp,
} from '../schema-fields.js';

/*
 * Payload schemas for FirstPromoter's two webhook envelopes, from its documentation
 * (docs.firstpromoter.com/webhooks/* and /webhooks-v2/*, and the seeds in ../shared/seeds).
 * Documented fields are typed; nullability follows the examples, leniently (providers send null
 * for empty values). Fields outside the documentation are allowed: FirstPromoter adds fields.
 * Amounts and totals are whole numbers in the unit's smallest denomination (cents for cash).
 */

// ---- Shared objects of the classic envelope ({ event, data }) ----

/** A campaign's reward rule (`current_referral_reward`, `referral_reward`, fulfilment `reward`). */
const rewardRule = defineRecord({
  id: integer.nullable(),
  name: text.nullable(),
  // The configured amount of a rule, which may be a percentage; reward records use whole amounts.
  amount: decimal.nullable(),
  type: text.nullable(),
  unit: text.nullable(),
  per_of_sale: decimal.nullable(),
  default_promo_code: text.nullable(),
}).nullable();

/** A discount offered to referred customers (`current_offer`, campaign `offer`). */
const offer = defineRecord({
  id: integer.nullable(),
  name: text.nullable(),
  amount: decimal.nullable(),
  unit: text.nullable(),
  default_promo_code: text.nullable(),
}).nullable();

/** A promoter's enrolment in one campaign, with its counters. */
const promotion = defineRecord({
  id: integer.required(),
  status: text.nullable(),
  ref_id: text.nullable(),
  promo_code: text.nullable(),
  customer_promo_code: text.nullable(),
  target_reached_at: timestamp.nullable(),
  promoter_id: integer.nullable(),
  campaign_id: integer.nullable(),
  referral_link: text.nullable(),
  current_offer: offer,
  current_referral_reward: rewardRule,
  current_promotion_reward: rewardRule,
  current_target_reward: rewardRule,
  campaign_name: text.nullable(),
  hidden: flag.nullable(),
  visitors_count: integer.nullable(),
  leads_count: integer.nullable(),
  customers_count: integer.nullable(),
  active_customers_count: integer.nullable(),
  sales_count: integer.nullable(),
  sales_total: integer.nullable(),
  refunds_count: integer.nullable(),
  refunds_total: integer.nullable(),
  cancellations_count: integer.nullable(),
});

const socialAccount = defineRecord({ url: text.nullable() }).nullable();

const profile = defineRecord({
  id: integer.nullable(),
  first_name: text.nullable(),
  last_name: text.nullable(),
  website: text.nullable(),
  company_name: text.nullable(),
  phone_number: text.nullable(),
  address: text.nullable(),
  vat_id: text.nullable(),
  country: text.nullable(),
  paypal_email: text.nullable(),
  avatar_url: text.nullable(),
  description: text.nullable(),
  social_accounts: defineRecord({
    twitter: socialAccount,
    youtube: socialAccount,
    facebook: socialAccount,
    linkedin: socialAccount,
    instagram: socialAccount,
    tiktok: socialAccount,
    twitch: socialAccount,
  }).nullable(),
}).nullable();

/** The promoter object; `auth_token` and `temp_password` are secrets, stripped before storage. */
const promoter = defineRecord({
  id: integer.required(),
  status: text.nullable(),
  cust_id: text.nullable(),
  email: text.nullable(),
  created_at: timestamp.nullable(),
  temp_password: text.nullable(),
  default_promotion_id: integer.nullable(),
  pref: text.nullable(),
  default_ref_id: text.nullable(),
  note: text.nullable(),
  w8_form_url: text.nullable(),
  w9_form_url: text.nullable(),
  parent_promoter_id: integer.nullable(),
  earnings_balance: amountsByUnit,
  current_balance: amountsByUnit,
  paid_balance: amountsByUnit,
  auth_token: text.nullable(),
  profile,
  promotions: defineList(promotion).nullable(),
});

const campaign = defineRecord({
  id: integer.required(),
  name: text.nullable(),
  landing_url: text.nullable(),
  description: text.nullable(),
  private: flag.nullable(),
  color: text.nullable(),
  default_webhook_url: text.nullable(),
  auto_approve_rewards: flag.nullable(),
  auto_approve_promoters: flag.nullable(),
  offer,
  referral_reward: rewardRule,
  promotion_reward: rewardRule,
  target_reward: rewardRule,
});

/** The lead (referred user) fields, as in `lead_signup` and in a reward's `lead`. */
const leadFields = {
  id: integer.required(),
  // The example payloads send `state`; the field tables call it `status`. Both are accepted.
  state: text.nullable(),
  status: text.nullable(),
  email: text.nullable(),
  uid: text.nullable(),
  customer_since: timestamp.nullable(),
  cancelled_at: timestamp.nullable(),
  plan_name: text.nullable(),
  suspicion: text.nullable(),
  username: text.nullable(),
  website: text.nullable(),
  created_at: timestamp.nullable(),
  split_promotion_id: integer.nullable(),
  split_percentage_value: decimal.nullable(),
  custom_fields: anyObject,
  visitor_sub_id: text.nullable(),
};

const lead = defineRecord(leadFields);

// ---- Classic payloads, one per documented event type ----

/** `lead_signup`, `lead_becomes_referral`, `new_customer`, `lead_cancelled`: a lead and its promoter. */
const leadEvent = defineRecord({
  ...leadFields,
  promoter: promoter.nullable(),
  promotion: promotion.nullable(),
});

const promoterSignedUp = defineRecord({
  promoter: promoter.required(),
  promotions: defineList(promotion).nullable(),
});

const promoterAccepted = defineRecord({
  state: text.nullable(),
  campaign: campaign.nullable(),
  promoter: promoter.required(),
  promotion: promotion.nullable(),
});

const rewardCreated = defineRecord({
  id: integer.required(),
  status: text.nullable(),
  amount: integer.required(),
  unit: text.nullable(),
  created_at: timestamp.nullable(),
  event_id: text.nullable(),
  conversion_amount: integer.nullable(),
  tier_level: integer.nullable(),
  split_type: text.nullable(),
  lead: lead.nullable(),
  promoter: promoter.nullable(),
  promotion: promotion.nullable(),
});

const fulfilmentPending = defineRecord({
  id: integer.required(),
  status: text.nullable(),
  amount: integer.required(),
  unit: text.nullable(),
  created_at: timestamp.nullable(),
  date_paid: timestamp.nullable(),
  due_date: timestamp.nullable(),
  has_issues: flag.nullable(),
  reward: rewardRule,
  promoter: promoter.nullable(),
  campaign: campaign.nullable(),
});

/** Every type of the classic envelope, as FirstPromoter documents them. */
export const CLASSIC_EVENT_TYPES = [
  'lead_signup',
  'lead_becomes_referral',
  'new_customer',
  'lead_cancelled',
  'promoter_signed_up',
  'promoter_accepted',
  'reward_created',
  'fulfilment_pending',
] as const;

export type ClassicEventType = (typeof CLASSIC_EVENT_TYPES)[number];

/** Other spellings FirstPromoter has used, mapped to the documented type. */
export const CLASSIC_TYPE_ALIASES: Readonly<Record<string, ClassicEventType>> = {
  promoter_signs_up: 'promoter_signed_up',
};

/** The `data` schema of each classic event type. */
export const classicDataSchemas: Readonly<Record<ClassicEventType, yup.ISchema<unknown>>> = {
  lead_signup: leadEvent,
  lead_becomes_referral: leadEvent,
  new_customer: leadEvent,
  lead_cancelled: leadEvent,
  promoter_signed_up: promoterSignedUp,
  promoter_accepted: promoterAccepted,
  reward_created: rewardCreated,
  fulfilment_pending: fulfilmentPending,
};

// ---- Webhooks v2 ({ event_id, event_type, action, entity_type, entity_id, changes, data, timestamp }) ----

/** Fields every v2 resource has: `data` is the resource's full state at the time of the event. */
const v2ResourceFields = {
  id: integer.required(),
  created_at: timestamp.nullable(),
  updated_at: timestamp.nullable(),
};

const v2Resource = defineRecord(v2ResourceFields);

const v2Promoter = defineRecord({
  ...v2ResourceFields,
  email: text.nullable(),
  name: text.nullable(),
  cust_id: text.nullable(),
  status: text.nullable(),
  balances: amountsByUnit,
  joined_at: timestamp.nullable(),
  profile: defineRecord({
    id: integer.nullable(),
    first_name: text.nullable(),
    last_name: text.nullable(),
    website: text.nullable(),
    company_name: text.nullable(),
    phone_number: text.nullable(),
    address: text.nullable(),
    country: text.nullable(),
    paypal_email: text.nullable(),
    avatar: text.nullable(),
  }).nullable(),
});

const v2Referral = defineRecord({
  ...v2ResourceFields,
  state: text.nullable(),
  email: text.nullable(),
  uid: text.nullable(),
  customer_since: timestamp.nullable(),
  fraud_check: text.nullable(),
});

const v2Commission = defineRecord({
  ...v2ResourceFields,
  status: text.nullable(),
  amount: integer.nullable(),
  unit: text.nullable(),
  referral: defineRecord({ id: integer.nullable(), email: text.nullable(), uid: text.nullable() }).nullable(),
});

const v2Payout = defineRecord({
  ...v2ResourceFields,
  status: text.nullable(),
  amount: integer.nullable(),
  unit: text.nullable(),
});

const v2ContractDocument = defineRecord({
  ...v2ResourceFields,
  promoter_id: integer.nullable(),
  signed_at: timestamp.nullable(),
});

/**
 * The v2 envelope fields kept in the event's `envelope`. `changes` maps each changed field to
 * `[old, new]` for updates and is empty otherwise.
 */
export const v2EnvelopeSchema: yup.ISchema<unknown> = defineRecord({
  action: text.nullable(),
  entity_type: text.nullable(),
  entity_id: integer.nullable(),
  changes: anyObject,
});

/**
 * Every v2 event type: the list on docs.firstpromoter.com/webhooks-v2/event-types, joined with the
 * status-specific types FirstPromoter's own n8n node subscribes to (commission.approved,
 * payout.completed…), which a later revision of the same page lists.
 */
export const V2_EVENT_TYPES = [
  'promoter.created',
  'promoter.updated',
  'promoter.deleted',
  'promoter.profile.updated',
  'promoter.balance.updated',
  'promoter_campaign.created',
  'promoter_campaign.updated',
  'promoter_campaign.deleted',
  'promoter_campaign.accepted',
  'promoter_campaign.pending',
  'promoter_campaign.rejected',
  'promoter_campaign.blocked',
  'promoter_campaign.inactive',
  'referral.created',
  'referral.updated',
  'referral.deleted',
  'referral.moved',
  'referral.converted',
  'referral.cancelled',
  'commission.created',
  'commission.updated',
  'commission.deleted',
  'commission.approved',
  'commission.pending',
  'commission.denied',
  'payout.created',
  'payout.updated',
  'payout.deleted',
  'payout.pending',
  'payout.processing',
  'payout.completed',
  'payout.failed',
  'payout.cancelled',
  'payout.commissions.created',
  'payout.commissions.updated',
  'payout.commissions.deleted',
  'payout.commissions.added',
  'payout.commissions.removed',
  'payout_method.created',
  'payout_method.updated',
  'payout_method.deleted',
  'payments_batch.created',
  'payments_batch.updated',
  'payments_batch.deleted',
  'payments_batch.initiated',
  'payments_batch.processing',
  'payments_batch.completed',
  'payments_batch.failed',
  'contract_document.signed',
] as const;

export type V2EventType = (typeof V2_EVENT_TYPES)[number];

/** The `data` schema of a v2 event type, by the entity it names (`commission.approved` → commission). */
function selectV2Schema(type: V2EventType): yup.ISchema<unknown> {
  if (type.startsWith('payout.commissions.')) return v2Resource;
  const entity = type.slice(0, type.indexOf('.'));
  switch (entity) {
    case 'promoter':
      return v2Promoter;
    case 'referral':
      return v2Referral;
    case 'commission':
      return v2Commission;
    case 'payout':
      return v2Payout;
    case 'contract_document':
      return v2ContractDocument;
    default:
      // promoter_campaign, payout_method, payments_batch: no documented example payload yet.
      return v2Resource;
  }
}

/** The `data` schema of each v2 event type. */
export const v2DataSchemas: Readonly<Record<V2EventType, yup.ISchema<unknown>>> = Object.fromEntries(
  V2_EVENT_TYPES.map((type) => [type, selectV2Schema(type)]),
) as Record<V2EventType, yup.ISchema<unknown>>;
