import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { actionRegistry } from '../../../src/actions/registry.js';
import type { BridgeEvent } from '../../../src/events/event.js';
import { compileRuleFiles } from '../../../src/rules/compile-rules.js';
import { loadRules } from '../../../src/rules/load-rules.js';
import { planActions } from '../../../src/rules/plan.js';
import { formatProblem } from '../../../src/rules/problems.js';
import type { RuleSet } from '../../../src/rules/rule-set.js';
import { buildEventFromPayload } from '../../../src/rules/tooling/event-from-payload.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { buildEvent } from './fixture-events.js';

async function loadAffiliateRules(): Promise<RuleSet> {
  const result = await loadRules('test/fixtures/rules/affiliate', { actions: actionRegistry });
  if (!result.ok) throw new Error(result.problems.map((problem) => formatProblem(problem)).join('\n'));
  return result.ruleSet;
}

/** The event exactly as the bridge builds it from a delivery fixture (through the source's normalizer). */
function deliveredEvent(path: string, origin?: 'reconciled'): BridgeEvent {
  const event = buildEventFromPayload(JSON.parse(readFileSync(`test/fixtures/deliveries/${path}`, 'utf8')), {
    normalizers: sourceRegistry,
    receivedAt: new Date('2025-03-01T00:00:00.000Z'),
  });
  return origin === undefined ? event : { ...event, origin };
}

function textsOf(ruleSet: RuleSet, event: BridgeEvent): Array<[string, unknown]> {
  const plan = planActions(ruleSet, event);
  expect(plan.failures, 'plan failures').to.deep.equal([]);
  return plan.actions.map((action) => [action.provenance.ruleId, action.params.text]);
}

describe('rules on the one affiliate event model', () => {
  let ruleSet: RuleSet;
  before(async () => {
    ruleSet = await loadAffiliateRules();
  });

  it('one rule covers both providers, through canonical types and affiliate fields', () => {
    expect(textsOf(ruleSet, deliveredEvent('rewardful/commission.created.json'))).to.deep.equal([
      ['provider-commission', 'Rewardful 7d2886ca-8764-4e43-9230-013ad00037e7'],
      ['any-commission', 'rewardful.commission.created (affiliate.commission.created): $7.50 for James Bond <james.bond@example.com>, rewardful'],
      ['big-commission', '7d2886ca-8764-4e43-9230-013ad00037e7'],
    ]);
    expect(textsOf(ruleSet, deliveredEvent('firstpromoter/reward_created.json'))).to.deep.equal([
      [
        'any-commission',
        'firstpromoter.reward_created (affiliate.commission.created, affiliate.commission.approved): $2.00 for Ulysses Watson <promoter@example.com>, firstpromoter',
      ],
    ]);
  });

  it('a rule fires once for an event however many of its on entries match it', () => {
    // any-commission names rewardful.commission.created, affiliate.commission.created and
    // affiliate.commission.*; reward_created has two canonical types that the glob matches.
    const plan = planActions(ruleSet, deliveredEvent('firstpromoter/reward_created.json'));
    expect(plan.matched.map((rule) => rule.ruleId)).to.deep.equal(['any-commission']);
    expect(plan.unmatched.map((rule) => [rule.ruleId, rule.reason])).to.deep.equal([
      ['big-commission', 'condition_false'],
      ['recovered-from-api', 'condition_false'],
    ]);
  });

  it('a fraud suspicion and the lead it concerns are one event: each rule once, in load order', () => {
    expect(textsOf(ruleSet, deliveredEvent('firstpromoter/lead_signup.self_referral.json'))).to.deep.equal([
      ['fraud', 'self_referral: jane.smith+trial@example.com'],
    ]);
    expect(textsOf(ruleSet, deliveredEvent('firstpromoter/referral.created.self_referral.json'))).to.deep.equal([
      ['fraud', 'self_referral: jane.smith+alt@example.com'],
    ]);
    expect(textsOf(ruleSet, deliveredEvent('firstpromoter/lead_signup.json'))).to.deep.equal([]);
  });

  it('event.origin tells reconciled events from webhooks (the rules/README.md example)', () => {
    expect(textsOf(ruleSet, deliveredEvent('firstpromoter/lead_signup.json', 'reconciled'))).to.deep.equal([
      ['recovered-from-api', "Recovered from FirstPromoter's API (its webhook never arrived): firstpromoter.lead_signup firstpromoter-22736304"],
    ]);
    expect(textsOf(ruleSet, deliveredEvent('firstpromoter/commission.denied.json', 'reconciled')).map(([rule]) => rule)).to.deep.equal([
      'any-commission',
      'recovered-from-api',
    ]);
    const webhook = planActions(ruleSet, deliveredEvent('firstpromoter/lead_signup.json'));
    expect(webhook.unmatched).to.deep.equal([
      {
        ruleId: 'recovered-from-api',
        file: 'test/fixtures/rules/affiliate/affiliate.yaml',
        reason: 'condition_false',
        falseParts: [{ text: 'event.origin == "reconciled"', fields: [{ path: 'event.origin', value: '"webhook"' }] }],
      },
    ]);
  });

  it('an event stored before the model existed: a webhook, matched by its provider type, affiliate fields null', () => {
    const old = buildEvent('rewardful.commission.created', { id: 'c1', amount: 900 });
    expect(old).not.to.have.property('origin');
    expect(old).not.to.have.property('canonicalTypes');
    const rules = compileRuleFiles(
      [
        {
          file: 'old.yaml',
          content: [
            'rules:',
            '  - id: old-event',
            '    on: rewardful.commission.created',
            '    if: event.origin == "webhook" && affiliate.commission.id == null && affiliate.provider == "rewardful"',
            '    do:',
            '      - slack.post_message: { channel: "#x", text: "{{ affiliate.lead.email | default: \'none\' }}" }',
            '  - id: canonical-only',
            '    on: affiliate.commission.created',
            '    do:',
            '      - slack.post_message: { channel: "#x", text: "never" }',
          ].join('\n'),
        },
      ],
      { actions: actionRegistry },
    );
    if (!rules.ok) throw new Error(rules.problems.map((problem) => formatProblem(problem)).join('\n'));
    expect(textsOf(rules.ruleSet, old)).to.deep.equal([['old-event', 'none']]);
  });

  describe('on: names a canonical type exactly, or a glob matching one', () => {
    const BAD = 'test/fixtures/rules/bad';
    const table: Array<[file: string, problems: string[]]> = [
      [
        'on-unknown-canonical-type.yaml',
        [
          `${BAD}/on-unknown-canonical-type.yaml:3:9: on affiliate.lead.create can never match: the canonical event types are affiliate.lead.created, affiliate.lead.converted, affiliate.lead.cancelled, affiliate.promoter.created, affiliate.promoter.approved, affiliate.commission.created, affiliate.commission.approved, affiliate.commission.paid, affiliate.commission.voided, affiliate.payout.paid, affiliate.fraud.suspected`,
        ],
      ],
      [
        'on-canonical-glob-never-matches.yaml',
        [
          `${BAD}/on-canonical-glob-never-matches.yaml:3:28: on affiliate.refund.* can never match: the canonical event types are affiliate.lead.created, affiliate.lead.converted, affiliate.lead.cancelled, affiliate.promoter.created, affiliate.promoter.approved, affiliate.commission.created, affiliate.commission.approved, affiliate.commission.paid, affiliate.commission.voided, affiliate.payout.paid, affiliate.fraud.suspected`,
        ],
      ],
    ];
    for (const [file, expected] of table) {
      it(file, async () => {
        const path = `${BAD}/${file}`;
        const result = compileRuleFiles([{ file: path, content: await readFile(path) }], { actions: actionRegistry });
        expect(result.problems.map((problem) => formatProblem(problem))).to.deep.equal(expected);
      });
    }
  });
});

describe('rule tests on the affiliate model', () => {
  it('a case that sets a payload field sees canonical types and affiliate fields follow it', async () => {
    const { runTestCommand } = await import('../../../src/cli/commands/test.js');
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await runTestCommand({ rulesDir: 'test/fixtures/rules/affiliate' }, { stdout: (line) => stdout.push(line), stderr: (line) => stderr.push(line) });
    expect(stderr).to.deep.equal([]);
    expect(stdout).to.deep.equal([
      '✓ tests/affiliate.yaml › a suspicion set on a plain lead signup makes it a fraud suspicion',
      '✓ tests/affiliate.yaml › a larger amount set on a small reward crosses the big-commission threshold',
      '2 passed, 0 failed',
    ]);
    expect(code).to.equal(0);
  });
});
