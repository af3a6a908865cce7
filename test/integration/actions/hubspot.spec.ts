import { expect } from 'chai';
import type { ActionResult, ActionRunner } from '../../../src/actions/action.js';
import { createHubspotClient, type HubspotClient } from '../../../src/actions/hubspot/client.js';
import { msUntilNextMidnightUtc } from '../../../src/actions/hubspot/errors.js';
import { hubspotHoldKey } from '../../../src/actions/hubspot/state.js';
import type { HubspotUpsertContactParams } from '../../../src/actions/hubspot/params.js';
import { labelFromPropertyName, setupHubspotProperties } from '../../../src/actions/hubspot/setup-properties.js';
import {
  connectHubspotUpsertContact,
  type HubspotUpsertContactOptions,
} from '../../../src/actions/hubspot/upsert-contact.js';
import { PermanentActionError } from '../../../src/errors.js';
import { Secret } from '../../../src/secret.js';
import { startHubspotFake, type HubspotFake } from '../../fakes/hubspot-fake.js';
import { captureLogger, openTestRedis, rejectionOf, testConfig, testContext, testDeps, type TestRedis } from './support.js';

const TOKEN = 'pat-na1-HUBSPOT-SPEC-token-5e7d';

describe('actions/hubspot upsert_contact', () => {
  let testRedis: TestRedis;
  let fake: HubspotFake;
  let runner: ActionRunner<HubspotUpsertContactParams> | undefined;
  const { logger } = captureLogger();

  beforeEach(async () => {
    testRedis = await openTestRedis();
    fake = await startHubspotFake({ token: TOKEN, properties: ['affiliate_source', 'affiliate_suspicion', 'affiliate_score'] });
    runner = undefined;
  });

  afterEach(async () => {
    await runner?.close?.();
    await fake.close();
    await testRedis.cleanup();
  });

  function connect(options: HubspotUpsertContactOptions = {}, requestsPer10Seconds = 10_000): ActionRunner<HubspotUpsertContactParams> {
    const config = testConfig({
      integrations: {
        HUBSPOT_BASE_URL: fake.url,
        HUBSPOT_ACCESS_TOKEN: new Secret(TOKEN),
        HUBSPOT_REQUESTS_PER_10_SECONDS: requestsPer10Seconds,
      },
    });
    runner = connectHubspotUpsertContact(testDeps({ config, redis: testRedis.redis, keyPrefix: testRedis.keyPrefix, logger }), options);
    return runner;
  }

  const upsertCalls = () => fake.calls.filter((call) => call.path === '/crm/v3/objects/contacts/batch/upsert');

  it('sends one batch upsert with idProperty email and string values', async () => {
    const result = await connect().execute(
      { email: 'lead@example.com', properties: { affiliate_source: 'firstpromoter', affiliate_score: 7 } },
      testContext(logger),
    );
    expect(result).to.deep.equal({ outcome: 'succeeded', detail: { contactId: '1001', isNew: true } });
    expect(upsertCalls()).to.have.length(1);
    expect(upsertCalls()[0].token).to.equal(TOKEN);
    expect(upsertCalls()[0].body).to.deep.equal({
      inputs: [{ id: 'lead@example.com', idProperty: 'email', objectWriteTraceId: 't1', properties: { affiliate_source: 'firstpromoter', affiliate_score: '7' } }],
    });
    expect(fake.contacts.get('lead@example.com')).to.include({ affiliate_source: 'firstpromoter', affiliate_score: '7' });
  });

  it('batches 10 concurrent executes into 1 call with 10 inputs, each caller getting its own contact', async () => {
    const active = connect();
    const emails = Array.from({ length: 10 }, (_, index) => `lead${index}@example.com`);
    const results = await Promise.all(
      emails.map((email) => active.execute({ email, properties: { affiliate_source: 'rewardful' } }, testContext(logger))),
    );
    expect(upsertCalls()).to.have.length(1);
    expect((upsertCalls()[0].body as { inputs: unknown[] }).inputs).to.have.length(10);
    const ids = results.map((result) => (result as Extract<ActionResult, { outcome: 'succeeded' }>).detail?.contactId);
    expect(new Set(ids).size).to.equal(10);
    for (const email of emails) expect(fake.contacts.has(email)).to.equal(true);
  });

  it('sends a full batch at once when maxBatchInputs is reached', async () => {
    const active = connect({ maxBatchInputs: 3, batchWindowMs: 5_000 });
    const started = Date.now();
    await Promise.all(
      ['a', 'b', 'c'].map((name) => active.execute({ email: `${name}@example.com` }, testContext(logger))),
    );
    expect(Date.now() - started).to.be.lessThan(1_000);
    expect(upsertCalls()).to.have.length(1);
  });

  it('merges 3 updates to the same email (mixed case) into 1 input, sent lower-cased, later properties winning', async () => {
    const active = connect();
    const results = await Promise.all([
      active.execute({ email: 'Mixed.Case@Example.com', properties: { affiliate_source: 'first', affiliate_score: 1 } }, testContext(logger)),
      active.execute({ email: 'mixed.case@example.com', properties: { affiliate_suspicion: 'same_ip' } }, testContext(logger)),
      active.execute({ email: 'MIXED.CASE@EXAMPLE.COM', properties: { affiliate_source: 'last' } }, testContext(logger)),
    ]);
    expect(upsertCalls()).to.have.length(1);
    expect(upsertCalls()[0].body).to.deep.equal({
      inputs: [
        {
          id: 'mixed.case@example.com',
          idProperty: 'email',
          objectWriteTraceId: 't1',
          properties: { affiliate_source: 'last', affiliate_score: '1', affiliate_suspicion: 'same_ip' },
        },
      ],
    });
    expect(results.map((result) => result.outcome)).to.deep.equal(['succeeded', 'succeeded', 'succeeded']);
  });

  it('fails only the bad email of a batch; the good ones succeed', async () => {
    const active = connect();
    const emails = ['good1@example.com', 'not-an-email', 'good2@example.com', 'good3@example.com', 'good4@example.com'];
    const settled = await Promise.allSettled(
      emails.map((email) => active.execute({ email, properties: { affiliate_source: 'x' } }, testContext(logger))),
    );
    expect(settled.map((outcome) => outcome.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    const error = (settled[1] as PromiseRejectedResult).reason;
    expect(error).to.be.instanceOf(PermanentActionError);
    expect(error.code).to.equal('INVALID_EMAIL');
    expect(error.message).to.include('Email address not-an-email is invalid');
    for (const email of ['good1@example.com', 'good2@example.com', 'good3@example.com', 'good4@example.com']) {
      expect(fake.contacts.has(email)).to.equal(true);
    }
    // The first call failed whole; bisection isolated the bad input in about 2·log2(n) calls.
    expect(upsertCalls().length).to.be.at.most(1 + 2 * Math.ceil(Math.log2(emails.length)));
  });

  it('fails every caller of a batch alike on a 429 and a 401', async () => {
    const active = connect();
    fake.script({ kind: 'rate_limit', policy: 'TEN_SECONDLY_ROLLING', retryAfterSeconds: 2 });
    const rateLimited = await Promise.allSettled(
      ['a@example.com', 'b@example.com'].map((email) => active.execute({ email }, testContext(logger))),
    );
    for (const outcome of rateLimited) {
      expect(outcome.status).to.equal('rejected');
      expect((outcome as PromiseRejectedResult).reason).to.include({ code: 'rate_limit_ten_secondly', retryAfterMs: 2000, isRateLimit: true });
    }
    // The 429 holds the account for every worker for its 2 s; stand for that time having passed.
    await testRedis.redis.del(hubspotHoldKey(testRedis.keyPrefix));
    fake.script({ kind: 'http_status', status: 401 });
    const unauthorized = await Promise.allSettled(
      ['a@example.com', 'b@example.com'].map((email) => active.execute({ email }, testContext(logger))),
    );
    expect(unauthorized.map((outcome) => (outcome as PromiseRejectedResult).reason?.code)).to.deep.equal(['unauthorized', 'unauthorized']);
    // No bisection for errors that concern the whole call.
    expect(upsertCalls()).to.have.length(2);
  });

  it('keeps HubSpot under its window limit by pacing batch calls across the account', async function () {
    this.timeout(10_000);
    await fake.close();
    fake = await startHubspotFake({ token: TOKEN, windowLimit: { maxRequests: 3, windowMs: 1_000 } });
    // 20 requests per 10 s = one call every 500 ms: at most 2-3 per rolling second.
    const active = connect({ batchWindowMs: 1, maxBatchInputs: 1, maxPaceWaitMs: 5_000 }, 20);
    const emails = Array.from({ length: 5 }, (_, index) => `paced${index}@example.com`);
    const results = await Promise.all(emails.map((email) => active.execute({ email }, testContext(logger))));
    expect(results.every((result) => result.outcome === 'succeeded')).to.equal(true);
    expect(fake.rateLimited()).to.equal(0);
    expect(upsertCalls()).to.have.length(5);
  });

  it('rejects a caller whose signal aborts while its batch waits', async () => {
    const active = connect({ batchWindowMs: 300 });
    const controller = new AbortController();
    const pending = active.execute({ email: 'slow@example.com' }, testContext(logger, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 20);
    const error = await rejectionOf(pending);
    expect(error).to.include({ code: 'timeout' });
  });

  it('computes the wait until the next midnight UTC for DAILY limits', () => {
    expect(msUntilNextMidnightUtc(Date.UTC(2024, 9, 3, 23, 59, 59))).to.equal(1000);
    expect(msUntilNextMidnightUtc(Date.UTC(2024, 11, 31, 12))).to.equal(12 * 3600 * 1000);
  });
});

describe('actions/hubspot setupHubspotProperties', () => {
  let fake: HubspotFake;
  let client: HubspotClient;

  beforeEach(async () => {
    fake = await startHubspotFake({ token: TOKEN, properties: ['affiliate_source'] });
    client = createHubspotClient({ accessToken: new Secret(TOKEN), baseUrl: fake.url, timeoutMs: 2_000, now: Date.now });
  });

  afterEach(async () => {
    client.close();
    await fake.close();
  });

  const writes = () => fake.calls.filter((call) => call.method === 'POST');

  it('dry run lists what it would create and creates nothing', async () => {
    const report = await setupHubspotProperties({
      client,
      propertyNames: ['affiliate_source', 'affiliate_suspicion', 'email', 'affiliate_promoter_email'],
      dryRun: true,
    });
    expect(report).to.deep.equal({
      existing: ['affiliate_source', 'email'],
      created: [],
      wouldCreate: ['affiliate_promoter_email', 'affiliate_suspicion'],
      groupCreated: true,
      mismatches: [],
      isOffline: false,
    });
    expect(writes()).to.deep.equal([]);
    expect(fake.groups.has('affiliate')).to.equal(false);
  });

  it('creates the affiliate group and only the missing properties', async () => {
    const report = await setupHubspotProperties({
      client,
      propertyNames: ['affiliate_source', 'affiliate_suspicion', 'affiliate_suspicion', 'affiliate_promoter_email'],
    });
    expect(report).to.deep.equal({
      existing: ['affiliate_source'],
      created: ['affiliate_promoter_email', 'affiliate_suspicion'],
      wouldCreate: [],
      groupCreated: true,
      mismatches: [],
      isOffline: false,
    });
    expect(fake.groups.get('affiliate')).to.include({ label: 'Affiliate' });
    expect(fake.properties.get('affiliate_suspicion')).to.deep.equal({
      name: 'affiliate_suspicion',
      label: 'Affiliate suspicion',
      type: 'string',
      fieldType: 'text',
      groupName: 'affiliate',
    });
    expect(writes().map((call) => call.path)).to.deep.equal([
      '/crm/v3/properties/contacts/groups',
      '/crm/v3/properties/contacts',
      '/crm/v3/properties/contacts',
    ]);

    // A second run finds everything and writes nothing.
    const again = await setupHubspotProperties({ client, propertyNames: ['affiliate_suspicion', 'affiliate_promoter_email'] });
    expect(again).to.deep.equal({
      existing: ['affiliate_promoter_email', 'affiliate_suspicion'],
      created: [],
      wouldCreate: [],
      groupCreated: false,
      mismatches: [],
      isOffline: false,
    });
    expect(writes()).to.have.length(3);
  });

  it('derives labels from internal names', () => {
    expect(labelFromPropertyName('affiliate_promoter_email')).to.equal('Affiliate promoter email');
  });
});
