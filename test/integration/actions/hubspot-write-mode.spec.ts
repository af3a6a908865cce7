import { expect } from 'chai';
import type { ActionRunner } from '../../../src/actions/action.js';
import type { HubspotUpsertContactParams } from '../../../src/actions/hubspot/params.js';
import { hubspotUpsertContactParams } from '../../../src/actions/hubspot/params.js';
import { connectHubspotUpsertContact } from '../../../src/actions/hubspot/upsert-contact.js';
import { Secret } from '../../../src/secret.js';
import { startHubspotFake, type HubspotFake } from '../../fakes/hubspot-fake.js';
import { captureLogger, openTestRedis, testConfig, testContext, testDeps, type TestRedis } from './support.js';

const TOKEN = 'pat-na1-HUBSPOT-WRITE-MODE-token-91c2';
const READ_PATH = '/crm/v3/objects/contacts/batch/read';
const UPSERT_PATH = '/crm/v3/objects/contacts/batch/upsert';

/**
 * `write: if_empty` against the HubSpot fake with the real SDK: a sign-up that names someone else's
 * email cannot overwrite their name, and a new contact still gets it.
 */
describe('actions/hubspot upsert_contact: write: if_empty', () => {
  let testRedis: TestRedis;
  let fake: HubspotFake;
  let runner: ActionRunner<HubspotUpsertContactParams>;
  const { logger } = captureLogger();

  beforeEach(async () => {
    testRedis = await openTestRedis();
    fake = await startHubspotFake({ token: TOKEN, properties: ['affiliate_source'] });
    const config = testConfig({ integrations: { HUBSPOT_BASE_URL: fake.url, HUBSPOT_ACCESS_TOKEN: new Secret(TOKEN), HUBSPOT_REQUESTS_PER_10_SECONDS: 10_000 } });
    runner = connectHubspotUpsertContact(testDeps({ config, redis: testRedis.redis, keyPrefix: testRedis.keyPrefix, logger }), { batchWindowMs: 20 });
  });

  afterEach(async () => {
    await runner.close?.();
    await fake.close();
    await testRedis.cleanup();
  });

  const signUp = (email: string, firstname: string, source = 'firstpromoter') =>
    runner.execute(
      { email, properties: { firstname: { value: firstname, write: 'if_empty' }, lastname: { value: 'Intruder', write: 'if_empty' }, affiliate_source: source } },
      testContext(logger),
    );

  it("keeps an existing contact's name, writes the always properties, and says which it kept", async () => {
    await runner.execute({ email: 'jane@example.com', properties: { firstname: 'Jane' } }, testContext(logger));
    const result = await signUp('jane@example.com', 'Mallory', 'rewardful');
    expect(result).to.deep.equal({
      outcome: 'succeeded',
      detail: {
        contactId: '1001',
        isNew: false,
        kept: ['firstname'],
        notes: [
          'property firstname written only if the contact has no value for it (write: if_empty; the contact is read first)',
          'property lastname written only if the contact has no value for it (write: if_empty; the contact is read first)',
        ],
      },
    });
    expect(fake.contacts.get('jane@example.com')).to.deep.include({ firstname: 'Jane', lastname: 'Intruder', affiliate_source: 'rewardful' });
    const read = fake.calls.filter((call) => call.path === READ_PATH);
    expect(read).to.have.length(1);
    expect(read[0].body).to.deep.equal({ idProperty: 'email', inputs: [{ id: 'jane@example.com' }], properties: ['email', 'firstname', 'lastname'], propertiesWithHistory: [] });
    // Never on the wire: the write mode stays in the bridge.
    expect(JSON.stringify(fake.calls.filter((call) => call.path === UPSERT_PATH).map((call) => call.body))).not.to.contain('writeIfEmpty');
  });

  it('writes every property of a contact the read does not find (207 OBJECT_NOT_FOUND), in the same batch as an existing one', async () => {
    await runner.execute({ email: 'jane@example.com', properties: { firstname: 'Jane', lastname: 'Doe' } }, testContext(logger));
    const [existing, created] = await Promise.all([signUp('jane@example.com', 'Mallory'), signUp('new@example.com', 'Nina')]);
    expect(existing).to.deep.include({ outcome: 'succeeded' });
    expect((existing as unknown as { detail: { kept: string[] } }).detail.kept).to.deep.equal(['firstname', 'lastname']);
    expect((created as { detail: Record<string, unknown> }).detail).to.deep.include({ isNew: true });
    expect((created as { detail: Record<string, unknown> }).detail).not.to.have.property('kept');
    expect(fake.contacts.get('jane@example.com')).to.deep.include({ firstname: 'Jane', lastname: 'Doe' });
    expect(fake.contacts.get('new@example.com')).to.deep.include({ firstname: 'Nina', lastname: 'Intruder' });
    // One read and one upsert for the batch of two.
    expect(fake.calls.filter((call) => call.path === READ_PATH)).to.have.length(1);
    expect(fake.calls.filter((call) => call.path === UPSERT_PATH)).to.have.length(2);
  });

  it('sends no read when no property says if_empty', async () => {
    await runner.execute({ email: 'jane@example.com', properties: { firstname: 'Jane', affiliate_source: 'x' } }, testContext(logger));
    expect(fake.calls.filter((call) => call.path === READ_PATH)).to.have.length(0);
  });

  it('refuses an unknown write mode with an exact message', () => {
    expect(() => hubspotUpsertContactParams.validateSync({ email: 'a@example.com', properties: { firstname: { value: 'x', write: 'never' } } })).to.throw(
      'property firstname: write must be always or if_empty',
    );
  });
});
