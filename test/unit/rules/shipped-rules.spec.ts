import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { runCheckCommand } from '../../../src/cli/commands/check.js';
import { runSimulateCommand } from '../../../src/cli/commands/simulate.js';
import { runTestCommand } from '../../../src/cli/commands/test.js';

function collect() {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { io: { stdout: (line: string) => stdout.push(line), stderr: (line: string) => stderr.push(line) }, stdout, stderr };
}

describe('shipped rules (rules/)', () => {
  it('pass check', async () => {
    const { io, stdout, stderr } = collect();
    expect(await runCheckCommand({ rulesDir: 'rules' }, io)).to.equal(0);
    expect(stderr).to.deep.equal([]);
    expect(stdout).to.deep.equal(['8 rules in 4 files OK']);
  });

  it('pass their own test cases', async () => {
    const { io, stdout, stderr } = collect();
    const code = await runTestCommand({ rulesDir: 'rules' }, io);
    expect(stderr).to.deep.equal([]);
    expect(stdout.filter((line) => !line.startsWith('✓ '))).to.deep.equal([`${stdout.length - 1} passed, 0 failed`]);
    expect(stdout.length - 1).to.be.greaterThanOrEqual(14);
    expect(code).to.equal(0);
  });
});

describe('check, simulate commands', () => {
  it('check lists every problem and exits 1', async () => {
    const { io, stdout, stderr } = collect();
    expect(await runCheckCommand({ rulesDir: 'test/fixtures/rules/bad/duplicate-id' }, io)).to.equal(1);
    expect(stdout).to.deep.equal([]);
    expect(stderr).to.deep.equal([
      'test/fixtures/rules/bad/duplicate-id/b.yaml:7:9: duplicate rule id self-referral-alert: also defined at test/fixtures/rules/bad/duplicate-id/a.yaml:2:9',
      '1 problem: the rules in test/fixtures/rules/bad/duplicate-id do not load',
    ]);
  });

  it('simulate prints the event, matched rules with rendered actions, and the rules that did not match', async () => {
    const { io, stdout } = collect();
    const code = await runSimulateCommand({ file: 'test/fixtures/deliveries/firstpromoter/lead_signup.json', rulesDir: 'test/fixtures/rules/match' }, io);
    expect(code).to.equal(0);
    expect(stdout).to.deep.equal([
      'event firstpromoter.lead_signup firstpromoter-22736304 (valid)',
      '  canonical types (rules may name these too): affiliate.lead.created',
      '✓ every-lead (test/fixtures/rules/match/leads.yaml) matched',
      '    hubspot.upsert_contact',
      '      email: goqucugo@mailinator.com',
      '      properties:',
      '        lifecyclestage: lead',
      '        leads_of_promoter: "4"',
      '✓ big-campaign-lead (test/fixtures/rules/match/leads.yaml) matched',
      '    slack.post_message',
      '      channel: "#big-campaigns"',
      '      text: Main Campaign has sold $2,010.00',
      '✗ suspicious-lead (test/fixtures/rules/match/leads.yaml) not matched: condition false: data.suspicion != "no_suspicion" is false (data.suspicion = "no_suspicion")',
      "✗ lead-with-website (test/fixtures/rules/match/leads.yaml) not matched: condition error: found no matching overload for 'null.startsWith(string)'",
      '✗ any-firstpromoter-event (test/fixtures/rules/match/money.yaml) not matched: condition false: event.type.endsWith("_created") is false (event.type = "firstpromoter.lead_signup")',
      '2 rules matched, 2 actions planned (nothing sent)',
    ]);
  });

  it('simulate --json prints the same as JSON', async () => {
    const { io, stdout } = collect();
    await runSimulateCommand({ file: 'test/fixtures/negative/rewardful/referral.converted.obfuscated-email.json', rulesDir: 'rules', json: true }, io);
    const report = JSON.parse(stdout.join('\n'));
    expect(report.event).to.deep.include({ type: 'rewardful.referral.converted', source: 'rewardful', status: 'valid' });
    expect(report.matched.map((rule: { ruleId: string }) => rule.ruleId)).to.deep.equal(['rewardful-customer-to-hubspot']);
    // The scraped seed's customer email is an obfuscated "[email protected]": HubSpot would refuse it, so the
    // action is a plan failure naming the field instead of a dead letter after a call.
    expect(report.matched[0].actions).to.deep.equal([]);
    expect(report.failures.map((failure: { ruleId: string; error: string }) => [failure.ruleId, failure.error])).to.deep.equal([
      ['rewardful-customer-to-hubspot', 'params invalid once rendered: email [email\u00a0protected] is not an address HubSpot accepts'],
    ]);
  });

  it('simulate shows the rendered once_per key, and says it cannot know whether Redis holds it', async () => {
    const text = collect();
    await runSimulateCommand({ file: 'test/fixtures/deliveries/firstpromoter/fulfilment_pending.json', rulesDir: 'rules' }, text.io);
    expect(text.stdout).to.include(
      '      throttle key "2429153" (held for DEDUP_TTL): sent only if no earlier event holds this key, which simulate cannot know (it reads no Redis)',
    );
    const json = collect();
    await runSimulateCommand({ file: 'test/fixtures/deliveries/firstpromoter/fulfilment_pending.json', rulesDir: 'rules', json: true }, json.io);
    const report = JSON.parse(json.stdout.join('\n'));
    expect(report.matched.map((rule: { ruleId: string }) => rule.ruleId)).to.deep.equal(['reward-to-fulfil']);
    expect(report.matched[0].actions[0].oncePer).to.deep.equal({ key: '2429153' });
  });

  it('simulate shows a throttle and a digest group, rendered, and says what it cannot know', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'simulate-group-'));
    try {
      await writeFile(
        join(dir, 'leads.yaml'),
        [
          'rules:',
          '  - id: lead-digest',
          '    on: firstpromoter.lead_signup',
          '    do:',
          '      - slack.post_message:',
          '          channel: "#leads"',
          '          text: "lead {{ data.email }}"',
          '          group: { by: "{{ data.promoter.id }}", wait: 2m }',
          '          digest_text: "{{ count }} leads"',
          '        throttle: { key: "{{ data.email }}", window: 24h }',
          '',
        ].join('\n'),
      );
      const text = collect();
      expect(await runSimulateCommand({ file: 'test/fixtures/deliveries/firstpromoter/lead_signup.json', rulesDir: dir }, text.io)).to.equal(0);
      expect(text.stdout.slice(1, -1)).to.deep.equal([
        '  canonical types (rules may name these too): affiliate.lead.created',
        `✓ lead-digest (${join(dir, 'leads.yaml')}) matched`,
        '    slack.post_message',
        '      channel: "#leads"',
        '      text: lead goqucugo@mailinator.com',
        '      group:',
        '        by: "3920164"',
        '        wait: 2m',
        '      digest_text: "{{ count }} leads"',
        '      throttle key "goqucugo@mailinator.com" (held for 1d): sent only if no earlier event holds this key, which simulate cannot know (it reads no Redis)',
        '      grouped (wait 2m, max 50): joins the digest of this rule, channel and group.by, posted as one message rendered by digest_text; simulate reads no Redis, so it cannot show the rest of the digest',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('simulate shows which HubSpot properties are left out and why', async () => {
    const delivery = JSON.parse(await readFile('test/fixtures/deliveries/firstpromoter/promoter_accepted.json', 'utf8'));
    delete delivery.data.promotion.referral_link;
    const dir = await mkdtemp(join(tmpdir(), 'simulate-notes-'));
    try {
      const file = join(dir, 'promoter_accepted.json');
      await writeFile(file, JSON.stringify(delivery));
      const text = collect();
      await runSimulateCommand({ file, rulesDir: 'rules' }, text.io);
      expect(text.stdout).to.include(
        '      note: property affiliate_referral_link left out: it rendered empty, and an empty value would clear it in HubSpot (when_empty: clear does that on purpose)',
      );
      const json = collect();
      await runSimulateCommand({ file, rulesDir: 'rules', json: true }, json.io);
      const report = JSON.parse(json.stdout.join('\n'));
      expect(report.matched[0].actions[0].notes).to.deep.equal([
        'property affiliate_referral_link left out: it rendered empty, and an empty value would clear it in HubSpot (when_empty: clear does that on purpose)',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('simulate refuses a payload whose source it cannot tell', async () => {
    const { io, stderr } = collect();
    expect(await runSimulateCommand({ file: 'package.json', rulesDir: 'rules' }, io)).to.equal(1);
    expect(stderr).to.deep.equal([
      'cannot build an event from package.json: cannot tell the source from the payload (neither a Rewardful object nor a FirstPromoter data envelope): name it with source',
    ]);
  });
});
