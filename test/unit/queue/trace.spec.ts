import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import type { BridgeEvent } from '../../../src/events/event.js';
import { buildConflictingDuplicate } from '../../../src/queue/conflicting-duplicates.js';
import { serializeEventJob } from '../../../src/queue/event-intake.js';
import { COMPACT_TRACE_FORMAT, decodeStoredTrace, encodeStoredTrace, type EventTrace, type TraceRun } from '../../../src/queue/trace.js';
import { applySchemaCheck } from '../../../src/sources/check-event.js';
import { sourceRegistry } from '../../../src/sources/registry.js';

const receivedAt = new Date('2026-01-02T03:04:05.000Z');
function normalizeFixture(source: 'firstpromoter' | 'rewardful', name: string): BridgeEvent {
  const delivery = JSON.parse(readFileSync(new URL(`../../fixtures/deliveries/${source}/${name}.json`, import.meta.url), 'utf8'));
  return sourceRegistry[source].normalize(delivery, { receivedAt, strippedFields: ['auth_token', 'temp_password'] });
}

/** A run as the events worker writes it: every list present, most of them empty. */
const emptyRun: TraceRun = {
  at: '2026-01-02T03:04:06.000Z', generation: 0, quarantined: false,
  matched: [], unmatched: [], failures: [], warnings: [], actionJobIds: [], suppressed: [],
};
const busyRun: TraceRun = {
  at: '2026-01-02T04:00:00.000Z', generation: 1, quarantined: true,
  matched: [{ ruleId: 'lead-alert', file: 'rules/a.yaml' }],
  unmatched: [{ ruleId: 'big-rewards', file: 'rules/b.yaml', reason: 'condition_false' }],
  failures: [{ ruleId: 'crm', action: 'hubspot.upsert_contact', error: 'params invalid once rendered', id: 'e.crm.0.1' }],
  warnings: ['{{ data.missing }} rendered empty'],
  actionJobIds: ['e.lead-alert.0.1'],
  suppressed: [{ ruleId: 'once', action: 'slack.post_message', actionIndex: 0, key: 'k', heldBy: 'other' }],
  duplicateOf: 'firstpromoter-1',
  grouped: [{ ruleId: 'digest', action: 'slack.post_message', actionIndex: 1, digest: 'digest:1' }],
};

/** What a reader saw before compact traces: the full form as stored, parsed. */
const asStoredInFull = (trace: EventTrace): EventTrace => JSON.parse(JSON.stringify(trace)) as EventTrace;

function expectExactRoundTrip(trace: EventTrace): string {
  const stored = encodeStoredTrace(trace);
  const decoded = decodeStoredTrace(stored);
  expect(decoded).to.deep.equal(asStoredInFull(trace));
  // The same JSON, key order included: `events trace --json` prints it as before.
  expect(JSON.stringify(decoded)).to.equal(JSON.stringify(trace));
  return stored;
}

const webhookEvents: ReadonlyArray<[string, BridgeEvent]> = [
  ['FirstPromoter lead_signup', normalizeFixture('firstpromoter', 'lead_signup')],
  ['FirstPromoter self-referral lead', normalizeFixture('firstpromoter', 'lead_signup.self_referral')],
  ['FirstPromoter commission.created', normalizeFixture('firstpromoter', 'commission.created')],
  ['FirstPromoter payout.completed', normalizeFixture('firstpromoter', 'payout.completed')],
  ['Rewardful referral.lead', normalizeFixture('rewardful', 'referral.lead')],
  ['Rewardful sale.created', normalizeFixture('rewardful', 'sale.created')],
  ['Rewardful commission.paid', normalizeFixture('rewardful', 'commission.paid')],
  // What reconcile stores (run-reconciliation.ts): the source's normalized event, origin reconciled.
  ['reconciled FirstPromoter referral.created', { ...normalizeFixture('firstpromoter', 'referral.created'), origin: 'reconciled' }],
];

describe('stored traces: compact JSON that decodes to the trace as written', () => {
  for (const [label, event] of webhookEvents) {
    it(`keeps a ${label} without its derived affiliate fields and empty run lists, and gives them back exactly`, () => {
      expect(event.affiliate).to.not.equal(undefined);
      const trace: EventTrace = { event, runs: [emptyRun, busyRun] };
      const stored = expectExactRoundTrip(trace);
      const raw = JSON.parse(stored);
      expect(raw.format).to.equal(COMPACT_TRACE_FORMAT);
      expect(raw.event).to.not.have.any.keys('affiliate', 'canonicalTypes');
      expect(raw.event.data).to.deep.equal(event.data);
      expect(raw.runs[0]).to.deep.equal({ at: emptyRun.at, generation: 0 });
      expect(raw.runs[1]).to.deep.equal(asStoredInFull({ event, runs: [busyRun] }).runs[0]);
      expect(stored.length).to.be.below(JSON.stringify(trace).length - JSON.stringify(event.affiliate).length);
    });
  }

  it('keeps compact the event as the events worker has it: read back from the job the intake stored (payload last)', () => {
    for (const event of [normalizeFixture('firstpromoter', 'lead_signup'), normalizeFixture('rewardful', 'referral.lead')]) {
      const fromJob = (JSON.parse(serializeEventJob(event).dataJson) as { event: BridgeEvent }).event;
      expect(JSON.parse(expectExactRoundTrip({ event: fromJob, runs: [emptyRun] })).format).to.equal(COMPACT_TRACE_FORMAT);
    }
  });

  it('keeps an event of a source without an affiliate normalizer (the bridge\'s own events) compact, as it is', () => {
    const event: BridgeEvent = { ...normalizeFixture('firstpromoter', 'lead_signup'), source: 'bridge' };
    const { affiliate: _affiliate, canonicalTypes: _canonicalTypes, ...own } = event;
    expect(JSON.parse(expectExactRoundTrip({ event: own, runs: [emptyRun] })).format).to.equal(COMPACT_TRACE_FORMAT);
  });

  // Each of these is written in the full form, as before: the compact form would not give it back.
  const keptInFull: ReadonlyArray<[string, EventTrace]> = [
    ['a conflicting duplicate (the first delivery\'s affiliate fields, not its own type\'s)', { event: buildConflictingDuplicate(normalizeFixture('firstpromoter', 'lead_signup'), 'abcdef0123456789'), runs: [emptyRun] }],
    ['an event stored without affiliate fields (before the affiliate model)', { event: (({ affiliate: _a, canonicalTypes: _c, ...bare }) => bare)(normalizeFixture('rewardful', 'sale.created')), runs: [emptyRun] }],
    ['an event whose stored affiliate fields differ from what its payload derives', { event: { ...normalizeFixture('firstpromoter', 'lead_signup'), canonicalTypes: [] }, runs: [emptyRun] }],
    ['an event whose run predates once_per (no suppressed list)', { event: normalizeFixture('firstpromoter', 'lead_signup'), runs: [(({ suppressed: _s, ...old }) => old)(emptyRun), emptyRun] }],
  ];
  for (const [label, trace] of keptInFull) {
    it(`keeps ${label} in the full form`, () => {
      const stored = expectExactRoundTrip(trace);
      expect(stored).to.equal(JSON.stringify(trace));
    });
  }

  it('keeps compact a run listing a thousand unmatched rules, and gives it back exactly', () => {
    const unmatched = Array.from({ length: 1000 }, (_, index) => ({ ruleId: `rule-${index}`, file: 'rules/many.yaml', reason: 'condition_false' as const }));
    const stored = expectExactRoundTrip({ event: normalizeFixture('firstpromoter', 'lead_signup'), runs: [{ ...emptyRun, unmatched }] });
    expect(JSON.parse(stored).format).to.equal(COMPACT_TRACE_FORMAT);
  });

  it('keeps in the full form a run whose keys are not in the order the decoder writes them', () => {
    const { at, generation, ...rest } = busyRun;
    const reordered = { generation, at, ...rest } as TraceRun;
    expect(expectExactRoundTrip({ event: normalizeFixture('firstpromoter', 'lead_signup'), runs: [reordered] })).to.equal(JSON.stringify({ event: normalizeFixture('firstpromoter', 'lead_signup'), runs: [reordered] }));
  });

  it('keeps in the full form an event whose payload is not where the decoder puts it (last)', () => {
    const { data, ...rest } = normalizeFixture('rewardful', 'referral.lead');
    const { affiliate, canonicalTypes, ...head } = rest;
    const payloadFirst = { data, ...head, canonicalTypes, affiliate } as BridgeEvent;
    const trace = { event: payloadFirst, runs: [emptyRun] };
    expect(expectExactRoundTrip(trace)).to.equal(JSON.stringify(trace));
  });

  it('gives back a quarantined event exactly, whichever form it is kept in', () => {
    const quarantined = applySchemaCheck({ checkSchema: () => ['data.email: must be a string'] }, normalizeFixture('firstpromoter', 'lead_signup'));
    expect(quarantined.status).to.equal('quarantined');
    expectExactRoundTrip({ event: quarantined, runs: [{ ...emptyRun, quarantined: true }] });
    const atIntake = { ...normalizeFixture('rewardful', 'referral.lead'), status: 'quarantined' as const };
    expect(JSON.parse(expectExactRoundTrip({ event: atIntake, runs: [{ ...emptyRun, quarantined: true }] })).runs[0]).to.deep.equal({ at: emptyRun.at, generation: 0, quarantined: true });
  });

  it('reads traces stored in the full form (written before compact traces) as they are, adding nothing', () => {
    const event = normalizeFixture('firstpromoter', 'lead_signup');
    const { affiliate: _affiliate, canonicalTypes: _canonicalTypes, ...bare } = event;
    const oldRun = (({ suppressed: _s, ...old }) => old)(emptyRun);
    for (const trace of [{ event, runs: [emptyRun, busyRun] }, { event: bare, runs: [oldRun] }, { event, runs: [] }]) {
      expect(decodeStoredTrace(JSON.stringify(trace))).to.deep.equal(trace);
    }
  });
});
