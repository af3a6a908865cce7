import type { Secret } from '../../secret.js';
import { readObjectId, readTime, type Milestone, type ObjectKind, type SourceReconciliation } from '../../reconcile/reconciliation.js';
import { isJsonObject } from '../schema-fields.js';
import { FirstPromoterApi } from './api-client.js';

/*
 * What FirstPromoter's webhooks announce, milestone by milestone, and how an API object shows that
 * it has reached one. Events are synthesized in the Webhooks v2 envelope: its `data` is "the full
 * serialized state of the resource" (webhooks-v2/payload.mdx), which is what the v2 API lists, so a
 * synthesized event carries what the webhook would have. The classic types that announce the same
 * milestones (`lead_signup`, `new_customer`, …) record them in the ledger too, so an account on
 * classic webhooks is reconciled against them; its reconciled events then come as v2 types (rules
 * on the canonical `affiliate.*` types cover both).
 */

const v2 = (entity: string, action: string) => `${entity}.${action}`;

/**
 * Fields the API lists that the webhook does not carry and that must never be stored: a promoter's
 * `password_setup_url` ("URL for the promoter to set up their password", openapi-v2-promoters.json
 * `PromoterListItem`) lets whoever holds it set that promoter's password.
 */
const API_ONLY_SECRET_FIELDS: Readonly<Record<string, readonly string[]>> = { promoter: ['password_setup_url'] };

/** Classic types and the milestone they announce (a lead is a v2 referral, a reward a commission). */
const CLASSIC_MILESTONES: Readonly<Record<string, { kind: string; state: string; idPath: 'id' | 'promoter.id' }>> = {
  lead_signup: { kind: 'referral', state: 'created', idPath: 'id' },
  new_customer: { kind: 'referral', state: 'converted', idPath: 'id' },
  lead_cancelled: { kind: 'referral', state: 'cancelled', idPath: 'id' },
  reward_created: { kind: 'commission', state: 'created', idPath: 'id' },
  promoter_signed_up: { kind: 'promoter', state: 'created', idPath: 'promoter.id' },
};

/** v2 types that announce a milestone, by entity: the type's action is the milestone. */
const V2_MILESTONES: Readonly<Record<string, readonly string[]>> = {
  referral: ['created', 'converted', 'cancelled'],
  commission: ['created', 'approved', 'denied'],
  promoter: ['created'],
  payout: ['created', 'completed', 'failed'],
};

function milestone(kind: string, state: string, at: string | null): Milestone {
  return { state, providerType: v2(kind, state), at };
}

const referrals: ObjectKind<FirstPromoterApi> = {
  kind: 'referral',
  list: (api, window) => api.listReferrals(window),
  idOf: (object) => readObjectId(object.id),
  milestones(object) {
    const reached = [milestone('referral', 'created', readTime(object, 'created_at'))];
    // A referral becomes a customer once: `customer_since` is set from then on (openapi-v2-referrals.json).
    const customerSince = readTime(object, 'customer_since');
    if (customerSince !== null) reached.push(milestone('referral', 'converted', customerSince));
    if (object.state === 'cancelled') reached.push(milestone('referral', 'cancelled', readTime(object, 'cancelled_at')));
    return reached;
  },
};

const commissions: ObjectKind<FirstPromoterApi> = {
  kind: 'commission',
  list: (api, window) => api.listCommissions(window),
  idOf: (object) => readObjectId(object.id),
  milestones(object) {
    const reached = [milestone('commission', 'created', readTime(object, 'created_at'))];
    // `status` is pending, approved or denied; `status_updated_at` is when it last changed.
    if (object.status === 'approved' || object.status === 'denied') {
      reached.push(milestone('commission', object.status, readTime(object, 'status_updated_at')));
    }
    return reached;
  },
};

const promoters: ObjectKind<FirstPromoterApi> = {
  kind: 'promoter',
  list: (api, window) => api.listPromoters(window),
  idOf: (object) => readObjectId(object.id),
  milestones: (object) => [milestone('promoter', 'created', readTime(object, 'joined_at') ?? readTime(object, 'created_at'))],
};

const payouts: ObjectKind<FirstPromoterApi> = {
  kind: 'payout',
  list: (api, window) => api.listPayouts(window),
  idOf: (object) => readObjectId(object.id),
  milestones(object) {
    const reached = [milestone('payout', 'created', readTime(object, 'created_at'))];
    if (object.status === 'completed') reached.push(milestone('payout', 'completed', readTime(object, 'paid_at')));
    if (object.status === 'failed') reached.push(milestone('payout', 'failed', readTime(object, 'failed_at')));
    return reached;
  },
};

/** FirstPromoter's reconciliation, declared by its source descriptor. */
export const firstPromoterReconciliation: SourceReconciliation<FirstPromoterApi> = {
  credentials: ['FIRSTPROMOTER_API_KEY', 'FIRSTPROMOTER_ACCOUNT_ID'],
  connect: (settings, runtime) =>
    new FirstPromoterApi(
      {
        apiKey: settings.FIRSTPROMOTER_API_KEY as Secret,
        accountId: settings.FIRSTPROMOTER_ACCOUNT_ID as string,
        baseUrl: settings.FIRSTPROMOTER_API_URL as string,
      },
      runtime,
    ),
  kinds: [referrals, commissions, promoters, payouts],
  ledgerEntryOf(event) {
    const classic = CLASSIC_MILESTONES[event.providerType];
    if (classic && Object.hasOwn(CLASSIC_MILESTONES, event.providerType)) {
      const holder = classic.idPath === 'id' ? event.data : event.data.promoter;
      const objectId = isJsonObject(holder) ? readObjectId(holder.id) : null;
      return objectId === null ? null : { kind: classic.kind, objectId, state: classic.state };
    }
    const dot = event.providerType.indexOf('.');
    const entity = event.providerType.slice(0, dot);
    const action = event.providerType.slice(dot + 1);
    if (dot < 0 || !Object.hasOwn(V2_MILESTONES, entity) || !V2_MILESTONES[entity]!.includes(action)) return null;
    const objectId = readObjectId(event.data.id) ?? readObjectId(event.envelope?.entity_id);
    return objectId === null ? null : { kind: entity, objectId, state: action };
  },
  synthesizeDelivery(kind, object, reached, providerEventId) {
    // The v2 envelope (webhooks-v2/payload.mdx): `action` is one of created, updated, deleted;
    // `changes` is empty for created and lists old and new values for updated, which the API's
    // current state cannot tell: it is left empty.
    return {
      event_id: providerEventId,
      event_type: reached.providerType,
      action: reached.state === 'created' ? 'created' : 'updated',
      entity_type: kind,
      entity_id: object.id,
      changes: {},
      data: withoutFields(object, API_ONLY_SECRET_FIELDS[kind] ?? []),
      timestamp: reached.at,
    };
  },
};

function withoutFields(object: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  if (fields.length === 0) return object;
  return Object.fromEntries(Object.entries(object).filter(([key]) => !fields.includes(key)));
}
