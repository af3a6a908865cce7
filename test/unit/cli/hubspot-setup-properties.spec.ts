import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { collectContactProperties, runHubspotSetupPropertiesCommand } from '../../../src/cli/commands/hubspot.js';
import { loadRules } from '../../../src/rules/load-rules.js';
import { actionRegistry } from '../../../src/actions/registry.js';

const RULES = `rules:
  - id: commission-to-hubspot
    on: rewardful.commission.created
    do:
      - hubspot.upsert_contact:
          email: "{{ data.sale.referral.customer.email }}"
          properties:
            affiliate_amount: { value: "{{ data.amount }}", type: number }
            affiliate_paid_at: { value: "{{ data.paid_at }}", type: datetime, when_empty: skip }
            affiliate_state: { value: "{{ data.state }}", type: enumeration, options: [pending, due] }
            affiliate_source: rewardful
  - id: commission-paid
    on: rewardful.commission.paid
    do:
      - hubspot.upsert_contact:
          email: "{{ data.sale.referral.customer.email }}"
          properties:
            affiliate_state: { value: "{{ data.state }}", type: enumeration, options: [paid] }
            affiliate_paid: { value: "true", type: bool }
`;

describe('cli hubspot setup-properties', () => {
  let dir: string;
  const savedToken = process.env.HUBSPOT_ACCESS_TOKEN;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'setup-properties-'));
    await writeFile(join(dir, 'commissions.yaml'), RULES);
    delete process.env.HUBSPOT_ACCESS_TOKEN;
  });

  afterEach(async () => {
    if (savedToken === undefined) delete process.env.HUBSPOT_ACCESS_TOKEN;
    else process.env.HUBSPOT_ACCESS_TOKEN = savedToken;
    await rm(dir, { recursive: true, force: true });
  });

  it('collects the declared types, merging enumeration options across rules', async () => {
    const loaded = await loadRules(dir, { actions: actionRegistry });
    if (!loaded.ok) throw new Error(loaded.problems.map((problem) => problem.message).join('\n'));
    expect(collectContactProperties(loaded.ruleSet)).to.deep.equal({
      declarations: [
        { name: 'affiliate_amount', type: 'number' },
        { name: 'affiliate_paid', type: 'bool' },
        { name: 'affiliate_paid_at', type: 'datetime' },
        { name: 'affiliate_source', type: 'string' },
        { name: 'affiliate_state', type: 'enumeration', options: ['pending', 'due', 'paid'] },
      ],
      conflicts: [],
    });
  });

  it('--dry-run works offline without a token, listing what it would create', async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await runHubspotSetupPropertiesCommand({ dryRun: true, rulesDir: dir }, { stdout: (line) => stdout.push(line), stderr: (line) => stderr.push(line) });
    expect({ code, stderr }).to.deep.equal({ code: 0, stderr: [] });
    expect(stdout).to.deep.equal([
      'HUBSPOT_ACCESS_TOKEN is unset: listing what the rules need, without comparing with the account.',
      'Would create (where missing): affiliate_amount (number), affiliate_paid (bool), affiliate_paid_at (datetime), affiliate_source (string), affiliate_state (enumeration: pending, due, paid)',
    ]);
  });

  it('without --dry-run it still needs a token', async () => {
    const stderr: string[] = [];
    expect(await runHubspotSetupPropertiesCommand({ dryRun: false, rulesDir: dir }, { stdout: () => undefined, stderr: (line) => stderr.push(line) })).to.equal(1);
    expect(stderr[0]).to.equal('HUBSPOT_ACCESS_TOKEN is unset: cannot read or create HubSpot properties.');
  });
});
