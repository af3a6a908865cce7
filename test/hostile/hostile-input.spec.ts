import { readdir, readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type * as yup from 'yup';
import { bridgeKeys } from '../../src/queue/names.js';
import { CLASSIC_EVENT_TYPES, classicDataSchemas, V2_EVENT_TYPES, v2DataSchemas, v2EnvelopeSchema } from '../../src/sources/firstpromoter/schemas.js';
import { REWARDFUL_EVENT_TYPES, rewardfulObjectSchemas } from '../../src/sources/rewardful/schemas.js';
import { checkPayload } from '../../src/sources/schema-fields.js';
import { DEFAULT_STRIPPED_FIELDS as DEFAULT_SECRET_FIELDS } from '../../src/sources/registry.js';
import type { BridgeProcess } from '../support/bridge-process.js';
import { runCli } from '../support/bridge-process.js';
import { FaultStack, ReliabilityReport, sleep, warmUpWorkers } from '../support/fault-harness.js';
import { postFirstPromoter, postRewardful, readJson, signRewardful } from '../support/intake-app.js';
import { waitFor } from '../support/redis.js';
import { describeSchema, formatPath, listWrongTypeCases, minimalRecord, setPath, type WrongTypeCase } from '../support/schema-cases.js';

/*
 * Hostile input against the real process with the SHIPPED rules: each input gets its documented
 * answer, the process keeps serving, and nothing reaches Slack or HubSpot that should not. Every
 * delivery that should fire carries a marker; the last test checks that the fakes got exactly the
 * expected markers, once each.
 *
 * Documented answers (DESIGN.md, HTTP): 401 bad auth; 400 `{ error }` for a body that is not JSON,
 * not UTF-8, not an object or has no envelope; 413 over BODY_LIMIT; an authenticated parseable
 * delivery whose payload fails its schema (wrong types, unknown type, nesting past 32 levels, an
 * array too long to check) is stored as quarantined with a 2xx and fires nothing. The schema check
 * runs in the events worker, not in the request, so quarantine is asserted on the end result
 * (`events quarantined --json`, the fakes), never on the HTTP answer.
 */

const fixture = async (name: string) => JSON.parse(await readFile(new URL(`../fixtures/deliveries/${name}`, import.meta.url), 'utf8'));
const INJECTION = '<!channel> <!here> <@U123> <https://evil|click>';
const ESCAPED_INJECTION = '&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &lt;https://evil|click&gt;';
const CREATED_AT = '2024-10-03T13:45:20.103Z';
/** The custom contact properties the shipped rules write (created by `hubspot setup-properties`). */
const SHIPPED_PROPERTIES = ['affiliate_status', 'affiliate_suspicion', 'affiliate_referral_link', 'affiliate_campaign', 'affiliate_source', 'referred_by_affiliate'];

/** A FirstPromoter classic delivery: the envelope around `data`. */
function classic(eventId: number, type: string, data: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { event: { id: eventId, type, created_at: CREATED_AT }, data, ...extra };
}

function nestedObject(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

describe('hostile input (real process, shipped rules, fake Slack and HubSpot)', function () {
  this.timeout(120_000);
  const report = new ReliabilityReport('hostile/input');
  let stack: FaultStack;
  let bridge: BridgeProcess;
  let redis: Redis;
  let lead: { event: Record<string, unknown>; data: Record<string, any> };
  let reward: { event: Record<string, unknown>; data: Record<string, any> };
  let signedUp: { event: Record<string, unknown>; data: Record<string, any> };
  let accepted: { event: Record<string, unknown>; data: Record<string, any> };
  let converted: { event: Record<string, unknown>; object: Record<string, any> };
  /** Markers of Slack messages that must arrive, exactly once each. */
  const expectedSlackMarkers: string[] = [];
  /** Event ids that must end up quarantined. */
  const expectedQuarantined: string[] = [];
  let sent = 0;
  let acknowledged = 0;
  let rejected = 0;
  let warmedAt = 0;

  /** A suspicious lead (fires `suspicious-lead-alert` to #affiliate-fraud) whose lead email is the marker. */
  const suspiciousLead = (eventId: number, marker: string) => {
    const delivery = structuredClone(lead);
    delivery.event.id = eventId;
    delivery.data.suspicion = 'self_referral';
    delivery.data.email = marker;
    return delivery;
  };
  const fp = async (body: string | Buffer, auth?: Parameters<typeof postFirstPromoter>[2], headers?: Record<string, string>) => {
    sent += 1;
    const response = await postFirstPromoter(bridge.baseUrl, body, auth, headers);
    if (response.ok) acknowledged += 1;
    else rejected += 1;
    return response;
  };
  const rw = async (body: string, signature?: string | null) => {
    sent += 1;
    const response = await postRewardful(bridge.baseUrl, body, signature === undefined ? signRewardful(body) : signature);
    if (response.ok) acknowledged += 1;
    else rejected += 1;
    return response;
  };
  const isStored = async (eventId: string) => (await redis.exists(bridgeKeys('faults').trace(eventId))) === 1;
  const slackTexts = () => stack.slack.received.map((message) => message.text ?? '');

  before(async function () {
    this.timeout(60_000);
    report.start();
    const rulesDir = new URL('../../rules/', import.meta.url);
    const rules: Record<string, string> = {};
    for (const name of (await readdir(rulesDir)).filter((file) => file.endsWith('.yaml'))) {
      rules[name] = await readFile(new URL(name, rulesDir), 'utf8');
    }
    stack = await FaultStack.start({ rules, hubspot: { properties: SHIPPED_PROPERTIES } });
    bridge = await stack.startBridge('start', {}, { supervised: true });
    redis = new Redis(stack.redis.url);
    [lead, reward, signedUp, accepted, converted] = await Promise.all([
      fixture('firstpromoter/lead_signup.json'),
      fixture('firstpromoter/reward_created.json'),
      fixture('firstpromoter/promoter_signed_up.json'),
      fixture('firstpromoter/promoter_accepted.json'),
      fixture('rewardful/referral.converted.json'),
    ]);
    await warmUpWorkers(() => stack.running('start'), async (attempt) => {
      bridge = stack.running('start')[0] ?? bridge;
      const marker = `warmup-${attempt}@example.com`;
      expectedSlackMarkers.push(marker);
      const promoter = structuredClone(signedUp);
      promoter.event.id = 9_000_101 + attempt;
      promoter.data.promoter.email = marker;
      // A crash while warming up (the pacing bug) restarts the process: its refused requests are retried.
      await fp(JSON.stringify(suspiciousLead(9_000_001 + attempt, marker))).catch(() => undefined);
      await fp(JSON.stringify(promoter)).catch(() => undefined);
    });
    bridge = stack.running('start')[0];
    warmedAt = Date.now();
  });

  after(async () => {
    report.add('hostile input, all cases', {
      sent,
      acknowledged,
      delivered: expectedSlackMarkers.filter((marker) => slackTexts().some((text) => text.includes(marker))).length,
      duplicated: expectedSlackMarkers.reduce((sum, marker) => sum + Math.max(0, slackTexts().filter((text) => text.includes(marker)).length - 1), 0),
      lost: expectedSlackMarkers.filter((marker) => !slackTexts().some((text) => text.includes(marker))).length,
      notes: { rejected4xx: rejected, slackMessagesExpected: expectedSlackMarkers.length, quarantined: expectedQuarantined.length },
    });
    await report.write().catch(() => undefined);
    redis?.disconnect();
    await stack?.destroy();
  });

  it('malformed, truncated, empty, non-UTF-8 and non-object bodies: 400 with the reason; none stored', async () => {
    const valid = JSON.stringify(suspiciousLead(9_100_001, 'truncated@example.com'));
    const invalidUtf8 = Buffer.concat([Buffer.from(valid.slice(0, 60)), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from(valid.slice(60))]);
    const cases: Array<{ name: string; body: string | Buffer; error: RegExp }> = [
      { name: 'malformed', body: '{"event": {"id": 9100002, "type": "lead_signup",, }', error: /^Body is not valid JSON: / },
      { name: 'truncated', body: valid.slice(0, Math.floor(valid.length / 2)), error: /^Body is not valid JSON: / },
      { name: 'invalid UTF-8', body: invalidUtf8, error: /^Body is not valid JSON: the body is not valid UTF-8$/ },
      { name: 'empty', body: '', error: /^Body is not valid JSON: the body is empty$/ },
      { name: 'an array nested 10,000 deep', body: `${'['.repeat(10_000)}${']'.repeat(10_000)}`, error: /^Body must be a JSON object, got an array$/ },
      { name: 'null', body: 'null', error: /^Body must be a JSON object, got null$/ },
      { name: 'a string', body: '"lead_signup"', error: /^Body must be a JSON object, got a string$/ },
      { name: 'no envelope', body: '{}', error: /^Body is not a FirstPromoter webhook: missing event\.id; missing event\.type$/ },
      { name: 'event type __proto__', body: JSON.stringify(classic(9_100_003, '__proto__', lead.data)), error: /^Body is not a FirstPromoter webhook: event\.type must be/ },
    ];
    for (const testCase of cases) {
      const response = await fp(testCase.body);
      expect(response.status, testCase.name).to.equal(400);
      expect(Object.keys(await readJson(response)), testCase.name).to.deep.equal(['error']);
    }
    // Bodies are checked again for the message only after the status, so a slow failure shows the case.
    for (const testCase of cases) {
      const body = await readJson(await postFirstPromoter(bridge.baseUrl, testCase.body));
      expect(body.error, testCase.name).to.match(testCase.error);
    }
    sent += cases.length;
    const rewardfulInvalid = await rw('{"event": {"id": "x", "type": "referral.converted"}, "object": {');
    expect(rewardfulInvalid.status).to.equal(400);
    expect(await isStored('firstpromoter-9100001')).to.equal(false);
    expect(await isStored('firstpromoter-9100003')).to.equal(false);
  });

  it('a 10 MB body and a 1,000,000-element array (2 MB) are over BODY_LIMIT (64kb by default): 413', async () => {
    const tenMegabytes = JSON.stringify(classic(9_200_001, 'lead_signup', { ...suspiciousLead(9_200_001, 'ten-mb@example.com').data, pad: 'x'.repeat(10 * 1024 * 1024) }));
    const millionItems = `{"event":{"id":9200002,"type":"lead_signup","created_at":"${CREATED_AT}"},"data":{"id":1,"items":[${'0,'.repeat(999_999)}0]}}`;
    for (const body of [tenMegabytes, millionItems]) {
      const response = await fp(body);
      expect(response.status).to.equal(413);
      expect(await readJson(response)).to.deep.equal({ error: 'Body is larger than BODY_LIMIT' });
    }
    expect(await isStored('firstpromoter-9200001')).to.equal(false);
    expect(await isStored('firstpromoter-9200002')).to.equal(false);
  });

  it('bad credentials: 401 { error: "Unauthorized" } for a missing or wrong token, and a Rewardful signature of the wrong length or for other bytes', async () => {
    const fpBody = JSON.stringify(suspiciousLead(9_300_001, 'unauthorized-fp@example.com'));
    const commission = (id: string) =>
      JSON.stringify({ event: { id, type: 'commission.created', created_at: CREATED_AT }, object: { id: 'c-1', amount: 100, currency: 'USD', affiliate: { id: 'a-1', email: 'unauthorized-rw@example.com' } } });
    const rwBody = commission('hostile-unauth-1');
    const signature = signRewardful(rwBody);
    const answers = [
      await fp(fpBody, { none: true }),
      await fp(fpBody, { bearer: 'fp-wrong-token' }),
      await fp(fpBody, { query: 'fp-wrong-token' }),
      await rw(rwBody, null),
      await rw(rwBody, signature.slice(0, 63)),
      await rw(rwBody, `${signature}00`),
      await rw(rwBody, signature.slice(0, 32)),
      await rw(rwBody, signRewardful(commission('hostile-unauth-2'))),
      await rw(rwBody, signRewardful(rwBody, 'another-secret')),
    ];
    expect(answers.map((response) => response.status)).to.deep.equal(Array(answers.length).fill(401));
    for (const response of answers) expect(await readJson(response)).to.deep.equal({ error: 'Unauthorized' });
    expect(await isStored('firstpromoter-9300001')).to.equal(false);
    expect(await isStored('rewardful-hostile-unauth-1')).to.equal(false);
  });

  it('authenticated JSON sent as text/plain (or with no content type) is stored and processed once', async () => {
    expectedSlackMarkers.push('text-plain@example.com', 'no-content-type@example.com');
    const plain = await fp(JSON.stringify(suspiciousLead(9_400_001, 'text-plain@example.com')), {}, { 'Content-Type': 'text/plain' });
    const none = await fp(JSON.stringify(suspiciousLead(9_400_002, 'no-content-type@example.com')), {}, {});
    expect([plain.status, none.status]).to.deep.equal([202, 202]);
    await waitFor(() => ['text-plain@example.com', 'no-content-type@example.com'].every((marker) => slackTexts().some((text) => text.includes(marker))), 15_000);
  });

  it('the same delivery replayed 100 times at once: 100 × 2xx, processed once (FirstPromoter → Slack, Rewardful → HubSpot)', async () => {
    expectedSlackMarkers.push('replayed-100@example.com');
    const fpBody = JSON.stringify(suspiciousLead(9_500_001, 'replayed-100@example.com'));
    const delivery = structuredClone(converted);
    delivery.event.id = 'hostile-replay-100';
    delivery.object.customer.email = 'replayed-customer@example.com';
    const rwBody = JSON.stringify(delivery);
    const [fpAnswers, rwAnswers] = await Promise.all([
      Promise.all(Array.from({ length: 100 }, () => fp(fpBody))),
      Promise.all(Array.from({ length: 100 }, () => rw(rwBody))),
    ]);
    expect(fpAnswers.map((response) => response.status)).to.deep.equal(Array(100).fill(202));
    expect(rwAnswers.map((response) => response.status)).to.deep.equal(Array(100).fill(200));
    const outcomes = await Promise.all([...fpAnswers, ...rwAnswers].map(async (response) => (await readJson(response)).outcome as string));
    expect(outcomes.filter((outcome) => outcome === 'stored'), 'one stored per source, the rest duplicates').to.have.length(2);
    expect(outcomes.filter((outcome) => outcome === 'duplicate')).to.have.length(198);
    await waitFor(() => stack.hubspot.contacts.get('replayed-customer@example.com'), 15_000);
    await waitFor(() => slackTexts().some((text) => text.includes('replayed-100@example.com')), 15_000);
    await sleep(1_500);
    expect(slackTexts().filter((text) => text.includes('replayed-100@example.com'))).to.have.length(1);
    expect(stack.hubspot.upsertsByEmail().get('replayed-customer@example.com')).to.equal(1);
  });

  it('__proto__, constructor and prototype keys stay plain data: nothing inherited fires a rule, nothing is polluted', async () => {
    // The lead has no suspicion of its own; every inherited-looking path says "self_referral".
    const polluting = structuredClone(lead);
    polluting.event.id = 9_600_001;
    delete polluting.data.suspicion;
    polluting.data.email = 'proto-no-fire@example.com';
    const pollutingJson = JSON.stringify(polluting).replace(
      '"data":{',
      '"__proto__":{"suspicion":"self_referral"},"constructor":{"prototype":{"suspicion":"self_referral"}},' +
        '"data":{"__proto__":{"suspicion":"self_referral","polluted":true},"prototype":{"suspicion":"self_referral"},' +
        '"custom_fields":{"constructor":{"prototype":{"suspicion":"self_referral"}},"__proto__":{"suspicion":"self_referral"}},',
    ).replace('"custom_fields":null,', '');
    expect(pollutingJson).to.contain('"data":{"__proto__"');
    // The same keys beside a real suspicion: processed as usual.
    expectedSlackMarkers.push('proto-fires@example.com');
    const withKeys = JSON.stringify(suspiciousLead(9_600_002, 'proto-fires@example.com')).replace(
      '"data":{',
      '"data":{"__proto__":{"email":"evil@example.com"},"prototype":null,',
    );
    // A type named like an Object.prototype member is an unknown type, not a crash.
    const constructorType = JSON.stringify(classic(9_600_003, 'constructor', { ...lead.data, suspicion: 'self_referral', email: 'proto-type@example.com' }));
    const toStringType = JSON.stringify({ event: { id: 'hostile-proto-type', type: 'toString', created_at: CREATED_AT }, object: { id: 'x' } });
    const answers = [await fp(pollutingJson), await fp(withKeys), await fp(constructorType), await rw(toStringType)];
    expect(answers.map((response) => response.status)).to.deep.equal([202, 202, 202, 200]);
    expectedQuarantined.push('firstpromoter-9600003', 'rewardful-hostile-proto-type');

    // A plain lead with no suspicion after them: fires nothing (Object.prototype was not polluted).
    const plain = structuredClone(lead);
    plain.event.id = 9_600_004;
    delete plain.data.suspicion;
    plain.data.email = 'after-proto@example.com';
    expect((await fp(JSON.stringify(plain))).status).to.equal(202);

    await waitFor(() => slackTexts().some((text) => text.includes('proto-fires@example.com')), 15_000);
    await waitFor(async () => (await isStored('firstpromoter-9600004')) && (await isStored('firstpromoter-9600001')), 15_000);
    await sleep(1_000);
    const texts = slackTexts();
    expect(texts.filter((text) => text.includes('proto-fires@example.com'))).to.have.length(1);
    for (const marker of ['proto-no-fire@example.com', 'proto-type@example.com', 'after-proto@example.com', 'evil@example.com']) {
      expect(texts.filter((text) => text.includes(marker)), marker).to.have.length(0);
    }
    // Not fired for the right reason: the condition ran and was false (not an evaluation error).
    for (const eventId of ['firstpromoter-9600001', 'firstpromoter-9600004']) {
      const trace = await runCli(['events', 'trace', eventId, '--json'], stack.env());
      const { runs } = JSON.parse(trace.stdout) as { runs: Array<{ matched: unknown[]; unmatched: Array<{ ruleId: string; reason: string }> }> };
      expect(runs[0].matched, eventId).to.deep.equal([]);
      expect(runs[0].unmatched.find((rule) => rule.ruleId === 'suspicious-lead-alert')?.reason, eventId).to.equal('condition_false');
    }
  });

  it('a payload key named "constructor" does not switch off a conditional rule (was a bug, fixed in 4866fb1)', async () => {
    // Leads that ARE suspicious, with a `constructor` key beside the fields the condition reads.
    // cel-js types a value by `v.constructor`: an own `constructor` key made that "Unsupported type",
    // the condition failed (condition_error) and the alert was never sent.
    const inData = JSON.stringify(suspiciousLead(9_650_001, 'constructor-in-data@example.com')).replace('"data":{', '"data":{"constructor":{"name":"x"},');
    const nested = JSON.stringify(suspiciousLead(9_650_002, 'constructor-nested@example.com')).replace('"custom_fields":null', '"custom_fields":{"constructor":"x"}');
    const answers = [await fp(inData), await fp(nested)];
    expect(answers.map((response) => response.status)).to.deep.equal([202, 202]);
    await waitFor(() => slackTexts().some((text) => text.includes('constructor-nested@example.com')), 15_000);
    await waitFor(() => isStored('firstpromoter-9650001'), 15_000);
    await sleep(1_000);
    const trace = JSON.parse((await runCli(['events', 'trace', 'firstpromoter-9650001', '--json'], stack.env())).stdout) as {
      runs: Array<{ unmatched: Array<{ ruleId: string; reason: string; error?: string }> }>;
    };
    expect(trace.runs[0].unmatched, 'rules the suspicious lead did not match').to.deep.equal([]);
    expect(slackTexts().filter((text) => text.includes('constructor-in-data@example.com')), 'the alert for the lead with a constructor key').to.have.length(1);
  });

  it('wrong types in every documented field of each schema (FirstPromoter classic and v2, Rewardful): 2xx, quarantined, nothing fires', async () => {
    // Bases that would fire a shipped rule if valid, so "nothing fires" means something.
    const firingBases: Record<string, Record<string, unknown>> = {
      'firstpromoter.lead_signup': { ...lead.data, suspicion: 'self_referral', email: 'wrong-type-lead@example.com' },
      'firstpromoter.reward_created': { ...reward.data, promoter: { ...reward.data.promoter, email: 'wrong-type-reward@example.com' } },
      'firstpromoter.promoter_signed_up': { ...signedUp.data, promoter: { ...signedUp.data.promoter, email: 'wrong-type-signed-up@example.com' } },
      'firstpromoter.promoter_accepted': { ...accepted.data, promoter: { ...accepted.data.promoter, email: 'wrong-type-accepted@example.com' } },
      'rewardful.referral.converted': { ...converted.object, customer: { ...converted.object.customer, email: 'wrong-type-customer@example.com' } },
      'rewardful.commission.created': { id: 'c-1', amount: 1234, currency: 'USD', affiliate: { id: 'a-1', email: 'wrong-type-affiliate@example.com' } },
    };
    // Firing types first: a record definition is covered once, at its first appearance.
    const firstFirst = <T extends string>(types: readonly T[], firing: readonly string[]) => [...firing.filter((type) => types.includes(type as T)), ...types.filter((type) => !firing.includes(type))] as T[];
    const plans: Array<{ source: 'firstpromoter' | 'firstpromoter-v2' | 'rewardful'; schema: yup.ISchema<unknown>; testCase: WrongTypeCase }> = [];
    const classicSeen = new Set<string>();
    for (const type of firstFirst(CLASSIC_EVENT_TYPES, ['lead_signup', 'reward_created', 'promoter_signed_up', 'promoter_accepted'])) {
      for (const testCase of listWrongTypeCases(type, 'data', classicDataSchemas[type], classicSeen)) plans.push({ source: 'firstpromoter', schema: classicDataSchemas[type], testCase });
    }
    const v2Seen = new Set<string>();
    for (const type of V2_EVENT_TYPES) {
      for (const testCase of listWrongTypeCases(type, 'data', v2DataSchemas[type], v2Seen)) plans.push({ source: 'firstpromoter-v2', schema: v2DataSchemas[type], testCase });
    }
    for (const testCase of listWrongTypeCases('referral.created', 'envelope', v2EnvelopeSchema, new Set())) plans.push({ source: 'firstpromoter-v2', schema: v2EnvelopeSchema, testCase });
    const rewardfulSeen = new Set<string>();
    for (const type of firstFirst(REWARDFUL_EVENT_TYPES, ['referral.converted', 'commission.created'])) {
      for (const testCase of listWrongTypeCases(type, 'data', rewardfulObjectSchemas[type], rewardfulSeen)) plans.push({ source: 'rewardful', schema: rewardfulObjectSchemas[type], testCase });
    }
    // Secret fields (auth_token, temp_password) are stripped before the events worker checks the
    // schema, so their type is never seen: they are left out here (see the README, "Reliability").
    const checked = plans.filter(({ testCase }) => !DEFAULT_SECRET_FIELDS.includes(String(testCase.path[testCase.path.length - 1])));
    expect(plans.length - checked.length, 'secret fields left out').to.equal(2);
    expect(checked.length, 'fields covered').to.be.greaterThan(250);

    const deliveries = checked.map(({ source, schema, testCase }, index) => {
      const baseKey = `${source === 'rewardful' ? 'rewardful' : 'firstpromoter'}.${testCase.eventType}`;
      const base = structuredClone((testCase.part === 'data' ? firingBases[baseKey] : undefined) ?? minimalRecord(describeSchema(schema)));
      const build = (value: unknown) => {
        const part = structuredClone(base);
        setPath(part, schema, testCase.path, value);
        return part;
      };
      // The control (the right type at the same place) passes the schema: the wrong type alone quarantines.
      expect(checkPayload(schema, build(testCase.right), testCase.part), `control for ${testCase.eventType} ${formatPath(testCase.part, testCase.path)}`).to.deep.equal([]);
      const wrong = build(testCase.wrong);
      const id = 9_700_000 + index;
      let body: Record<string, unknown>;
      if (source === 'firstpromoter') body = classic(id, testCase.eventType, wrong);
      else if (source === 'rewardful') body = { event: { id: `hostile-wrong-${id}`, type: testCase.eventType, created_at: CREATED_AT }, object: wrong };
      else {
        const envelope = testCase.part === 'envelope' ? wrong : { action: 'created', entity_type: 'referral', entity_id: 1, changes: {} };
        body = { event_id: `hostile-wrong-${id}`, event_type: testCase.eventType, ...envelope, data: testCase.part === 'data' ? wrong : { id: 1 }, timestamp: CREATED_AT };
      }
      const eventId = source === 'firstpromoter' ? `firstpromoter-${id}` : `${source === 'rewardful' ? 'rewardful' : 'firstpromoter'}-hostile-wrong-${id}`;
      return { source, eventId, body: JSON.stringify(body), label: `${testCase.eventType} ${formatPath(testCase.part, testCase.path)} = ${JSON.stringify(testCase.wrong)}` };
    });

    const statuses: number[] = [];
    for (let index = 0; index < deliveries.length; index += 16) {
      const batch = deliveries.slice(index, index + 16);
      const answers = await Promise.all(batch.map((delivery) => (delivery.source === 'rewardful' ? rw(delivery.body) : fp(delivery.body))));
      statuses.push(...answers.map((response) => response.status));
    }
    const expectedStatus = deliveries.map((delivery) => (delivery.source === 'rewardful' ? 200 : 202));
    expect(statuses).to.deep.equal(expectedStatus);
    expectedQuarantined.push(...deliveries.map((delivery) => delivery.eventId));

    const quarantined = await waitFor(async () => {
      const listed = await runCli(['events', 'quarantined', '--json'], stack.env());
      const ids = new Set((JSON.parse(listed.stdout) as Array<{ eventId: string }>).map((event) => event.eventId));
      return deliveries.every((delivery) => ids.has(delivery.eventId)) ? ids : undefined;
    }, 30_000, 500).catch(async () => {
      const listed = await runCli(['events', 'quarantined', '--json'], stack.env());
      const ids = new Set((JSON.parse(listed.stdout) as Array<{ eventId: string }>).map((event) => event.eventId));
      throw new Error(`not quarantined:\n${deliveries.filter((delivery) => !ids.has(delivery.eventId)).map((delivery) => delivery.label).join('\n')}`);
    });
    expect(quarantined.size).to.be.at.least(deliveries.length);
    expect(slackTexts().filter((text) => /wrong-type-/.test(text)), 'Slack messages from quarantined events').to.deep.equal([]);
    const upserted = stack.hubspot.calls.flatMap((call) => ((call.body as { inputs?: Array<{ id?: string }> } | undefined)?.inputs ?? []).map((input) => String(input.id)));
    expect(upserted.filter((email) => email.includes('wrong-type-')), 'HubSpot upserts from quarantined events').to.deep.equal([]);
  });

  it('10,000-deep nesting in the payload, an unknown type, and a 1,000,000-element array under a larger BODY_LIMIT: 2xx, quarantined, nothing fires', async () => {
    const deep = suspiciousLead(9_800_001, 'deep-nesting@example.com');
    const deepJson = JSON.stringify(deep).replace('"custom_fields":null', `"custom_fields":${nestedObject(10_000)}`);
    expect(deepJson.length).to.be.greaterThan(50_000);
    const unknownType = JSON.stringify(classic(9_800_002, 'lead_signup_v9', { ...lead.data, suspicion: 'self_referral', email: 'unknown-type@example.com' }));
    const answers = [await fp(deepJson), await fp(unknownType)];
    expect(answers.map((response) => response.status)).to.deep.equal([202, 202]);

    // The million items fit only a BODY_LIMIT above 2 MB: a second API process with 4mb, same Redis.
    const bigApi = await stack.startBridge('api', { PORT: '0', BODY_LIMIT: '4mb' });
    const million = structuredClone(suspiciousLead(9_800_003, 'million-items@example.com'));
    const millionJson = JSON.stringify(million).replace('"custom_fields":null', `"custom_fields":null,"items":[${'0,'.repeat(999_999)}0]`);
    sent += 1;
    const bigAnswer = await postFirstPromoter(bigApi.baseUrl, millionJson);
    expect(bigAnswer.status).to.equal(202);
    acknowledged += 1;
    expectedQuarantined.push('firstpromoter-9800001', 'firstpromoter-9800002', 'firstpromoter-9800003');

    const listed = await waitFor(async () => {
      const output = await runCli(['events', 'quarantined', '--json'], stack.env());
      const events = JSON.parse(output.stdout) as Array<{ eventId: string; validationErrors: string[] }>;
      const wanted = events.filter((event) => ['firstpromoter-9800001', 'firstpromoter-9800002', 'firstpromoter-9800003'].includes(event.eventId));
      return wanted.length === 3 ? wanted : undefined;
    }, 30_000, 500);
    const errors = Object.fromEntries(listed.map((event) => [event.eventId, event.validationErrors.join(' | ')]));
    expect(errors['firstpromoter-9800001']).to.contain('nests deeper than 32 levels');
    expect(errors['firstpromoter-9800002']).to.contain('Unknown FirstPromoter event type "lead_signup_v9"');
    expect(errors['firstpromoter-9800003']).to.contain('holds 1000000 items');
    for (const marker of ['deep-nesting@example.com', 'unknown-type@example.com', 'million-items@example.com']) {
      expect(slackTexts().filter((text) => text.includes(marker)), marker).to.have.length(0);
    }
    expect((await fetch(`${bridge.baseUrl}/healthz`)).status).to.equal(200);
  });

  it('Slack mrkdwn in every text field a shipped rule interpolates comes out escaped: no mention, no link', async () => {
    const inject = (field: string) => `${INJECTION} ${field}`;
    const fraud = suspiciousLead(9_900_001, inject('lead-email'));
    fraud.data.suspicion = inject('suspicion');
    fraud.data.promoter.email = inject('promoter-email');
    fraud.data.promotion.campaign_name = inject('campaign');
    const rewarded = structuredClone(reward);
    rewarded.event.id = 9_900_002;
    rewarded.data.unit = inject('unit');
    rewarded.data.promoter.email = inject('reward-promoter');
    rewarded.data.lead.email = inject('reward-lead');
    const commission = JSON.stringify({
      event: { id: 'hostile-mrkdwn-commission', type: 'commission.paid', created_at: CREATED_AT },
      object: { id: 'c-2', amount: 4200, currency: 'USD', state: inject('state'), affiliate: { id: 'a-2', email: inject('affiliate') } },
    });
    // A currency is an argument of the money filter, not text: a hostile one cannot render at all.
    const badCurrency = JSON.stringify({
      event: { id: 'hostile-mrkdwn-currency', type: 'commission.paid', created_at: CREATED_AT },
      object: { id: 'c-3', amount: 4200, currency: INJECTION, state: 'paid', affiliate: { id: 'a-3', email: 'bad-currency@example.com' } },
    });
    const answers = [await fp(JSON.stringify(fraud)), await fp(JSON.stringify(rewarded)), await rw(commission), await rw(badCurrency)];
    expect(answers.map((response) => response.status)).to.deep.equal([202, 202, 200, 200]);

    const fields = {
      '#affiliate-fraud': ['lead-email', 'suspicion', 'promoter-email', 'campaign'],
      '#affiliates': ['unit', 'reward-promoter', 'reward-lead'],
    };
    const commissionFields = ['state', 'affiliate'];
    expectedSlackMarkers.push(`${ESCAPED_INJECTION} lead-email`, `${ESCAPED_INJECTION} unit`, `${ESCAPED_INJECTION} state`);
    const messages = await waitFor(() => {
      const found = stack.slack.received.filter((message) => (message.text ?? '').includes(ESCAPED_INJECTION));
      return found.length >= 3 ? found : undefined;
    }, 15_000);
    expect(messages).to.have.length(3);
    for (const message of messages) {
      const text = message.text ?? '';
      expect(text, 'no raw < or > from a payload').not.to.match(/[<>]/);
      const expected = message.channel === '#affiliate-fraud' ? fields['#affiliate-fraud'] : text.includes('unit') ? fields['#affiliates'] : commissionFields;
      for (const field of expected) expect(text, field).to.contain(`${ESCAPED_INJECTION} ${field}`);
    }
    const commissionText = messages.find((message) => (message.text ?? '').startsWith('Commission paid'))?.text;
    expect(commissionText).to.equal(`Commission paid: $42.00 for ${ESCAPED_INJECTION} affiliate (${ESCAPED_INJECTION} state)`);
    const failed = await waitFor(async () => {
      const listed = JSON.parse((await runCli(['actions', 'failed', '--json'], stack.env())).stdout) as Array<{ eventId: string; error: string; attemptsMade: number }>;
      return listed.find((entry) => entry.eventId === 'rewardful-hostile-mrkdwn-currency');
    }, 15_000, 500);
    expect(failed.error, 'the bad currency parks the message in the dead-letter list').to.match(/^plan_error: /);
    expect(failed.attemptsMade).to.equal(1);
    expect(slackTexts().filter((text) => text.includes('bad-currency@example.com'))).to.have.length(0);
  });

  it('template syntax inside payload values comes out literally (Slack and HubSpot)', async () => {
    const literal = '{{ event.id }} {% if true %}yes{% endif %} {{ data.promoter.email | upcase }}';
    expectedSlackMarkers.push(`lead ${literal}`);
    const slackDelivery = suspiciousLead(9_950_001, literal);
    const hubspotDelivery = structuredClone(signedUp);
    hubspotDelivery.event.id = 9_950_002;
    hubspotDelivery.data.promoter.email = 'template-literal@example.com';
    hubspotDelivery.data.promoter.profile.first_name = '{{ data.promoter.auth_token }}';
    hubspotDelivery.data.promoter.profile.last_name = '{% for x in (1..3) %}{{ x }}{% endfor %}';
    const answers = [await fp(JSON.stringify(slackDelivery)), await fp(JSON.stringify(hubspotDelivery))];
    expect(answers.map((response) => response.status)).to.deep.equal([202, 202]);
    const message = await waitFor(() => stack.slack.received.find((candidate) => (candidate.text ?? '').includes(literal)), 15_000);
    expect(message.text).to.equal(`:warning: Possible self referral: lead ${literal} referred by promoter@example.com in campaign Main Campaign`);
    const contact = await waitFor(() => stack.hubspot.contacts.get('template-literal@example.com'), 15_000);
    expect([contact.firstname, contact.lastname]).to.deep.equal(['{{ data.promoter.auth_token }}', '{% for x in (1..3) %}{{ x }}{% endfor %}']);
  });

  it('an email with unicode and mixed case reaches HubSpot lower-cased, unicode intact, and a differently cased delivery updates the same contact', async () => {
    const email = 'Zoë.Ñandú+Affiliate@Exämple.Com';
    const signed = structuredClone(signedUp);
    signed.event.id = 9_960_001;
    signed.data.promoter.email = email;
    const acceptedAgain = structuredClone(accepted);
    acceptedAgain.event.id = 9_960_002;
    acceptedAgain.data.promoter.email = email.toUpperCase();
    acceptedAgain.data.state = 'accepted';
    expect((await fp(JSON.stringify(signed))).status).to.equal(202);
    const key = email.toLowerCase();
    await waitFor(() => stack.hubspot.contacts.get(key), 15_000);
    expect((await fp(JSON.stringify(acceptedAgain))).status).to.equal(202);
    await waitFor(() => stack.hubspot.contacts.get(key)?.affiliate_status === 'accepted', 15_000);
    const ids = stack.hubspot.calls
      .filter((call) => call.status === 200 && call.path.endsWith('/batch/upsert'))
      .flatMap((call) => ((call.body as { inputs: Array<{ id: string }> }).inputs ?? []).map((input) => input.id))
      .filter((id) => id.toLowerCase() === key);
    // Sent trimmed and lower-cased: HubSpot does not promise a case-insensitive match (the fake matches exactly).
    expect(ids, 'the emails as sent, unicode intact, lower-cased').to.deep.equal([key, key]);
    expect([...stack.hubspot.contacts.keys()].filter((candidate) => candidate === key)).to.have.length(1);
    expect(stack.hubspot.contacts.get(key)).to.include({ firstname: 'Jane', lastname: 'Smith', affiliate_status: 'accepted' });
  });

  it('keeps serving throughout, and Slack got exactly the expected messages, once each', async () => {
    expect(bridge.child.exitCode).to.equal(null);
    expect(stack.crashes.filter((crash) => crash.at > warmedAt), 'crashes after warm-up').to.deep.equal([]);
    expect((await fetch(`${bridge.baseUrl}/healthz`)).status).to.equal(200);
    expectedSlackMarkers.push('still-serving@example.com');
    expect((await fp(JSON.stringify(suspiciousLead(9_990_001, 'still-serving@example.com')))).status).to.equal(202);
    await waitFor(() => slackTexts().some((text) => text.includes('still-serving@example.com')), 15_000);
    await sleep(1_000);
    const texts = slackTexts();
    // The constructor-key leads are asserted in their own test (a known bug); here they are allowed.
    const allowed = [...expectedSlackMarkers, 'constructor-in-data@example.com', 'constructor-nested@example.com'];
    const unexpected = texts.filter((text) => !allowed.some((marker) => text.includes(marker)));
    expect(unexpected, 'Slack messages nobody expected').to.deep.equal([]);
    for (const marker of expectedSlackMarkers) expect(texts.filter((text) => text.includes(marker)), marker).to.have.length(1);
    expect(texts.filter((text) => !text.includes('constructor-'))).to.have.length(expectedSlackMarkers.length);
    expect(bridge.logs.filter((line) => Number(line.level) >= 60), 'fatal log lines').to.deep.equal([]);
  });
});
