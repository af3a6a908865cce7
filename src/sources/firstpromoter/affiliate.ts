import { emptyAffiliateFields, type AffiliateFields, type CanonicalEventType } from '../../events/affiliate.js';
import { buildAmount, joinName, mapStatus, readChangedTo, readId, readObject, readText } from '../affiliate-readers.js';
import type { AffiliateNormalizer } from '../source.js';
import { FIRSTPROMOTER_IDENTITY, TEST_DELIVERY_TYPE_PREFIX } from './normalize.js';

/*
 * FirstPromoter's events on the one affiliate model (rules/README.md, "One affiliate event model",
 * has the table). Sources: docs.firstpromoter.com/webhooks/event-types (classic: "lead_becomes_referral
 * … fires once when a lead makes their first payment"; new_customer "is similar … and fires once
 * per lead on the first payment") and /webhooks-v2/event-types ("commission.updated: … approved,
 * denied. The `changes` field … contains the specific fields that changed"; "payout.updated: …
 * marked as paid"). v2 states are read from `changes` ({ field: [old, new] }) where the event type
 * alone does not say what happened.
 */

/** FirstPromoter's reward and commission statuses, on the canonical ones; others are kept as sent. */
const COMMISSION_STATUSES: Readonly<Record<string, string>> = { pending: 'pending', approved: 'approved', denied: 'voided', paid: 'paid' };

/** v2 payout statuses (the `payout.<status>` event types), on the canonical ones. */
const PAYOUT_STATUSES: Readonly<Record<string, string>> = { pending: 'pending', completed: 'paid', cancelled: 'voided' };

/** The suspicion FirstPromoter gives a lead it does not suspect. */
const NO_SUSPICION = 'no_suspicion';

/** Classic lead event types and what each says about the lead. */
const CLASSIC_LEAD_TYPES: Readonly<Record<string, CanonicalEventType>> = {
  lead_signup: 'affiliate.lead.created',
  // Both fire once, on the lead's first payment; an account subscribed to both gets two events.
  lead_becomes_referral: 'affiliate.lead.converted',
  new_customer: 'affiliate.lead.converted',
  lead_cancelled: 'affiliate.lead.cancelled',
};

type Draft = { -readonly [K in keyof AffiliateFields]: AffiliateFields[K] };

/** FirstPromoter's affiliate normalizer (classic and v2 envelopes). Pure; never throws. */
export const normalizeFirstPromoterAffiliate: AffiliateNormalizer = (event) => {
  const fields: Draft = emptyAffiliateFields(FIRSTPROMOTER_IDENTITY.name);
  const types: CanonicalEventType[] = [];
  const data = readObject(event.data);
  const type = event.providerType;
  // A test delivery carries sample data ({ "test": true }) and fires only rules naming its own type.
  if (type.startsWith(TEST_DELIVERY_TYPE_PREFIX)) return { canonicalTypes: types, affiliate: fields };
  if (type.includes('.')) describeV2(type, data, readObject(event.envelope).changes, fields, types);
  else describeClassic(type, data, fields, types);
  return { canonicalTypes: types, affiliate: fields };
};

function describeClassic(type: string, data: Record<string, unknown>, fields: Draft, types: CanonicalEventType[]): void {
  if (Object.hasOwn(CLASSIC_LEAD_TYPES, type)) {
    fields.lead = { id: readId(data.id), email: readText(data.email) };
    fields.promoter = readPromoter(data.promoter);
    fields.campaign = { name: readText(readObject(data.promotion).campaign_name) };
    fields.fraud = readSuspicion(data.suspicion);
    types.push(CLASSIC_LEAD_TYPES[type] as CanonicalEventType);
    // Suspected when FirstPromoter first tells of the lead; later events of a suspected lead carry
    // `affiliate.fraud` for conditions, without alerting again.
    if (type === 'lead_signup' && fields.fraud !== null) types.push('affiliate.fraud.suspected');
    return;
  }
  switch (type) {
    case 'promoter_signed_up': {
      const promoter = readObject(data.promoter);
      fields.promoter = readPromoter(promoter);
      const promotions = Array.isArray(data.promotions) ? data.promotions : Array.isArray(promoter.promotions) ? promoter.promotions : [];
      fields.campaign = { name: readText(readObject(promotions[0]).campaign_name) };
      types.push('affiliate.promoter.created');
      return;
    }
    case 'promoter_accepted':
      fields.promoter = readPromoter(data.promoter);
      fields.campaign = { name: readText(readObject(data.campaign).name) ?? readText(readObject(data.promotion).campaign_name) };
      types.push('affiliate.promoter.approved');
      return;
    case 'reward_created': {
      const lead = readObject(data.lead);
      fields.commission = buildAmount(data.id, data.amount, data.unit, mapStatus(data.status, COMMISSION_STATUSES));
      fields.lead = { id: readId(lead.id), email: readText(lead.email) };
      fields.promoter = readPromoter(data.promoter);
      fields.campaign = { name: readText(readObject(data.promotion).campaign_name) };
      fields.fraud = readSuspicion(lead.suspicion);
      types.push('affiliate.commission.created');
      // Classic webhooks announce no approval: an auto-approved reward is approved as it is created.
      if (fields.commission.status === 'approved') types.push('affiliate.commission.approved');
      return;
    }
    case 'fulfilment_pending':
      // A non-monetary reward waiting for fulfilment: no canonical type, but its fields are there.
      fields.commission = buildAmount(data.id, data.amount, data.unit, mapStatus(data.status, COMMISSION_STATUSES));
      fields.promoter = readPromoter(data.promoter);
      fields.campaign = { name: readText(readObject(data.campaign).name) };
      return;
    default:
      return;
  }
}

function describeV2(type: string, data: Record<string, unknown>, changes: unknown, fields: Draft, types: CanonicalEventType[]): void {
  const entity = type.startsWith('payout.commissions.') ? 'payout.commissions' : type.slice(0, type.indexOf('.'));
  const action = type.slice(entity.length + 1);
  switch (entity) {
    case 'promoter':
      fields.promoter = readPromoter(data);
      if (action === 'created') types.push('affiliate.promoter.created');
      return;
    case 'promoter_campaign': {
      // A PromoterCampaign (api-reference-v2 promoter-campaigns OpenAPI): `promoter { id, email,
      // name }`, `campaign { id, name }`, `state` pending | accepted | rejected | blocked | inactive.
      const promoter = readPromoter(data.promoter);
      fields.promoter = { ...promoter, id: promoter.id ?? readId(data.promoter_id) };
      fields.campaign = { name: readText(readObject(data.campaign).name) };
      if (action === 'accepted' || (action === 'updated' && readChangedTo(changes, 'state') === 'accepted')) types.push('affiliate.promoter.approved');
      return;
    }
    case 'referral': {
      fields.lead = { id: readId(data.id), email: readText(data.email) };
      fields.promoter = readPromoter(data.promoter);
      fields.fraud = readSuspicion(data.fraud_check ?? data.suspicion);
      if (action === 'created') {
        types.push('affiliate.lead.created');
        if (fields.fraud !== null) types.push('affiliate.fraud.suspected');
      } else if (action === 'converted') types.push('affiliate.lead.converted');
      else if (action === 'cancelled') types.push('affiliate.lead.cancelled');
      else if (action === 'updated') {
        const state = readChangedTo(changes, 'state');
        if (state === 'active') types.push('affiliate.lead.converted');
        else if (state === 'cancelled') types.push('affiliate.lead.cancelled');
        if (readSuspicion(readChangedTo(changes, 'fraud_check')) !== null) types.push('affiliate.fraud.suspected');
      }
      return;
    }
    case 'commission': {
      const referral = readObject(data.referral);
      // The API's commission links its promoter and campaign through `promoter_campaign`.
      const promoterCampaign = readObject(data.promoter_campaign);
      fields.commission = buildAmount(data.id, data.amount, data.unit, mapStatus(data.status, COMMISSION_STATUSES));
      fields.lead = { id: readId(referral.id), email: readText(referral.email) };
      fields.promoter = readPromoter(data.promoter ?? promoterCampaign.promoter);
      fields.campaign = { name: readText(readObject(promoterCampaign.campaign).name) };
      const byAction: Readonly<Record<string, CanonicalEventType>> = {
        approved: 'affiliate.commission.approved',
        denied: 'affiliate.commission.voided',
      };
      if (action === 'created') {
        types.push('affiliate.commission.created');
        if (fields.commission.status === 'approved') types.push('affiliate.commission.approved');
      } else if (Object.hasOwn(byAction, action)) types.push(byAction[action] as CanonicalEventType);
      else if (action === 'updated') {
        const status = mapStatus(readChangedTo(changes, 'status'), COMMISSION_STATUSES);
        if (status === 'approved' || status === 'paid' || status === 'voided') types.push(`affiliate.commission.${status}`);
      }
      return;
    }
    case 'payout':
      fields.payout = buildAmount(data.id, data.amount, data.unit, mapStatus(data.status, PAYOUT_STATUSES));
      fields.promoter = readPromoter(data.promoter);
      if (action === 'completed' || (action === 'updated' && mapStatus(readChangedTo(changes, 'status'), PAYOUT_STATUSES) === 'paid')) {
        types.push('affiliate.payout.paid');
      }
      return;
    case 'contract_document':
      fields.promoter = { ...fields.promoter, id: readId(data.promoter_id) };
      return;
    default:
      // payout.commissions, payout_method, payments_batch: nothing documented to map.
      return;
  }
}

/** A classic promoter object (name in `profile`) or a v2 one (`name`, or its profile's). */
function readPromoter(value: unknown): AffiliateFields['promoter'] {
  const promoter = readObject(value);
  const profile = readObject(promoter.profile);
  return {
    id: readId(promoter.id),
    email: readText(promoter.email),
    name: readText(promoter.name) ?? joinName(profile.first_name, profile.last_name),
  };
}

/** The suspicion, or null for `no_suspicion` and a missing one. */
function readSuspicion(value: unknown): string | null {
  const suspicion = readText(value);
  return suspicion === null || suspicion === NO_SUSPICION ? null : suspicion;
}
