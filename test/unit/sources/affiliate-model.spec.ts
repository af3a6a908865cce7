import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { affiliateFieldsSchema, CANONICAL_EVENT_TYPES, emptyAffiliateFields, type AffiliateFields } from '../../../src/events/affiliate.js';
import type { BridgeEvent } from '../../../src/events/event.js';
import { buildEventFromPayload } from '../../../src/rules/tooling/event-from-payload.js';
import { normalizeFirstPromoterAffiliate } from '../../../src/sources/firstpromoter/affiliate.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { normalizeRewardfulAffiliate } from '../../../src/sources/rewardful/affiliate.js';
import { defineSource, type Source } from '../../../src/sources/source.js';

const DELIVERIES = 'test/fixtures/deliveries';
const RECEIVED_AT = new Date('2025-03-01T00:00:00.000Z');

function readDelivery(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(`${DELIVERIES}/${path}`, 'utf8')) as Record<string, unknown>;
}

function eventOf(path: string): BridgeEvent {
  return buildEventFromPayload(readDelivery(path), { normalizers: sourceRegistry, source: path.slice(0, path.indexOf('/')), receivedAt: RECEIVED_AT });
}

/** Every fixture of both providers and the canonical types it must get (the mapping table of rules/README.md). */
const expectedCanonicalTypes: Readonly<Record<string, readonly string[]>> = {
  // FirstPromoter, classic envelope
  'firstpromoter/lead_signup.json': ['affiliate.lead.created'],
  'firstpromoter/lead_signup.self_referral.json': ['affiliate.lead.created', 'affiliate.fraud.suspected'],
  'firstpromoter/lead_becomes_referral.json': ['affiliate.lead.converted'],
  'firstpromoter/new_customer.json': ['affiliate.lead.converted'],
  'firstpromoter/lead_cancelled.json': ['affiliate.lead.cancelled'],
  'firstpromoter/promoter_signed_up.json': ['affiliate.promoter.created'],
  'firstpromoter/promoter_accepted.json': ['affiliate.promoter.approved'],
  'firstpromoter/reward_created.json': ['affiliate.commission.created', 'affiliate.commission.approved'],
  'firstpromoter/fulfilment_pending.json': [],
  // FirstPromoter, Webhooks v2
  'firstpromoter/promoter.created.json': ['affiliate.promoter.created'],
  'firstpromoter/promoter.updated.json': [],
  'firstpromoter/promoter.deleted.json': [],
  'firstpromoter/promoter.profile.updated.json': [],
  'firstpromoter/promoter.balance.updated.json': [],
  'firstpromoter/promoter_campaign.created.json': [],
  'firstpromoter/promoter_campaign.updated.json': ['affiliate.promoter.approved'],
  'firstpromoter/promoter_campaign.deleted.json': [],
  'firstpromoter/promoter_campaign.accepted.json': ['affiliate.promoter.approved'],
  'firstpromoter/promoter_campaign.pending.json': [],
  'firstpromoter/promoter_campaign.rejected.json': [],
  'firstpromoter/promoter_campaign.blocked.json': [],
  'firstpromoter/promoter_campaign.inactive.json': [],
  'firstpromoter/referral.created.json': ['affiliate.lead.created'],
  'firstpromoter/referral.created.self_referral.json': ['affiliate.lead.created', 'affiliate.fraud.suspected'],
  'firstpromoter/referral.updated.json': ['affiliate.lead.converted'],
  'firstpromoter/referral.deleted.json': [],
  'firstpromoter/referral.moved.json': [],
  'firstpromoter/referral.converted.json': ['affiliate.lead.converted'],
  'firstpromoter/referral.cancelled.json': ['affiliate.lead.cancelled'],
  'firstpromoter/commission.created.json': ['affiliate.commission.created'],
  'firstpromoter/commission.updated.json': ['affiliate.commission.approved'],
  'firstpromoter/commission.deleted.json': [],
  'firstpromoter/commission.approved.json': ['affiliate.commission.approved'],
  'firstpromoter/commission.pending.json': [],
  'firstpromoter/commission.denied.json': ['affiliate.commission.voided'],
  'firstpromoter/payout.created.json': [],
  'firstpromoter/payout.updated.json': ['affiliate.payout.paid'],
  'firstpromoter/payout.deleted.json': [],
  'firstpromoter/payout.pending.json': [],
  'firstpromoter/payout.processing.json': [],
  'firstpromoter/payout.completed.json': ['affiliate.payout.paid'],
  'firstpromoter/payout.failed.json': [],
  'firstpromoter/payout.cancelled.json': [],
  'firstpromoter/payout.commissions.created.json': [],
  'firstpromoter/payout.commissions.updated.json': [],
  'firstpromoter/payout.commissions.deleted.json': [],
  'firstpromoter/payout.commissions.added.json': [],
  'firstpromoter/payout.commissions.removed.json': [],
  'firstpromoter/payout_method.created.json': [],
  'firstpromoter/payout_method.updated.json': [],
  'firstpromoter/payout_method.deleted.json': [],
  'firstpromoter/payments_batch.created.json': [],
  'firstpromoter/payments_batch.updated.json': [],
  'firstpromoter/payments_batch.deleted.json': [],
  'firstpromoter/payments_batch.initiated.json': [],
  'firstpromoter/payments_batch.processing.json': [],
  'firstpromoter/payments_batch.completed.json': [],
  'firstpromoter/payments_batch.failed.json': [],
  'firstpromoter/contract_document.signed.json': [],
  // Rewardful
  'rewardful/affiliate.created.json': ['affiliate.promoter.created'],
  'rewardful/affiliate.confirmed.json': [],
  'rewardful/affiliate.updated.json': [],
  'rewardful/affiliate.deleted.json': [],
  'rewardful/affiliate_link.created.json': [],
  'rewardful/affiliate_link.updated.json': [],
  'rewardful/affiliate_link.deleted.json': [],
  'rewardful/affiliate_coupon.created.json': [],
  'rewardful/affiliate_coupon.updated.json': [],
  'rewardful/affiliate_coupon.activated.json': [],
  'rewardful/affiliate_coupon.deactivated.json': [],
  'rewardful/affiliate_coupon.deleted.json': [],
  'rewardful/referral.created.json': [],
  'rewardful/referral.lead.json': ['affiliate.lead.created'],
  'rewardful/referral.converted.json': ['affiliate.lead.converted'],
  'rewardful/referral.deleted.json': [],
  'rewardful/sale.created.json': [],
  'rewardful/sale.updated.json': [],
  'rewardful/sale.refunded.json': [],
  'rewardful/sale.deleted.json': [],
  'rewardful/commission.created.json': ['affiliate.commission.created'],
  'rewardful/commission.updated.json': [],
  'rewardful/commission.paid.json': ['affiliate.commission.paid'],
  'rewardful/commission.voided.json': ['affiliate.commission.voided'],
  'rewardful/commission.deleted.json': [],
  'rewardful/payout.created.json': [],
  'rewardful/payout.updated.json': [],
  'rewardful/payout.due.json': [],
  'rewardful/payout.paid.json': ['affiliate.payout.paid'],
  'rewardful/payout.failed.json': [],
  'rewardful/payout.deleted.json': [],
};

const none = { id: null, amount_cents: null, currency: null, status: null };

/** The normalized fields of one fixture per kind of object, in full. */
const expectedFields: Readonly<Record<string, AffiliateFields>> = {
  'firstpromoter/lead_signup.self_referral.json': {
    provider: 'firstpromoter',
    lead: { id: '21381702', email: 'jane.smith+trial@example.com' },
    promoter: { id: '3920164', email: 'promoter@example.com', name: 'Jane Smith' },
    commission: none,
    payout: none,
    campaign: { name: 'Main Campaign' },
    fraud: 'self_referral',
  },
  'firstpromoter/reward_created.json': {
    provider: 'firstpromoter',
    lead: { id: '21381518', email: 'customer@example.com' },
    promoter: { id: '5779418', email: 'promoter@example.com', name: 'Ulysses Watson' },
    commission: { id: '11174868', amount_cents: 200, currency: 'cash', status: 'approved' },
    payout: none,
    campaign: { name: 'Main Campaign' },
    fraud: null,
  },
  'firstpromoter/promoter_accepted.json': {
    provider: 'firstpromoter',
    lead: { id: null, email: null },
    promoter: { id: '9000754', email: 'promoter@example.com', name: 'Cooper Faulkner' },
    commission: none,
    payout: none,
    campaign: { name: 'Main Campaign' },
    fraud: null,
  },
  'firstpromoter/commission.denied.json': {
    provider: 'firstpromoter',
    lead: { id: '55678', email: 'user@example.com' },
    promoter: { id: null, email: null, name: null },
    commission: { id: '88901', amount_cents: 2500, currency: 'cash', status: 'voided' },
    payout: none,
    campaign: { name: null },
    fraud: null,
  },
  'firstpromoter/promoter_campaign.accepted.json': {
    provider: 'firstpromoter',
    lead: { id: null, email: null },
    promoter: { id: '12345', email: 'jane@example.com', name: 'Jane Smith' },
    commission: none,
    payout: none,
    campaign: { name: 'Main Campaign' },
    fraud: null,
  },
  'firstpromoter/payout.completed.json': {
    provider: 'firstpromoter',
    lead: { id: null, email: null },
    promoter: { id: null, email: null, name: null },
    commission: none,
    payout: { id: '3301', amount_cents: 7500, currency: 'cash', status: 'paid' },
    campaign: { name: null },
    fraud: null,
  },
  'rewardful/commission.created.json': {
    provider: 'rewardful',
    lead: { id: 'e523da29-6157-4aac-b4b5-05b3b7b14fb6', email: 'fred.durst@example.com' },
    promoter: { id: 'dc939584-a94a-4bdf-b8f4-8d255aae729c', email: 'james.bond@example.com', name: 'James Bond' },
    commission: { id: '7d2886ca-8764-4e43-9230-013ad00037e7', amount_cents: 750, currency: 'USD', status: 'pending' },
    payout: none,
    campaign: { name: 'Friends of MI6' },
    fraud: null,
  },
  'rewardful/commission.updated.json': {
    provider: 'rewardful',
    lead: { id: 'e523da29-6157-4aac-b4b5-05b3b7b14fb6', email: 'fred.durst@example.com' },
    promoter: { id: 'dc939584-a94a-4bdf-b8f4-8d255aae729c', email: 'james.bond@example.com', name: 'James Bond' },
    // Rewardful's `due` (payable) is the canonical `approved`.
    commission: { id: '7d2886ca-8764-4e43-9230-013ad00037e7', amount_cents: 750, currency: 'USD', status: 'approved' },
    payout: none,
    campaign: { name: 'Friends of MI6' },
    fraud: null,
  },
  'rewardful/payout.paid.json': {
    provider: 'rewardful',
    lead: { id: null, email: null },
    promoter: { id: 'dc939584-a94a-4bdf-b8f4-8d255aae729c', email: 'james.bond@example.com', name: 'James Bond' },
    commission: none,
    payout: { id: '3b03791a-3fb5-4bd6-8ec3-614c9fd978ca', amount_cents: 750, currency: 'USD', status: 'paid' },
    campaign: { name: null },
    fraud: null,
  },
  'rewardful/referral.created.json': {
    provider: 'rewardful',
    // A visitor: the referral has no customer yet.
    lead: { id: '3aafa13f-0a41-43d2-8d3a-a14e8c6a4621', email: null },
    promoter: { id: 'dc939584-a94a-4bdf-b8f4-8d255aae729c', email: 'james.bond@example.com', name: 'James Bond' },
    commission: none,
    payout: none,
    campaign: { name: 'Friends of MI6' },
    fraud: null,
  },
  'rewardful/affiliate_coupon.created.json': {
    provider: 'rewardful',
    lead: { id: null, email: null },
    promoter: { id: 'dc939584-a94a-4bdf-b8f4-8d255aae729c', email: null, name: null },
    commission: none,
    payout: none,
    campaign: { name: null },
    fraud: null,
  },
};

const fixtureFiles = ['firstpromoter', 'rewardful'].flatMap((source) =>
  readdirSync(`${DELIVERIES}/${source}`)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => `${source}/${name}`),
);

/** Every string under a key named like an email address field, at any depth. */
function collectEmails(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) collectEmails(item, found);
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (/email$/.test(key) && typeof item === 'string' && item !== '') found.push(item);
      else collectEmails(item, found);
    }
  }
  return found;
}

// One local part, one domain with a dot: what a mail server (and HubSpot) accepts; the scraped
// "[email protected]" has a space-like character and no domain.
const PLAIN_ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;

describe('one affiliate event model (every delivery fixture of both providers)', () => {
  it('the table covers exactly the fixtures on disk', () => {
    expect(fixtureFiles).to.deep.equal(Object.keys(expectedCanonicalTypes).sort());
  });

  it('every documented event type of both providers has a fixture', () => {
    for (const source of [sourceRegistry.firstpromoter, sourceRegistry.rewardful] as Source[]) {
      const covered = new Set(fixtureFiles.filter((file) => file.startsWith(`${source.name}/`)).map((file) => eventOf(file).providerType));
      expect(source.eventTypes.filter((type) => !covered.has(type)), `${source.name} types without a fixture`).to.deep.equal([]);
    }
  });

  it('every canonical type is produced by at least one fixture', () => {
    const produced = new Set(fixtureFiles.flatMap((file) => eventOf(file).canonicalTypes ?? []));
    expect(CANONICAL_EVENT_TYPES.filter((type) => !produced.has(type))).to.deep.equal([]);
  });

  for (const file of fixtureFiles) {
    it(`${file}: a valid webhook event, its canonical types, fields that match the schema, valid emails`, () => {
      const event = eventOf(file);
      expect(event.validationErrors, 'schema problems').to.equal(undefined);
      expect(event.status).to.equal('valid');
      expect(event.origin).to.equal('webhook');
      expect(event.canonicalTypes).to.deep.equal(expectedCanonicalTypes[file]);
      expect(event.affiliate?.provider).to.equal(event.source);
      expect(affiliateFieldsSchema.validateSync(event.affiliate, { strict: true })).to.deep.equal(event.affiliate);
      if (Object.hasOwn(expectedFields, file)) expect(event.affiliate).to.deep.equal(expectedFields[file]);
      for (const email of collectEmails(readDelivery(file))) expect(email, `an email of ${file}`).to.match(PLAIN_ADDRESS);
    });
  }

  it('the scraped seed, kept as a negative case, holds an address no server accepts', () => {
    const scraped = JSON.parse(readFileSync('test/fixtures/negative/rewardful/referral.converted.obfuscated-email.json', 'utf8')) as unknown;
    const emails = collectEmails(scraped);
    expect(emails).to.have.length(2);
    for (const email of emails) expect(email).not.to.match(PLAIN_ADDRESS);
  });

  describe('the normalizers read unchecked payloads defensively', () => {
    it('a mistyped field reads as null instead of passing through', () => {
      const described = normalizeFirstPromoterAffiliate({
        providerType: 'reward_created',
        data: { id: 1.5, amount: '200', unit: 7, status: 'approved', lead: 'not an object', promoter: { id: 3, email: ['x'] } },
      });
      expect(described.affiliate.commission).to.deep.equal({ id: null, amount_cents: null, currency: null, status: 'approved' });
      expect(described.affiliate.lead).to.deep.equal({ id: null, email: null });
      expect(described.affiliate.promoter).to.deep.equal({ id: '3', email: null, name: null });
    });

    it('a v2 update that changes nothing canonical has no canonical type', () => {
      expect(
        normalizeFirstPromoterAffiliate({ providerType: 'commission.updated', data: { id: 1, status: 'approved' }, envelope: { changes: { amount: [100, 200] } } })
          .canonicalTypes,
      ).to.deep.equal([]);
      expect(normalizeFirstPromoterAffiliate({ providerType: 'referral.updated', data: { id: 1 }, envelope: { changes: 'garbled' } }).canonicalTypes).to.deep.equal([]);
    });

    it('a v2 update that reports a suspicion is a fraud suspicion; no_suspicion is not', () => {
      const update = (to: string) =>
        normalizeFirstPromoterAffiliate({ providerType: 'referral.updated', data: { id: 1, fraud_check: to }, envelope: { changes: { fraud_check: ['no_suspicion', to] } } });
      expect(update('same_ip_suspicion').canonicalTypes).to.deep.equal(['affiliate.fraud.suspected']);
      expect(update('same_ip_suspicion').affiliate.fraud).to.equal('same_ip_suspicion');
      expect(update('no_suspicion').canonicalTypes).to.deep.equal([]);
      expect(update('no_suspicion').affiliate.fraud).to.equal(null);
    });

    it('a FirstPromoter test delivery gets no canonical type (it fires only rules naming its own type)', () => {
      const described = normalizeFirstPromoterAffiliate({ providerType: 'test.referral.created', data: { test: true } });
      expect(described).to.deep.equal({ canonicalTypes: [], affiliate: emptyAffiliateFields('firstpromoter') });
    });

    it('a payload that is not an object maps to empty fields', () => {
      expect(normalizeRewardfulAffiliate({ providerType: 'commission.paid', data: [] as unknown as Record<string, unknown> }).affiliate).to.deep.equal({
        ...emptyAffiliateFields('rewardful'),
      });
    });
  });

  describe('the source descriptor', () => {
    it('defineSource applies the normalizer to every event normalize returns, after secrets are stripped', () => {
      const seen: unknown[] = [];
      const toy = defineSource({
        ...sourceRegistry.rewardful,
        normalizeAffiliate: (event) => {
          seen.push(event.data);
          return { canonicalTypes: ['affiliate.payout.paid'], affiliate: emptyAffiliateFields('rewardful') };
        },
        strippedFields: ['secret_note'],
      } as Source);
      const event = toy.normalize({ object: { id: 'p1', secret_note: 'x' }, event: { id: 'e1', type: 'payout.paid', created_at: '2024-01-01T00:00:00Z' } }, {
        receivedAt: RECEIVED_AT,
        strippedFields: ['secret_note'],
        origin: 'reconciled',
      });
      expect(seen).to.deep.equal([{ id: 'p1' }]);
      expect(event).to.deep.include({ origin: 'reconciled', canonicalTypes: ['affiliate.payout.paid'] });
    });

    it('refuses a source named affiliate: the canonical namespace', () => {
      expect(() => defineSource({ ...sourceRegistry.rewardful, name: 'affiliate' } as Source)).to.throw(
        TypeError,
        'source name affiliate is taken: canonical event types start with affiliate.',
      );
    });
  });
});
