import { expect } from 'chai';
import { isPlannedDespiteHolder } from '../../../src/reconcile/ledger.js';
import { buildReconciledEventId, findGaps, type ObjectKind, type SourceReconciliation } from '../../../src/reconcile/reconciliation.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import type { Source } from '../../../src/sources/source.js';
import { fakeFirstPromoterCommission, fakeFirstPromoterReferral } from '../../fakes/firstpromoter-fake.js';
import { fakeRewardfulCommission, fakeRewardfulReferral } from '../../fakes/rewardful-fake.js';

const { firstpromoter, rewardful } = sourceRegistry as Record<'firstpromoter' | 'rewardful', Source>;
const window = { since: new Date('2026-01-10T00:00:00Z'), until: new Date('2026-01-12T00:00:00Z') };
const inWindow = '2026-01-11T08:00:00.000Z';
const beforeWindow = '2026-01-01T08:00:00.000Z';

function kindOf(source: Source, kind: string): ObjectKind<unknown> {
  return (source.reconciliation as SourceReconciliation<unknown>).kinds.find((candidate) => candidate.kind === kind)!;
}

/** Synthesizes the milestone's delivery and normalizes it with the source's own normalizer. */
function synthesize(source: Source, kind: string, object: Record<string, unknown>) {
  const [gap] = findGaps(kindOf(source, kind), [object], new Map(), { since: new Date(0), until: new Date('2100-01-01') }).slice(-1);
  const delivery = source.reconciliation!.synthesizeDelivery(kind, object, gap!.milestone, gap!.providerEventId);
  return source.normalize(delivery, { receivedAt: new Date(inWindow), strippedFields: source.strippedFields });
}

describe('reconciliation: milestones, gaps and synthesized events', () => {
  describe('findGaps', () => {
    const referrals = kindOf(firstpromoter, 'referral');

    it('lists every milestone of an object the ledger never saw, with ids derived from object and milestone', () => {
      const referral = fakeFirstPromoterReferral({ id: 41, created_at: inWindow, customer_since: inWindow, state: 'active' });
      const gaps = findGaps(referrals, [referral], new Map(), window);
      expect(gaps.map((gap) => [gap.milestone.providerType, gap.providerEventId])).to.deep.equal([
        ['referral.created', 'reconciled.referral.41.created'],
        ['referral.converted', 'reconciled.referral.41.converted'],
      ]);
    });

    it('leaves out what the ledger holds, and milestones dated outside the window', () => {
      const seenBoth = fakeFirstPromoterReferral({ id: 42, created_at: inWindow, customer_since: inWindow });
      const convertedNow = fakeFirstPromoterReferral({ id: 43, created_at: beforeWindow, customer_since: inWindow });
      const gaps = findGaps(referrals, [seenBoth, convertedNow], new Map([['42', new Set(['created', 'converted'])]]), window);
      expect(gaps.map((gap) => gap.providerEventId)).to.deep.equal(['reconciled.referral.43.converted']);
    });

    it('skips an object whose id cannot be part of an event id', () => {
      const odd = fakeFirstPromoterReferral({ id: 'a:b', created_at: inWindow });
      expect(findGaps(referrals, [odd], new Map(), window)).to.deep.equal([]);
    });

    it('derives ids that no webhook id can take (integers, UUIDs, test-…)', () => {
      expect(buildReconciledEventId('commission', '7', 'approved')).to.equal('reconciled.commission.7.approved');
      expect(buildReconciledEventId('referral', '7', 'created')).to.not.match(/^([0-9]+|[0-9a-f-]{36}|test-.*)$/);
    });
  });

  describe('milestones per provider object', () => {
    const table: ReadonlyArray<readonly [Source, string, Record<string, unknown>, string[]]> = [
      [firstpromoter, 'referral', fakeFirstPromoterReferral({ created_at: inWindow }), ['referral.created']],
      [firstpromoter, 'referral', fakeFirstPromoterReferral({ created_at: inWindow, customer_since: inWindow, state: 'active' }), ['referral.created', 'referral.converted']],
      [firstpromoter, 'referral', fakeFirstPromoterReferral({ created_at: inWindow, customer_since: inWindow, state: 'cancelled' }), ['referral.created', 'referral.converted', 'referral.cancelled']],
      [firstpromoter, 'commission', fakeFirstPromoterCommission({ status: 'approved' }), ['commission.created', 'commission.approved']],
      [firstpromoter, 'commission', fakeFirstPromoterCommission({ status: 'denied' }), ['commission.created', 'commission.denied']],
      [firstpromoter, 'payout', { id: 5, status: 'completed', created_at: inWindow, paid_at: inWindow }, ['payout.created', 'payout.completed']],
      [rewardful, 'referral', fakeRewardfulReferral({ became_lead_at: inWindow, became_conversion_at: inWindow }), ['referral.created', 'referral.lead', 'referral.converted']],
      [rewardful, 'commission', fakeRewardfulCommission({ state: 'paid', paid_at: inWindow }), ['commission.created', 'commission.paid']],
      [rewardful, 'commission', fakeRewardfulCommission({ state: 'voided', voided_at: inWindow }), ['commission.created', 'commission.voided']],
      [rewardful, 'affiliate', { id: 'aff-1', created_at: inWindow, confirmed_at: inWindow }, ['affiliate.created', 'affiliate.confirmed']],
      [rewardful, 'payout', { id: 'pay-1', created_at: inWindow, paid_at: inWindow, state: 'paid' }, ['payout.created', 'payout.paid']],
    ];
    for (const [source, kind, object, types] of table) {
      it(`${source.name} ${kind} ${JSON.stringify(types)}`, () => {
        expect(kindOf(source, kind).milestones(object).map((milestone) => milestone.providerType)).to.deep.equal(types);
      });
    }
  });

  describe('synthesized deliveries are what the webhook would carry', () => {
    const cases: ReadonlyArray<readonly [Source, string, Record<string, unknown>, string]> = [
      [firstpromoter, 'referral', fakeFirstPromoterReferral({ id: 77, customer_since: inWindow, state: 'active' }), 'firstpromoter.referral.converted'],
      [firstpromoter, 'commission', fakeFirstPromoterCommission({ id: 78, status: 'approved' }), 'firstpromoter.commission.approved'],
      [rewardful, 'referral', fakeRewardfulReferral({ id: '5c9e1f6a-3d2b-4c7e-9a1f-0b2c3d4e5f60', became_conversion_at: inWindow }), 'rewardful.referral.converted'],
      [rewardful, 'commission', fakeRewardfulCommission({ id: '6d0f2a7b-4e3c-4d8f-8b2a-1c3d4e5f6071', state: 'paid', paid_at: inWindow }), 'rewardful.commission.paid'],
    ];
    for (const [source, kind, object, type] of cases) {
      it(`${type}: the source's normalizer reads it, its schema passes, and it records the milestone it announces`, () => {
        const event = synthesize(source, kind, object);
        expect(event.type).to.equal(type);
        expect(event.id).to.equal(`${source.name}-reconciled.${kind}.${String(object.id)}.${type.slice(type.lastIndexOf('.') + 1)}`);
        expect(event.status).to.equal('valid');
        expect(source.checkSchema(event)).to.deep.equal([]);
        expect(event.data).to.deep.equal(object);
        expect(source.reconciliation!.ledgerEntryOf(event)).to.deep.equal({ kind, objectId: String(object.id), state: type.slice(type.lastIndexOf('.') + 1) });
      });
    }
  });

  it('a FirstPromoter promoter\'s password_setup_url, which the API lists and the webhook does not carry, is never stored', () => {
    const promoter = { id: 12, email: 'p@example.com', name: 'P', joined_at: inWindow, password_setup_url: 'https://app.example.com/setup?token=abc' };
    const event = synthesize(firstpromoter, 'promoter', promoter);
    expect(event.type).to.equal('firstpromoter.promoter.created');
    expect(JSON.stringify(event)).to.not.contain('password_setup_url').and.not.contain('token=abc');
  });

  describe('which webhook events record a milestone', () => {
    const fpEvent = (providerType: string, data: Record<string, unknown>) =>
      ({ id: 'firstpromoter-1', source: 'firstpromoter', type: `firstpromoter.${providerType}`, providerType, occurredAt: inWindow, receivedAt: inWindow, status: 'valid', data }) as const;
    it('a classic lead_signup records its lead as a referral created, new_customer as converted', () => {
      expect(firstpromoter.reconciliation!.ledgerEntryOf(fpEvent('lead_signup', { id: 9 }))).to.deep.equal({ kind: 'referral', objectId: '9', state: 'created' });
      expect(firstpromoter.reconciliation!.ledgerEntryOf(fpEvent('new_customer', { id: 9 }))).to.deep.equal({ kind: 'referral', objectId: '9', state: 'converted' });
      expect(firstpromoter.reconciliation!.ledgerEntryOf(fpEvent('promoter_signed_up', { promoter: { id: 3 } }))).to.deep.equal({ kind: 'promoter', objectId: '3', state: 'created' });
    });
    it('types that announce no milestone record nothing (updates, test deliveries, fulfilment checks)', () => {
      for (const type of ['referral.updated', 'test.referral.created', 'fulfilment_pending', 'promoter_campaign.accepted']) {
        expect(firstpromoter.reconciliation!.ledgerEntryOf(fpEvent(type, { id: 9 })), type).to.equal(null);
      }
    });
  });

  describe('isPlannedDespiteHolder', () => {
    const claim = (isFirst: boolean, origin: 'webhook' | 'reconciled') => ({ isFirst, heldBy: { eventId: 'e0', origin } });
    const table = [
      ['the first event of a milestone', { origin: 'webhook' }, claim(true, 'webhook'), true],
      ['a second webhook of one milestone (both FirstPromoter envelopes)', { origin: 'webhook' }, claim(false, 'webhook'), true],
      ['a webhook arriving after reconciliation recovered it', { origin: 'webhook' }, claim(false, 'reconciled'), false],
      ['a reconciled event after the webhook', { origin: 'reconciled' }, claim(false, 'webhook'), false],
      ['a reconciled event after another reconciled one', { origin: 'reconciled' }, claim(false, 'reconciled'), false],
    ] as const;
    for (const [name, event, held, expected] of table) {
      it(`${name}: ${expected ? 'planned' : 'not planned'}`, () => expect(isPlannedDespiteHolder(event, held)).to.equal(expected));
    }
  });
});
