import { expect } from 'chai';
import * as yup from 'yup';
import type { ActionResult, ActionRunner } from '../../../src/actions/action.js';
import { createHubspotClient, type HubspotClient } from '../../../src/actions/hubspot/client.js';
import { hubspotUpsertContactParams, type HubspotUpsertContactParams } from '../../../src/actions/hubspot/params.js';
import { prepareUpsert } from '../../../src/actions/hubspot/prepare.js';
import { setupHubspotProperties } from '../../../src/actions/hubspot/setup-properties.js';
import { connectHubspotUpsertContact, hubspotUpsertContact, type HubspotUpsertContactOptions } from '../../../src/actions/hubspot/upsert-contact.js';
import { PermanentActionError } from '../../../src/errors.js';
import { Secret } from '../../../src/secret.js';
import { startHubspotFake, type HubspotFake, type HubspotFakeOptions } from '../../fakes/hubspot-fake.js';
import { captureLogger, openTestRedis, testConfig, testContext, testDeps, type TestRedis } from './support.js';

const TOKEN = 'pat-na1-HUBSPOT-DOCUMENTED-token-77aa';
const CUSTOM = ['affiliate_source', 'affiliate_campaign', 'affiliate_score'];

/** The validation messages of params, or [] when valid. */
function problemsOf(params: unknown): string[] {
  try {
    hubspotUpsertContactParams.validateSync(params, { abortEarly: false });
    return [];
  } catch (error) {
    if (error instanceof yup.ValidationError) return error.errors;
    throw error;
  }
}

describe('actions/hubspot against HubSpot\'s documented behaviour', () => {
  let testRedis: TestRedis;
  let fake: HubspotFake;
  let runner: ActionRunner<HubspotUpsertContactParams> | undefined;
  const { logger } = captureLogger();

  beforeEach(async () => {
    testRedis = await openTestRedis();
    runner = undefined;
  });

  afterEach(async () => {
    await runner?.close?.();
    await fake?.close();
    await testRedis.cleanup();
  });

  async function connect(fakeOptions: HubspotFakeOptions = {}, options: HubspotUpsertContactOptions = {}): Promise<ActionRunner<HubspotUpsertContactParams>> {
    fake = await startHubspotFake({ token: TOKEN, properties: CUSTOM, ...fakeOptions });
    const config = testConfig({ integrations: { HUBSPOT_BASE_URL: fake.url, HUBSPOT_ACCESS_TOKEN: new Secret(TOKEN), HUBSPOT_REQUESTS_PER_10_SECONDS: 10_000 } });
    runner = connectHubspotUpsertContact(testDeps({ config, redis: testRedis.redis, keyPrefix: testRedis.keyPrefix, logger }), options);
    return runner;
  }

  const upsertCalls = () => fake.calls.filter((call) => call.path === '/crm/v3/objects/contacts/batch/upsert');
  const reasonOf = (outcome: PromiseSettledResult<unknown>) => (outcome as PromiseRejectedResult).reason as PermanentActionError;

  describe('1. a conflict fails the whole batch (409 CONFLICT)', () => {
    it('fails only the conflicting upsert, with HubSpot\'s message; the other 9 succeed', async () => {
      const active = await connect();
      await active.execute({ email: 'owner@example.com' }, testContext(logger));
      fake.addSecondaryEmail('owner@example.com', 'alias@example.com');
      const emails = Array.from({ length: 10 }, (_, index) => (index === 6 ? 'alias@example.com' : `lead${index}@example.com`));
      const settled = await Promise.allSettled(emails.map((email) => active.execute({ email, properties: { affiliate_source: 'x' } }, testContext(logger))));

      expect(settled.map((outcome) => outcome.status)).to.deep.equal(emails.map((email) => (email === 'alias@example.com' ? 'rejected' : 'fulfilled')));
      const error = reasonOf(settled[6]);
      expect(error).to.be.instanceOf(PermanentActionError);
      expect(error.code).to.equal('conflict');
      expect(error.message).to.match(/^HubSpot reported a conflict: Contact already exists\. Existing ID: 1001 \(correlationId [0-9a-f-]+\)$/);
      for (const email of emails.filter((candidate) => candidate !== 'alias@example.com')) expect(fake.contacts.has(email)).to.equal(true);
      const batchCalls = upsertCalls().length - 1;
      console.log(`      409 among 10: ${batchCalls} batch calls`);
      expect(batchCalls).to.be.at.most(1 + 2 * Math.ceil(Math.log2(10)));
    });
  });

  describe('2. objectWriteTraceId: 207 with per-input errors, paired by id', () => {
    it('sends a distinct objectWriteTraceId on every input', async () => {
      const active = await connect();
      await Promise.all(['a@example.com', 'b@example.com', 'c@example.com'].map((email) => active.execute({ email }, testContext(logger))));
      const inputs = (upsertCalls()[0].body as { inputs: Array<{ objectWriteTraceId?: string }> }).inputs;
      const traceIds = inputs.map((input) => input.objectWriteTraceId);
      expect(traceIds.every((id) => typeof id === 'string' && id.length > 0)).to.equal(true);
      expect(new Set(traceIds).size).to.equal(3);
    });

    it('gives each job its own input\'s error and the others their own contact, in 1 call, though results come reversed', async () => {
      const active = await connect();
      const jobs: HubspotUpsertContactParams[] = [
        { email: 'one@example.com', properties: { affiliate_source: 'a' } },
        { email: 'two@example.com', properties: { affiliate_nonexistent: 'b' } },
        { email: 'three@example.com', properties: { affiliate_source: 'c' } },
        { email: 'four@example.com', properties: { affiliate_other_missing: 'd' } },
      ];
      const settled = await Promise.allSettled(jobs.map((params) => active.execute(params, testContext(logger))));
      expect(upsertCalls()).to.have.length(1);
      expect(upsertCalls()[0].status).to.equal(207);
      expect(settled.map((outcome) => outcome.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
      expect(reasonOf(settled[1]).message).to.include('Property \\"affiliate_nonexistent\\" does not exist');
      expect(reasonOf(settled[1]).message).not.to.include('affiliate_other_missing');
      expect(reasonOf(settled[3]).message).to.include('Property \\"affiliate_other_missing\\" does not exist');
      expect(reasonOf(settled[3]).code).to.equal('PROPERTY_DOESNT_EXIST');
      // The fake answers results in reverse order: pairing by position would swap these two.
      const contactIdOf = (outcome: PromiseSettledResult<ActionResult>) =>
        ((outcome as PromiseFulfilledResult<ActionResult>).value as Extract<ActionResult, { outcome: 'succeeded' }>).detail?.contactId;
      expect(contactIdOf(settled[0] as PromiseSettledResult<ActionResult>)).to.equal(fake.contacts.get('one@example.com')!.hs_object_id);
      expect(contactIdOf(settled[2] as PromiseSettledResult<ActionResult>)).to.equal(fake.contacts.get('three@example.com')!.hs_object_id);
    });

    for (const multiStatus of [true, false]) {
      it(`bounds the cost when every input fails for one reason (setup-properties never ran; ${multiStatus ? '207' : 'whole-batch 400'})`, async () => {
        const active = await connect({ properties: [], multiStatus });
        const emails = Array.from({ length: 40 }, (_, index) => `lead${index}@example.com`);
        const settled = await Promise.allSettled(emails.map((email) => active.execute({ email, properties: { affiliate_source: 'x' } }, testContext(logger))));
        expect(settled.every((outcome) => outcome.status === 'rejected')).to.equal(true);
        for (const outcome of settled) expect(reasonOf(outcome).code).to.equal('PROPERTY_DOESNT_EXIST');
        console.log(`      40 inputs, all with a missing property (${multiStatus ? '207' : '400'}): ${upsertCalls().length} calls (bisection: ${2 * 40 - 1})`);
        expect(upsertCalls()).to.have.length(1);
      });
    }

    it('with whole-batch 400s, fails the inputs that carry a missing property and sends the rest together', async () => {
      const active = await connect({ multiStatus: false });
      const jobs = Array.from({ length: 20 }, (_, index): HubspotUpsertContactParams => ({
        email: `lead${index}@example.com`,
        properties: index % 2 === 0 ? { affiliate_source: 'x' } : { affiliate_missing: 'y' },
      }));
      const settled = await Promise.allSettled(jobs.map((params) => active.execute(params, testContext(logger))));
      expect(settled.map((outcome) => outcome.status)).to.deep.equal(jobs.map((_, index) => (index % 2 === 0 ? 'fulfilled' : 'rejected')));
      console.log(`      20 inputs, 10 with a missing property (400): ${upsertCalls().length} calls`);
      expect(upsertCalls()).to.have.length(2);
    });
  });

  describe('3. an empty value clears a property: left out unless when_empty: clear', () => {
    it('keeps a CRM value when the template rendered empty, and reports it', async () => {
      const active = await connect();
      await active.execute({ email: 'kept@example.com', properties: { affiliate_campaign: 'Spring' } }, testContext(logger));
      const result = await active.execute({ email: 'kept@example.com', properties: { affiliate_campaign: '', affiliate_source: 'rewardful' } }, testContext(logger));
      expect(fake.contacts.get('kept@example.com')).to.include({ affiliate_campaign: 'Spring', affiliate_source: 'rewardful' });
      expect((upsertCalls()[1].body as { inputs: Array<{ properties: Record<string, string> }> }).inputs[0].properties).to.deep.equal({ affiliate_source: 'rewardful' });
      expect(result).to.deep.include({ outcome: 'succeeded' });
      expect((result as Extract<ActionResult, { outcome: 'succeeded' }>).detail?.notes).to.deep.equal([
        'property affiliate_campaign left out: it rendered empty, and an empty value would clear it in HubSpot (when_empty: clear does that on purpose)',
      ]);
    });

    it('clears it on purpose with when_empty: clear', async () => {
      const active = await connect();
      await active.execute({ email: 'cleared@example.com', properties: { affiliate_campaign: 'Spring' } }, testContext(logger));
      await active.execute({ email: 'cleared@example.com', properties: { affiliate_campaign: { value: '', when_empty: 'clear' } } }, testContext(logger));
      expect(fake.contacts.get('cleared@example.com')).not.to.have.property('affiliate_campaign');
    });

    it('explains omissions for simulate', () => {
      expect(hubspotUpsertContact.explain!({ email: 'a@example.com', properties: { affiliate_campaign: '  ', affiliate_source: 'x', affiliate_score: { value: '', when_empty: 'clear' } } })).to.deep.equal([
        'property affiliate_campaign left out: it rendered empty, and an empty value would clear it in HubSpot (when_empty: clear does that on purpose)',
        'property affiliate_score cleared: it rendered empty and says when_empty: clear',
      ]);
    });
  });

  describe('4. emails: one contact per address, refused addresses at planning', () => {
    it('sends the id trimmed and lower-cased, so two spellings are one contact where HubSpot matches exactly', async () => {
      const active = await connect();
      await active.execute({ email: 'Jane.Doe@Example.COM', properties: { affiliate_source: 'a' } }, testContext(logger));
      await active.execute({ email: ' jane.doe@example.com ', properties: { affiliate_campaign: 'b' } }, testContext(logger));
      expect([...fake.contacts.keys()]).to.deep.equal(['jane.doe@example.com']);
      expect(fake.contacts.get('jane.doe@example.com')).to.include({ affiliate_source: 'a', affiliate_campaign: 'b' });
    });

    it('refuses an address HubSpot would refuse in the params schema, naming the field', () => {
      expect(problemsOf({ email: '[email\u00a0protected]' })).to.deep.equal(['email [email\u00a0protected] is not an address HubSpot accepts']);
      expect(problemsOf({ email: 'ops@localhost' })).to.deep.equal(['email ops@localhost is not an address HubSpot accepts']);
      expect(problemsOf({ email: ' Jane.Doe@Example.COM ' })).to.deep.equal([]);
      expect(problemsOf({ email: '{{ data.email }}' })).to.deep.equal([]);
      expect(problemsOf({ email: '' })).to.deep.equal(['email must not be empty']);
    });
  });

  describe('6. typed properties', () => {
    it('writes typed values in HubSpot\'s form, and refuses what the type cannot hold before any call', async () => {
      const active = await connect({
        properties: [...CUSTOM, { name: 'affiliate_amount', type: 'number' }, { name: 'affiliate_paid', type: 'bool' }, { name: 'affiliate_at', type: 'datetime' }, { name: 'affiliate_state', type: 'enumeration', options: ['pending', 'paid'] }],
      });
      await active.execute(
        {
          email: 'typed@example.com',
          properties: {
            affiliate_amount: { value: ' 12.50 ', type: 'number' },
            affiliate_paid: { value: 'Yes', type: 'bool' },
            affiliate_at: { value: '2024-10-03T13:45:20.103Z', type: 'datetime' },
            affiliate_state: { value: 'paid', type: 'enumeration', options: ['pending', 'paid'] },
          },
        },
        testContext(logger),
      );
      expect(fake.contacts.get('typed@example.com')).to.include({ affiliate_amount: '12.5', affiliate_paid: 'true', affiliate_at: '2024-10-03T13:45:20.103Z', affiliate_state: 'paid' });
      const before = upsertCalls().length;
      let error: unknown;
      try {
        await active.execute({ email: 'typed@example.com', properties: { affiliate_amount: { value: '12 EUR', type: 'number' } } }, testContext(logger));
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(PermanentActionError);
      expect(error).to.include({ code: 'invalid_property_value', message: 'HubSpot would refuse these property values: affiliate_amount: "12 EUR" is not a number' });
      expect(upsertCalls()).to.have.length(before);
    });

    it('validates the object form strictly, with exact messages', () => {
      expect(problemsOf({ email: 'a@example.com', properties: { hs_object_id: '1' } })).to.deep.equal(['property hs_object_id is read-only in HubSpot (HubSpot sets it itself): remove it']);
      expect(problemsOf({ email: 'a@example.com', properties: { createdate: '{{ event.occurredAt }}' } })).to.deep.equal(['property createdate is read-only in HubSpot (HubSpot sets it itself): remove it']);
      expect(problemsOf({ email: 'a@example.com', properties: { lastmodifieddate: 'x' } })).to.deep.equal(['property lastmodifieddate is read-only in HubSpot (HubSpot sets it itself): remove it']);
      expect(problemsOf({ email: 'a@example.com', properties: { amount: { value: '1', kind: 'number' } } })).to.deep.equal(['unknown key kind in property amount: a property takes value, type, options, when_empty, write']);
      expect(problemsOf({ email: 'a@example.com', properties: { amount: { type: 'number' } } })).to.deep.equal(['property amount needs value']);
      expect(problemsOf({ email: 'a@example.com', properties: { amount: { value: '1', type: 'money' } } })).to.deep.equal(['property amount: type must be one of string, number, datetime, bool, enumeration']);
      expect(problemsOf({ email: 'a@example.com', properties: { amount: { value: '1', when_empty: 'wipe' } } })).to.deep.equal(['property amount: when_empty must be skip or clear']);
      expect(problemsOf({ email: 'a@example.com', properties: { state: { value: 'x', type: 'enumeration' } } })).to.deep.equal(['property state: an enumeration needs options, a non-empty list of its internal values']);
      expect(problemsOf({ email: 'a@example.com', properties: { state: { value: 'x', options: ['x'] } } })).to.deep.equal(['property state: options belong to type enumeration only']);
      expect(problemsOf({ email: 'a@example.com', properties: { amount: { value: '{{ data.amount }}', type: 'number', when_empty: 'clear' } } })).to.deep.equal([]);
    });

    it('prepares a rendered upsert purely: normalized email, omissions, typed values', () => {
      expect(prepareUpsert({ email: 'A@B.co', properties: { n: { value: '7', type: 'number' }, e: '' } })).to.deep.equal({
        email: 'a@b.co',
        properties: { n: '7' },
        omitted: ['e'],
        invalid: [],
        writeIfEmpty: [],
        notes: [
          'email sent as a@b.co (trimmed, lower-cased; rendered "A@B.co")',
          'property e left out: it rendered empty, and an empty value would clear it in HubSpot (when_empty: clear does that on purpose)',
        ],
      });
    });
  });
});

describe('actions/hubspot setup-properties with types', () => {
  let fake: HubspotFake;
  let client: HubspotClient;

  beforeEach(async () => {
    fake = await startHubspotFake({ token: TOKEN, properties: ['affiliate_source', { name: 'affiliate_state', type: 'enumeration', options: ['pending'] }, 'affiliate_total'] });
    client = createHubspotClient({ accessToken: new Secret(TOKEN), baseUrl: fake.url, timeoutMs: 2_000, now: Date.now });
  });

  afterEach(async () => {
    client.close();
    await fake.close();
  });

  const declarations = [
    { name: 'affiliate_amount', type: 'number' as const },
    { name: 'affiliate_paid', type: 'bool' as const },
    { name: 'affiliate_paid_at', type: 'datetime' as const },
    { name: 'affiliate_tier', type: 'enumeration' as const, options: ['gold', 'silver'] },
    { name: 'affiliate_state', type: 'enumeration' as const, options: ['pending', 'paid', 'voided'] },
    { name: 'affiliate_total', type: 'number' as const },
    { name: 'affiliate_source' },
  ];

  it('creates number, datetime, bool and enumeration properties as declared', async () => {
    const report = await setupHubspotProperties({ client, properties: declarations });
    expect(report.created).to.deep.equal(['affiliate_amount', 'affiliate_paid', 'affiliate_paid_at', 'affiliate_tier']);
    expect(fake.properties.get('affiliate_amount')).to.include({ type: 'number', fieldType: 'number', groupName: 'affiliate' });
    expect(fake.properties.get('affiliate_paid_at')).to.include({ type: 'datetime', fieldType: 'date' });
    expect(fake.properties.get('affiliate_paid')).to.deep.include({ type: 'bool', fieldType: 'booleancheckbox', options: [{ label: 'Yes', value: 'true' }, { label: 'No', value: 'false' }] });
    expect(fake.properties.get('affiliate_tier')).to.deep.include({ type: 'enumeration', fieldType: 'select', options: [{ label: 'Gold', value: 'gold' }, { label: 'Silver', value: 'silver' }] });
  });

  it('dry run compares with the account: missing options and a different type', async () => {
    const report = await setupHubspotProperties({ client, properties: declarations, dryRun: true });
    expect(report.mismatches).to.deep.equal([
      { name: 'affiliate_state', problem: 'affiliate_state in HubSpot lacks the options paid, voided: HubSpot refuses those values until an admin adds them' },
      { name: 'affiliate_total', problem: 'affiliate_total is string in HubSpot, the rules declare number' },
    ]);
    expect(report.wouldCreate).to.deep.equal(['affiliate_amount', 'affiliate_paid', 'affiliate_paid_at', 'affiliate_tier']);
    expect(fake.calls.filter((call) => call.method === 'POST')).to.deep.equal([]);
  });

  it('dry run works offline, without a client', async () => {
    const report = await setupHubspotProperties({ client: null, properties: declarations, dryRun: true });
    expect(report).to.deep.include({ isOffline: true, existing: [], mismatches: [] });
    expect(report.wouldCreate).to.have.length(declarations.length);
  });
});
