import { emptyAffiliateFields, type AffiliateFields, type CanonicalEventType } from '../../events/affiliate.js';
import { buildAmount, joinName, mapStatus, readId, readObject, readText } from '../affiliate-readers.js';
import type { AffiliateNormalizer } from '../source.js';
import { REWARDFUL_IDENTITY } from './normalize.js';

/*
 * Rewardful's events on the one affiliate model (rules/README.md, "One affiliate event model",
 * has the table). Source: developers.rewardful.com/webhooks/event-types ("referral.lead: … transitions
 * to a lead state"; "referral.converted: … a conversion state (i.e. paid customer)"; a referral
 * itself is a visit, "an anonymous visitor", so `referral.created` is no lead yet) and the REST
 * objects the webhook's `object` is "identical in structure" to. Rewardful sends no change set, so
 * an `*.updated` event says nothing canonical; it sends no approval of an affiliate either
 * (`affiliate.confirmed` is the affiliate confirming their email address).
 */

/** Rewardful's commission states on the canonical ones: `due` is payable, i.e. approved. */
const COMMISSION_STATES: Readonly<Record<string, string>> = { pending: 'pending', due: 'approved', paid: 'paid', voided: 'voided' };

/** Rewardful's payout states on the canonical ones: a `due` payout is still to be paid. */
const PAYOUT_STATES: Readonly<Record<string, string>> = { due: 'pending', paid: 'paid' };

/** Event types with a canonical equivalent, by provider type. */
const CANONICAL_TYPES: Readonly<Record<string, CanonicalEventType>> = {
  'affiliate.created': 'affiliate.promoter.created',
  'referral.lead': 'affiliate.lead.created',
  'referral.converted': 'affiliate.lead.converted',
  'commission.created': 'affiliate.commission.created',
  'commission.paid': 'affiliate.commission.paid',
  'commission.voided': 'affiliate.commission.voided',
  'payout.paid': 'affiliate.payout.paid',
};

type Draft = { -readonly [K in keyof AffiliateFields]: AffiliateFields[K] };

/** Rewardful's affiliate normalizer. Pure; never throws. */
export const normalizeRewardfulAffiliate: AffiliateNormalizer = (event) => {
  const fields: Draft = emptyAffiliateFields(REWARDFUL_IDENTITY.name);
  const object = readObject(event.data);
  const type = event.providerType;
  const kind = type.slice(0, Math.max(type.indexOf('.'), 0));
  let affiliate: Record<string, unknown> = {};
  switch (kind) {
    case 'affiliate':
      affiliate = object;
      break;
    case 'affiliate_link':
    case 'affiliate_coupon':
      fields.promoter = { ...fields.promoter, id: readId(object.affiliate_id) };
      break;
    case 'referral':
      fields.lead = readLead(object);
      affiliate = readObject(object.affiliate);
      break;
    case 'sale':
      fields.lead = readLead(object.referral);
      affiliate = readObject(object.affiliate);
      break;
    case 'commission': {
      const sale = readObject(object.sale);
      fields.commission = buildAmount(object.id, object.amount, object.currency, mapStatus(object.state, COMMISSION_STATES));
      fields.lead = readLead(sale.referral);
      affiliate = readObject(object.affiliate ?? sale.affiliate);
      fields.campaign = { name: readText(readObject(object.campaign).name) };
      break;
    }
    case 'payout':
      fields.payout = buildAmount(object.id, object.amount, object.currency, mapStatus(object.state, PAYOUT_STATES));
      affiliate = readObject(object.affiliate);
      break;
    default:
      break;
  }
  if (Object.keys(affiliate).length > 0) {
    fields.promoter = { id: readId(affiliate.id), email: readText(affiliate.email), name: joinName(affiliate.first_name, affiliate.last_name) };
    fields.campaign = { name: fields.campaign.name ?? readText(readObject(affiliate.campaign).name) };
  }
  const types: CanonicalEventType[] = Object.hasOwn(CANONICAL_TYPES, type) ? [CANONICAL_TYPES[type] as CanonicalEventType] : [];
  // A commission created already payable is approved as it is created (Rewardful announces no approval).
  if (type === 'commission.created' && fields.commission.status === 'approved') types.push('affiliate.commission.approved');
  return { canonicalTypes: types, affiliate: fields };
};

/** A referral: its id, and its customer's email (a visitor has none yet). */
function readLead(value: unknown): AffiliateFields['lead'] {
  const referral = readObject(value);
  return { id: readId(referral.id), email: readText(readObject(referral.customer).email) };
}
