import { expect } from 'chai';
import { actionRegistry } from '../../../src/actions/registry.js';
import { compileRuleFiles } from '../../../src/rules/compile-rules.js';
import type { RuleSet } from '../../../src/rules/rule-set.js';
import { measureRuleCoverage } from '../../../src/rules/tooling/rule-coverage.js';
import { diffRuleSets, formatRuleSetDiff, toDiffJson } from '../../../src/rules/tooling/rule-diff.js';
import { buildEvent } from './fixture-events.js';

function ruleSetOf(yaml: string): RuleSet {
  const result = compileRuleFiles([{ file: 'r.yaml', content: yaml }], { actions: actionRegistry });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.ruleSet;
}

const rule = (body: string) => `rules:\n  - id: r\n    on: firstpromoter.lead_signup\n${body}`;
const lead = (id: string, data: Record<string, unknown>, status: 'valid' | 'quarantined' = 'valid', receivedAt = '2024-10-03T14:00:00.000Z') =>
  buildEvent('firstpromoter.lead_signup', data, { id: `firstpromoter-${id}`, status, receivedAt });

describe('rules/tooling/rule-diff and rule-coverage (pure: rule sets and events in, report out)', () => {
  it('an action that renders in the live rules and fails to plan in the candidate is changed, with the plan error', () => {
    const live = ruleSetOf(rule('    do:\n      - hubspot.upsert_contact: { email: "{{ data.email }}" }\n'));
    // A filter that leaves no address: only the rendering can tell, so it loads and fails to plan.
    const candidate = ruleSetOf(rule('    do:\n      - hubspot.upsert_contact: { email: "{{ data.email | split: \'@\' | first }}" }\n'));
    const diff = diffRuleSets(live, candidate, [lead('1', { email: 'a@example.com' })]);
    expect(diff.rules[0]).to.include({ changed: 1, added: 0, removed: 0, unchanged: 0 });
    expect(diff.rules[0].changes[0].differences).to.deep.equal([
      { path: 'params.email', before: 'a@example.com' },
      { path: 'plan_error', after: 'params invalid once rendered: email a is not an address HubSpot accepts' },
    ]);
    expect(formatRuleSetDiff(diff, { live: 'rules', candidate: 'next' })).to.include.members([
      '      params.email: "a@example.com" → (none)',
      '      plan_error: (none) → "params invalid once rendered: email a is not an address HubSpot accepts"',
    ]);
  });

  it('a changed once_per key or retry is a change; a condition that stops matching removes the actions', () => {
    const live = ruleSetOf(rule('    do:\n      - slack.post_message: { channel: "#x", text: hi }\n        once_per: "{{ data.id }}"\n'));
    const keyed = ruleSetOf(rule('    do:\n      - slack.post_message: { channel: "#x", text: hi }\n        once_per: "{{ data.email }}"\n        retry: { attempts: 3, backoff: 1m }\n'));
    const events = [lead('1', { id: 7, email: 'a@example.com' })];
    expect(diffRuleSets(live, keyed, events).rules[0].changes[0].differences).to.deep.equal([
      { path: 'once_per', before: '7', after: 'a@example.com' },
      { path: 'retry.attempts', after: 3 },
      { path: 'retry.backoffMs', after: 60_000 },
    ]);
    const narrowed = ruleSetOf(rule('    if: data.email == "b@example.com"\n    do:\n      - slack.post_message: { channel: "#x", text: hi }\n        once_per: "{{ data.id }}"\n'));
    expect(toDiffJson(diffRuleSets(live, narrowed, events))).to.deep.equal({
      events: 1,
      rules: [{ id: 'r', added: 0, removed: 1, changed: 0, unchanged: 0, samples: { added: [], removed: ['firstpromoter-1'], changed: [] } }],
    });
  });

  it('counts every action but samples each event once, and at most 3 events', () => {
    const live = ruleSetOf(rule('    do:\n      - slack.post_message: { channel: "#x", text: "a {{ data.email }}" }\n      - slack.post_message: { channel: "#y", text: "b {{ data.email }}" }\n'));
    const candidate = ruleSetOf(rule('    do:\n      - slack.post_message: { channel: "#x", text: "A {{ data.email }}" }\n      - slack.post_message: { channel: "#y", text: "B {{ data.email }}" }\n'));
    const events = ['1', '2', '3', '4', '5'].map((id) => lead(id, { email: `${id}@example.com` }));
    const [diff] = (toDiffJson(diffRuleSets(live, candidate, events)) as { rules: Array<{ changed: number; samples: { changed: string[] } }> }).rules;
    expect(diff.changed).to.equal(10);
    expect(diff.samples.changed).to.deep.equal(['firstpromoter-1', 'firstpromoter-2', 'firstpromoter-3']);
  });

  it('samples the earliest received events whatever order they are added in (SCAN returns them in no order)', () => {
    const live = ruleSetOf(rule('    do:\n      - slack.post_message: { channel: "#x", text: "a {{ data.email }}" }\n'));
    const candidate = ruleSetOf(rule('    do:\n      - slack.post_message: { channel: "#x", text: "A {{ data.email }}" }\n'));
    const events = ['5', '1', '4', '2', '3'].map((id) => lead(`e${id}`, { email: `${id}@example.com` }, 'valid', `2024-10-03T14:00:0${id}.000Z`));
    const forward = diffRuleSets(live, candidate, events);
    const backward = diffRuleSets(live, candidate, [...events].reverse());
    expect(forward.rules[0].samples.changed).to.deep.equal(['firstpromoter-e1', 'firstpromoter-e2', 'firstpromoter-e3']);
    expect(backward).to.deep.equal(forward);
  });

  it('quarantined events plan nothing on either side, as on their first run in the worker; coverage does not count them as matches', () => {
    const live = ruleSetOf(rule('    do:\n      - slack.post_message: { channel: "#x", text: hi }\n'));
    const candidate = ruleSetOf(rule('    do:\n      - slack.post_message: { channel: "#z", text: hi }\n'));
    const quarantined = [lead('1', {}, 'quarantined')];
    expect(toDiffJson(diffRuleSets(live, candidate, quarantined))).to.deep.equal({
      events: 1,
      rules: [{ id: 'r', added: 0, removed: 0, changed: 0, unchanged: 0, samples: { added: [], removed: [], changed: [] } }],
    });
    expect(measureRuleCoverage(live, quarantined)).to.deep.equal({ events: 1, unhandledTypes: [], silentRules: [{ id: 'r', eventsOfItsTypes: 1 }] });
  });

  it('coverage: a rule whose condition errors on every event is silent; a glob rule handles the types it matches', () => {
    // int() of an email type-checks (int(string) exists) and fails on every real event.
    const rules = ruleSetOf(`rules:
  - id: typo
    on: firstpromoter.lead_signup
    if: data.email != null && int(data.email) > 100
    do: [{ slack.post_message: { channel: "#x", text: hi } }]
  - id: any-commission
    on: rewardful.commission.*
    do: [{ slack.post_message: { channel: "#x", text: hi } }]
`);
    const events = [
      lead('1', { email: 'a@example.com' }),
      buildEvent('rewardful.commission.created', {}, { id: 'rewardful-c1' }),
      buildEvent('rewardful.sale.created', {}, { id: 'rewardful-s1' }),
      buildEvent('rewardful.sale.created', {}, { id: 'rewardful-s2' }),
      buildEvent('firstpromoter.promoter_accepted', {}, { id: 'firstpromoter-p1' }),
    ];
    expect(measureRuleCoverage(rules, events)).to.deep.equal({
      events: 5,
      unhandledTypes: [
        { type: 'rewardful.sale.created', count: 2 },
        { type: 'firstpromoter.promoter_accepted', count: 1 },
      ],
      silentRules: [{ id: 'typo', eventsOfItsTypes: 1 }],
    });
  });
});
