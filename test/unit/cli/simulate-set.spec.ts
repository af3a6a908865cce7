import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { runSimulateCommand } from '../../../src/cli/commands/simulate.js';
import { buildEventFromPayload } from '../../../src/rules/tooling/event-from-payload.js';
import { applyPayloadChanges, parsePayloadChange, PayloadChangeError } from '../../../src/rules/tooling/payload-changes.js';
import { sourceRegistry } from '../../../src/sources/registry.js';

function collect() {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { io: { stdout: (line: string) => stdout.push(line), stderr: (line: string) => stderr.push(line) }, stdout, stderr };
}

const COMMISSION = 'test/fixtures/deliveries/rewardful/commission.created.json';
const commission = () =>
  buildEventFromPayload(JSON.parse(readFileSync(COMMISSION, 'utf8')), { normalizers: sourceRegistry, receivedAt: new Date('2025-03-01T00:00:00Z') });
const change = (...texts: string[]) => applyPayloadChanges(commission(), texts.map(parsePayloadChange), sourceRegistry.rewardful!.normalizeAffiliate);

describe('simulate --set PATH=VALUE', () => {
  it('changes fields typed as the field they replace: numbers stay numbers, text stays text', () => {
    const event = change('data.amount=25000', 'data.state=voided', 'data.campaign.name=Friends of Q');
    expect(event.data).to.deep.include({ amount: 25000, state: 'voided' });
    expect((event.data.campaign as { name: string }).name).to.equal('Friends of Q');
    // The file's event is not changed.
    expect(commission().data).to.deep.include({ amount: 750, state: 'pending' });
  });

  it('the affiliate model follows the changed payload', () => {
    const event = change('data.amount=25000', 'data.state=due');
    expect(event.affiliate?.commission).to.deep.equal({ id: '7d2886ca-8764-4e43-9230-013ad00037e7', amount_cents: 25000, currency: 'USD', status: 'approved' });
    expect(event.canonicalTypes).to.deep.equal(['affiliate.commission.created', 'affiliate.commission.approved']);
  });

  it('a value may hold "=", a null field takes a JSON literal or text, a boolean field true or false', () => {
    expect(change('data.paid_at=2020-06-01T00:00:00Z').data.paid_at).to.equal('2020-06-01T00:00:00Z');
    expect(change('data.paid_at=12').data.paid_at).to.equal(12);
    expect(change('data.stripe_account_id=a=b').data.stripe_account_id).to.equal('a=b');
    const event = change('data.sale.affiliate.receive_new_commission_notifications=false');
    expect((event.data.sale as { affiliate: Record<string, unknown> }).affiliate.receive_new_commission_notifications).to.equal(false);
  });

  it('event.origin can be set, to see what rules do with a reconciled event', () => {
    expect(change('event.origin=reconciled').origin).to.equal('reconciled');
  });

  const refused: Array<[string, string]> = [
    ['data.amount', '--set data.amount: write PATH=VALUE, such as --set data.amount=25000'],
    ['=25000', '--set =25000: write PATH=VALUE, such as --set data.amount=25000'],
    ['amount=25000', '--set amount=25000: paths start with data. or event., such as data.amount'],
    ['data..amount=1', '--set data..amount=1: paths start with data. or event., such as data.amount'],
    ['data.amont=25000', '--set data.amont=25000: data has no field amont (--set changes fields, it does not add them)'],
    ['data.sale.referral.customer.phone=1', '--set data.sale.referral.customer.phone=1: data.sale.referral.customer has no field phone (--set changes fields, it does not add them)'],
    ['data.amount.cents=1', '--set data.amount.cents=1: data.amount is a number, not an object'],
    ['data.amount=lots', '--set data.amount=lots: data.amount is a number, and "lots" is not one'],
    ['data.amount=', '--set data.amount=: data.amount is a number, and "" is not one'],
    ['data.sale.affiliate.receive_new_commission_notifications=yes', '--set data.sale.affiliate.receive_new_commission_notifications=yes: data.sale.affiliate.receive_new_commission_notifications is true or false, and "yes" is neither'],
    ['data.campaign={}', '--set data.campaign={}: data.campaign is an object: --set changes a number, text, true/false or null field'],
    ['data.__proto__.x=1', '--set data.__proto__.x=1: __proto__ is not allowed in a path'],
  ];
  for (const [text, message] of refused) {
    it(`refuses ${text} with an exact message`, () => {
      expect(() => change(text)).to.throw(PayloadChangeError, message).with.property('message', message);
    });
  }

  it('the command prints the message and exits 1 without planning', async () => {
    const { io, stdout, stderr } = collect();
    expect(await runSimulateCommand({ file: COMMISSION, rulesDir: 'rules', set: ['data.amont=25000'] }, io)).to.equal(1);
    expect(stderr).to.deep.equal(['--set data.amont=25000: data has no field amont (--set changes fields, it does not add them)']);
    expect(stdout).to.deep.equal([]);
  });

  it('the command plans the changed event: rendered amounts and canonical types follow the change', async () => {
    const { io, stdout } = collect();
    expect(await runSimulateCommand({ file: COMMISSION, rulesDir: 'rules', set: ['data.amount=25000', 'data.state=voided'] }, io)).to.equal(0);
    expect(stdout.slice(0, 2)).to.deep.equal([
      'event rewardful.commission.created rewardful-f4819a88-c88c-59f7-aa6b-5a8c3f05aa63 (valid)',
      '  canonical types (rules may name these too): affiliate.commission.created',
    ]);
    expect(stdout).to.include('      text: "Commission created: $250.00 for an affiliate (voided)"');
  });

  it('a change that breaks the schema quarantines the simulated event, as at run time', async () => {
    const { io, stdout } = collect();
    expect(await runSimulateCommand({ file: COMMISSION, rulesDir: 'rules', set: ['data.amount=7.5'], json: true }, io)).to.equal(0);
    const report = JSON.parse(stdout.join('\n')) as { event: { status: string; validationErrors: string[] } };
    expect(report.event).to.deep.include({ status: 'quarantined', validationErrors: ['data.amount must be an integer'] });
  });
});
