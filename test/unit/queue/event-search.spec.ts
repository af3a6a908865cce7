import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import type { BridgeEvent } from '../../../src/events/event.js';
import { compileEventSearch, matchesEventSearch, summarizeEventTrace, type CompiledEventSearch } from '../../../src/queue/event-search.js';
import type { EventTrace, TraceRun } from '../../../src/queue/trace.js';
import { sourceRegistry } from '../../../src/sources/registry.js';

const delivery = JSON.parse(readFileSync(new URL('../../fixtures/deliveries/firstpromoter/lead_signup.self_referral.json', import.meta.url), 'utf8'));
const event: BridgeEvent = sourceRegistry.firstpromoter.normalize(delivery, { receivedAt: new Date('2024-10-03T13:45:21.000Z'), strippedFields: [] });

const run = (generation: number, matched: string[], unmatched: string[], failures: string[] = []): TraceRun => ({
  at: '2024-10-03T13:45:22.000Z', generation, quarantined: false,
  matched: matched.map((ruleId) => ({ ruleId, file: 'rules/a.yaml' })),
  unmatched: unmatched.map((ruleId) => ({ ruleId, file: 'rules/a.yaml', reason: 'condition_false' as const })),
  failures: failures.map((ruleId) => ({ ruleId, action: 'hubspot.upsert_contact', error: 'params invalid once rendered' })),
  warnings: [], actionJobIds: [],
});

const compiled = (input: Record<string, string>): CompiledEventSearch => {
  const result = compileEventSearch(input);
  if ('error' in result) throw new Error(result.error);
  return result;
};

describe('event search: one summary per trace, matched by pure functions', () => {
  it('summarizes a trace: lead and promoter from the affiliate fields, the latest run\'s matched rules, every rule any run evaluated', () => {
    const trace: EventTrace = { event, runs: [run(0, ['a', 'b'], ['c']), run(1, ['b'], ['a'], ['d'])] };
    expect(summarizeEventTrace(trace)).to.deep.equal({
      eventId: 'firstpromoter-22736990', type: 'firstpromoter.lead_signup', canonicalTypes: ['affiliate.lead.created', 'affiliate.fraud.suspected'],
      status: 'valid', receivedAt: '2024-10-03T13:45:21.000Z', email: 'jane.smith+trial@example.com',
      promoter: { id: '3920164', email: 'promoter@example.com', name: 'Jane Smith' },
      matchedRules: ['b'], evaluatedRules: ['a', 'b', 'c', 'd'],
    });
  });

  it('reads the same lead and promoter from an event stored without its affiliate fields (derived by its source)', () => {
    const { affiliate, ...stored } = event;
    expect(affiliate).to.not.equal(undefined);
    const bare = summarizeEventTrace({ event: stored, runs: [] });
    expect([bare.email, bare.promoter]).to.deep.equal([affiliate!.lead.email, affiliate!.promoter]);
    expect(bare.matchedRules).to.deep.equal([]);
  });

  it('matches each term as documented, all terms together', () => {
    const summary = summarizeEventTrace({ event, runs: [run(0, ['lead-alert'], ['fraud-alert'])] });
    const table: Array<[Record<string, string>, boolean]> = [
      [{}, true],
      [{ email: 'JANE.SMITH+trial@' }, true],
      [{ email: 'jane.smith@' }, false],
      [{ promoter: '3920164' }, true],
      [{ promoter: '39201' }, false],
      [{ promoter: 'smith' }, true],
      [{ rule: 'fraud-alert' }, true],
      [{ rule: 'fraud' }, false],
      [{ type: 'affiliate.fraud.*' }, true],
      [{ type: 'affiliate.lead.converted' }, false],
      [{ type: 'firstpromoter.lead_signup', rule: 'lead-alert', email: 'trial' }, true],
      [{ type: 'firstpromoter.lead_signup', rule: 'other' }, false],
    ];
    for (const [terms, expected] of table) expect(matchesEventSearch(summary, compiled(terms)), JSON.stringify(terms)).to.equal(expected);
  });

  it('drops blank terms and refuses an over-long one with its sentence', () => {
    expect(compiled({ email: '  ', rule: ' lead-alert ' }).search).to.deep.equal({ rule: 'lead-alert' });
    expect(compileEventSearch({ email: 'x'.repeat(201) })).to.deep.equal({ error: 'The email to search for is longer than 200 characters.' });
  });
});
