import type * as yup from 'yup';
import { countLike, defineList, defineRecord, flag, integer, text, timestamp } from '../schema-fields.js';

/*
 * Schemas of the objects Rewardful sends in a webhook's `object` key, from its developer
 * documentation (developers.rewardful.com: REST API objects and webhooks/event-types; older
 * revisions in github.com/rewardful/rest-api-docs) and the referral seed in ../shared/seeds.
 * The webhook object is "identical in structure to the REST API representation". Ids are UUID
 * strings; amounts are whole cents. Fields outside the documentation are allowed.
 */

const campaign = defineRecord({
  id: text.nullable(),
  name: text.nullable(),
  created_at: timestamp.nullable(),
  updated_at: timestamp.nullable(),
}).nullable();

/** An affiliate link: the `?via=` token and its counters. Older payloads count `referrals`. */
const affiliateLink = defineRecord({
  id: text.required(),
  url: text.nullable(),
  token: text.nullable(),
  visitors: integer.nullable(),
  leads: integer.nullable(),
  conversions: integer.nullable(),
  referrals: integer.nullable(),
  affiliate_id: text.nullable(),
});

const affiliate = defineRecord({
  id: text.required(),
  created_at: timestamp.nullable(),
  updated_at: timestamp.nullable(),
  state: text.nullable(),
  first_name: text.nullable(),
  last_name: text.nullable(),
  email: text.nullable(),
  confirmed_at: timestamp.nullable(),
  paypal_email: text.nullable(),
  paypal_email_confirmed_at: timestamp.nullable(),
  wise_email: text.nullable(),
  wise_email_confirmed_at: timestamp.nullable(),
  receive_new_commission_notifications: flag.nullable(),
  sign_in_count: integer.nullable(),
  unconfirmed_email: text.nullable(),
  stripe_customer_id: text.nullable(),
  stripe_account_id: text.nullable(),
  visitors: integer.nullable(),
  leads: integer.nullable(),
  conversions: integer.nullable(),
  referrals: integer.nullable(),
  campaign,
  links: defineList(affiliateLink).nullable(),
});

/** The referred customer in the payment processor. */
const customer = defineRecord({
  id: text.nullable(),
  name: text.nullable(),
  email: text.nullable(),
  platform: text.nullable(),
}).nullable();

/** A referral: one visit through an affiliate link, which may become a lead and a conversion. */
const referral = defineRecord({
  id: text.required(),
  link: affiliateLink.nullable(),
  visits: integer.nullable(),
  customer,
  affiliate: affiliate.nullable(),
  created_at: timestamp.nullable(),
  updated_at: timestamp.nullable(),
  became_lead_at: timestamp.nullable(),
  became_conversion_at: timestamp.nullable(),
  expires_at: timestamp.nullable(),
  deactivated_at: timestamp.nullable(),
  conversion_state: text.nullable(),
  stripe_account_id: text.nullable(),
  stripe_customer_id: text.nullable(),
});

/** A purchase by a referred customer (amounts in cents). */
const sale = defineRecord({
  id: text.required(),
  currency: text.nullable(),
  referral: referral.nullable(),
  affiliate: affiliate.nullable(),
  charged_at: timestamp.nullable(),
  invoiced_at: timestamp.nullable(),
  refunded_at: timestamp.nullable(),
  created_at: timestamp.nullable(),
  updated_at: timestamp.nullable(),
  stripe_charge_id: text.nullable(),
  stripe_account_id: text.nullable(),
  charge_amount_cents: integer.nullable(),
  refund_amount_cents: integer.nullable(),
  tax_amount_cents: integer.nullable(),
  sale_amount_cents: integer.nullable(),
});

/** A reward to an affiliate for one sale. */
const commission = defineRecord({
  id: text.required(),
  amount: integer.nullable(),
  currency: text.nullable(),
  state: text.nullable(),
  due_at: timestamp.nullable(),
  paid_at: timestamp.nullable(),
  voided_at: timestamp.nullable(),
  created_at: timestamp.nullable(),
  updated_at: timestamp.nullable(),
  stripe_account_id: text.nullable(),
  campaign,
  sale: sale.nullable(),
  affiliate: affiliate.nullable(),
});

/** The payable commissions of one affiliate, bundled. */
const payout = defineRecord({
  id: text.required(),
  amount: integer.nullable(),
  currency: text.nullable(),
  state: text.nullable(),
  paid_at: timestamp.nullable(),
  paid_by_id: text.nullable(),
  created_at: timestamp.nullable(),
  updated_at: timestamp.nullable(),
  affiliate: affiliate.nullable(),
  commissions: defineList(commission).nullable(),
});

/**
 * A coupon or promotion code in the payment processor, assigned to an affiliate. The attribute
 * table types `leads` and `conversions` as strings while the example sends numbers: both pass.
 */
const affiliateCoupon = defineRecord({
  id: text.required(),
  external_id: text.nullable(),
  token: text.nullable(),
  leads: countLike,
  conversions: countLike,
  affiliate_id: text.nullable(),
  archived: flag.nullable(),
  archived_at: timestamp.nullable(),
});

/**
 * Every webhook event type, from developers.rewardful.com/webhooks/event-types (the payout types
 * as listed by the catalogue github.com/api-evangelist/rewardful, taken from that page).
 */
export const REWARDFUL_EVENT_TYPES = [
  'affiliate.created',
  'affiliate.confirmed',
  'affiliate.updated',
  'affiliate.deleted',
  'affiliate_link.created',
  'affiliate_link.updated',
  'affiliate_link.deleted',
  'affiliate_coupon.created',
  'affiliate_coupon.updated',
  'affiliate_coupon.activated',
  'affiliate_coupon.deactivated',
  'affiliate_coupon.deleted',
  'referral.created',
  'referral.lead',
  'referral.converted',
  'referral.deleted',
  'sale.created',
  'sale.updated',
  'sale.refunded',
  'sale.deleted',
  'commission.created',
  'commission.updated',
  'commission.paid',
  'commission.voided',
  'commission.deleted',
  'payout.created',
  'payout.updated',
  'payout.due',
  'payout.paid',
  'payout.failed',
  'payout.deleted',
] as const;

export type RewardfulEventType = (typeof REWARDFUL_EVENT_TYPES)[number];

/** The schema of each object kind, named by the event type's prefix. */
const objectSchemas: Readonly<Record<string, yup.ISchema<unknown>>> = {
  affiliate,
  affiliate_link: affiliateLink,
  affiliate_coupon: affiliateCoupon,
  referral,
  sale,
  commission,
  payout,
};

/** The `object` schema of each event type. */
export const rewardfulObjectSchemas: Readonly<Record<RewardfulEventType, yup.ISchema<unknown>>> = Object.fromEntries(
  REWARDFUL_EVENT_TYPES.map((type) => [type, objectSchemas[type.slice(0, type.indexOf('.'))]]),
) as Record<RewardfulEventType, yup.ISchema<unknown>>;
