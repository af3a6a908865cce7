import type { Secret } from '../../secret.js';
import { readObjectId, readTime, type Milestone, type ObjectKind, type SourceReconciliation } from '../../reconcile/reconciliation.js';
import { RewardfulApi } from './api-client.js';

/*
 * What Rewardful's webhooks announce, milestone by milestone (developers.rewardful.com/webhooks/event-types),
 * and how an API object shows that it has reached one. The webhook's `object` is "identical in
 * structure to the REST API representation" (webhooks/requests), so a synthesized event carries
 * the object as listed.
 */

/** Types that announce a milestone, by object kind: the type's action is the milestone. */
const MILESTONE_TYPES: Readonly<Record<string, readonly string[]>> = {
  referral: ['created', 'lead', 'converted'],
  commission: ['created', 'paid', 'voided'],
  affiliate: ['created', 'confirmed'],
  payout: ['created', 'paid', 'failed'],
};

function milestone(kind: string, state: string, at: string | null): Milestone {
  return { state, providerType: `${kind}.${state}`, at };
}

/** A kind whose milestones are each marked by a timestamp field of the object. */
function timestampedKind(kind: string, path: string, marks: Readonly<Record<string, string>>, expand: readonly string[] = []): ObjectKind<RewardfulApi> {
  return {
    kind,
    list: (api, window) => api.listCreatedSince(path, window, expand),
    idOf: (object) => readObjectId(object.id),
    milestones(object) {
      const reached = [milestone(kind, 'created', readTime(object, 'created_at'))];
      for (const [state, field] of Object.entries(marks)) {
        const at = readTime(object, field);
        if (at !== null) reached.push(milestone(kind, state, at));
      }
      return reached;
    },
  };
}

const payouts: ObjectKind<RewardfulApi> = {
  kind: 'payout',
  list: (api, window) => api.listCreatedSince('/payouts', window),
  idOf: (object) => readObjectId(object.id),
  milestones(object) {
    const reached = [milestone('payout', 'created', readTime(object, 'created_at'))];
    const paidAt = readTime(object, 'paid_at');
    if (paidAt !== null) reached.push(milestone('payout', 'paid', paidAt));
    // A failed payout carries no failure time: its last update stands in.
    if (object.state === 'failed') reached.push(milestone('payout', 'failed', readTime(object, 'updated_at')));
    return reached;
  },
};

/** Rewardful's reconciliation, declared by its source descriptor. */
export const rewardfulReconciliation: SourceReconciliation<RewardfulApi> = {
  credentials: ['REWARDFUL_API_SECRET'],
  connect: (settings, runtime) =>
    new RewardfulApi({ apiSecret: settings.REWARDFUL_API_SECRET as Secret, baseUrl: settings.REWARDFUL_API_URL as string }, runtime),
  kinds: [
    timestampedKind('referral', '/referrals', { lead: 'became_lead_at', converted: 'became_conversion_at' }, ['affiliate']),
    timestampedKind('commission', '/commissions', { paid: 'paid_at', voided: 'voided_at' }, ['sale', 'campaign']),
    timestampedKind('affiliate', '/affiliates', { confirmed: 'confirmed_at' }),
    payouts,
  ],
  ledgerEntryOf(event) {
    const dot = event.providerType.indexOf('.');
    const kind = event.providerType.slice(0, dot);
    const action = event.providerType.slice(dot + 1);
    if (dot < 0 || !Object.hasOwn(MILESTONE_TYPES, kind) || !MILESTONE_TYPES[kind]!.includes(action)) return null;
    const objectId = readObjectId(event.data.id);
    return objectId === null ? null : { kind, objectId, state: action };
  },
  synthesizeDelivery(_kind, object, reached, providerEventId) {
    // The webhook envelope (webhooks/requests): `event` with id, type, created_at and the API
    // version the object follows (the client reads v1), and the object. No `request`: none was made.
    return { event: { id: providerEventId, type: reached.providerType, created_at: reached.at, api_version: 'v1' }, object };
  },
};
