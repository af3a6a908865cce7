import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { loadConfig } from '../../../src/config/config.js';
import { createWebhookHandlers } from '../../../src/http/webhook-router.js';
import { BridgeMetrics } from '../../../src/observability/metrics.js';
import { EventIntake, type EventJobData } from '../../../src/queue/event-intake.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { createCapturingLogger } from '../../support/log-capture.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL } from '../../support/redis.js';
import { dumpAllValues } from '../../support/redis-dump.js';
import { parsePrometheusText, sampleValue } from '../../support/prometheus-text.js';
import {
  TEST_FIRSTPROMOTER_TOKEN,
  postFirstPromoter,
  postRewardful,
  signRewardful,
  startIntakeApp,
  readJson,
} from '../../support/intake-app.js';

const fixture = (path: string) => readFileSync(new URL(`../../fixtures/deliveries/${path}`, import.meta.url), 'utf8');

const firstPromoterFixtures = ['lead_signup', 'promoter_signed_up', 'reward_created', 'promoter_accepted'];
/** The promoter secrets in the fixtures: none may reach Redis or a log line. */
const fixtureSecrets = firstPromoterFixtures.flatMap((name) => {
  const text = fixture(`firstpromoter/${name}.json`);
  return [...text.matchAll(/"(auth_token|temp_password)":\s*"([^"]+)"/g)].map((match) => match[2]);
});

describe('POST /webhooks/<source> (real app, real Redis)', function () {
  let prefix: string;
  let redis: Redis;
  let app: Awaited<ReturnType<typeof startIntakeApp>>;

  const storedJobs = async () => (await app.queue.getJobs(['waiting', 'active', 'completed', 'delayed'])).filter(Boolean);
  const storedEvents = async () => (await storedJobs()).map((job) => (job.data as EventJobData).event);

  beforeEach(async () => {
    prefix = randomPrefix('intake');
    redis = new Redis(SHARED_REDIS_URL);
    app = await startIntakeApp({ redisUrl: SHARED_REDIS_URL, prefix });
  });

  afterEach(async () => {
    await app.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  describe('accepted deliveries', () => {
    for (const name of firstPromoterFixtures) {
      it(`stores the FirstPromoter ${name} seed and answers 202`, async () => {
        const response = await postFirstPromoter(app.baseUrl, fixture(`firstpromoter/${name}.json`));
        expect(response.status).to.equal(202);
        const answer = await readJson(response);
        expect(answer).to.deep.equal({ eventId: answer.eventId, outcome: 'stored' });
        const events = await storedEvents();
        expect(events).to.have.length(1);
        expect(events[0].type).to.equal(`firstpromoter.${name}`);
        expect(events[0].id).to.equal(answer.eventId);
        expect(events[0].id).to.match(/^firstpromoter-\d+$/);
      });
    }

    it('stores the Rewardful referral seed in its envelope and answers 200', async () => {
      const body = fixture('rewardful/referral.converted.json');
      const response = await postRewardful(app.baseUrl, body);
      expect(response.status).to.equal(200);
      const [event] = await storedEvents();
      expect(event).to.include({ type: 'rewardful.referral.converted', source: 'rewardful', status: 'valid' });
      expect((event.data as { conversion_state: string }).conversion_state).to.equal('conversion');
    });

    it('stores every webhook delivery with origin webhook, its canonical types and its affiliate fields', async () => {
      expect((await postFirstPromoter(app.baseUrl, fixture('firstpromoter/reward_created.json'))).status).to.equal(202);
      expect((await postRewardful(app.baseUrl, fixture('rewardful/referral.converted.json'))).status).to.equal(200);
      const events = (await storedEvents()).sort((a, b) => a.id.localeCompare(b.id));
      expect(events.map((event) => [event.id, event.origin, event.canonicalTypes, event.affiliate?.lead.email])).to.deep.equal([
        ['firstpromoter-22737431', 'webhook', ['affiliate.commission.created', 'affiliate.commission.approved'], 'customer@example.com'],
        ['rewardful-7d1c9d4a-3f5e-4c1b-9a57-2b7f0f3c6e10', 'webhook', ['affiliate.lead.converted'], 'fred.durst@example.com'],
      ]);
    });

    it('accepts the token as a query parameter and as the Basic password', async () => {
      const body = JSON.parse(fixture('firstpromoter/lead_signup.json'));
      body.event.id = 1001;
      expect((await postFirstPromoter(app.baseUrl, JSON.stringify(body), { query: TEST_FIRSTPROMOTER_TOKEN })).status).to.equal(202);
      body.event.id = 1002;
      expect((await postFirstPromoter(app.baseUrl, JSON.stringify(body), { basicPassword: TEST_FIRSTPROMOTER_TOKEN })).status).to.equal(202);
      expect((await storedEvents()).map((e) => e.id).sort()).to.deep.equal(['firstpromoter-1001', 'firstpromoter-1002']);
    });

    it('reads the body whatever Content-Type it claims: authenticated JSON sent as text/plain is stored', async () => {
      const response = await postFirstPromoter(app.baseUrl, fixture('firstpromoter/lead_signup.json'), {}, { 'Content-Type': 'text/plain' });
      expect(response.status).to.equal(202);
      expect(await storedEvents()).to.have.length(1);
    });

    it('stores an unknown type as quarantined, with the reason', async () => {
      const body = JSON.parse(fixture('firstpromoter/lead_signup.json'));
      body.event.type = 'lead_teleported';
      const response = await postFirstPromoter(app.baseUrl, JSON.stringify(body));
      expect(response.status).to.equal(202);
      const [event] = await storedEvents();
      expect(event.status).to.equal('quarantined');
      expect(event.validationErrors!.join(' ')).to.contain('lead_teleported');
    });

    it('stores a schema-invalid event as it came (the events worker checks the schema and quarantines it)', async () => {
      const body = JSON.parse(fixture('firstpromoter/reward_created.json'));
      body.data.amount = 'two hundred';
      const response = await postFirstPromoter(app.baseUrl, JSON.stringify(body));
      expect(response.status).to.equal(202);
      const [event] = await storedEvents();
      expect(event.data.amount).to.equal('two hundred');
    });

    it('strips auth_token and temp_password before Redis and the logs see them', async () => {
      expect(fixtureSecrets.length).to.be.greaterThan(3);
      for (const name of firstPromoterFixtures) {
        expect((await postFirstPromoter(app.baseUrl, fixture(`firstpromoter/${name}.json`))).status).to.equal(202);
      }
      const everything = await dumpAllValues(redis, prefix);
      expect(everything).to.contain('promoter@example.com');
      for (const secret of fixtureSecrets) {
        expect(everything).not.to.contain(secret);
        expect(app.logText()).not.to.contain(secret);
      }
      expect(app.logText()).not.to.contain(TEST_FIRSTPROMOTER_TOKEN);
    });
  });

  describe('duplicates', () => {
    it('answers a repeated delivery with the same code and stores it once', async () => {
      const body = fixture('firstpromoter/lead_signup.json');
      const first = await postFirstPromoter(app.baseUrl, body);
      const second = await postFirstPromoter(app.baseUrl, body);
      expect([first.status, second.status]).to.deep.equal([202, 202]);
      expect((await readJson(second)).outcome).to.equal('duplicate');
      expect(await storedJobs()).to.have.length(1);
    });

    it('stores a known id with another body apart, as a quarantined conflicting duplicate, and counts it', async () => {
      const genuine = fixture('firstpromoter/lead_signup.json');
      const squatted = genuine.replace('goqucugo@mailinator.com', 'junk@example.com').replace('"no_suspicion"', '"no_suspicion" ');
      // The squatter comes first; the genuine delivery of the same id follows.
      const first = await postFirstPromoter(app.baseUrl, squatted);
      const second = await postFirstPromoter(app.baseUrl, genuine);
      const again = await postFirstPromoter(app.baseUrl, genuine);
      expect([first.status, second.status, again.status]).to.deep.equal([202, 202, 202]);
      expect([(await readJson(first)).outcome, (await readJson(second)).outcome, (await readJson(again)).outcome]).to.deep.equal([
        'stored',
        'conflicting_duplicate',
        'duplicate',
      ]);
      const events = await storedEvents();
      expect(events).to.have.length(2);
      const conflict = events.find((event) => event.conflict !== undefined)!;
      expect(conflict.id).to.match(/^firstpromoter-22736304\.conflict-[0-9a-f]{16}$/);
      expect(conflict).to.deep.include({ type: 'firstpromoter.conflicting_duplicate', status: 'quarantined', conflict: { eventId: 'firstpromoter-22736304', claimedType: 'firstpromoter.lead_signup' } });
      expect(conflict.data.email).to.equal('goqucugo@mailinator.com');
      expect(conflict.validationErrors![0]).to.equal(
        'conflicting_duplicate: event id firstpromoter-22736304 was delivered before with a different body; this delivery (type firstpromoter.lead_signup) was not planned as firstpromoter-22736304',
      );
      const samples = parsePrometheusText(await app.metrics.registry.metrics());
      expect(sampleValue(samples, 'bridge_webhooks_total', { source: 'firstpromoter', outcome: 'conflicting_duplicate' })).to.equal(1);
      expect(sampleValue(samples, 'bridge_webhooks_total', { source: 'firstpromoter', outcome: 'duplicate' })).to.equal(1);
    });

    it('keeps a redelivery whose JSON differs only in whitespace a plain duplicate', async () => {
      const body = fixture('firstpromoter/lead_signup.json');
      await postFirstPromoter(app.baseUrl, body);
      const compact = await postFirstPromoter(app.baseUrl, JSON.stringify(JSON.parse(body)));
      expect((await readJson(compact)).outcome).to.equal('duplicate');
      expect(await storedJobs()).to.have.length(1);
    });

    it('stores 20 concurrent copies of one Rewardful delivery once', async () => {
      const body = fixture('rewardful/referral.converted.json');
      const responses = await Promise.all(Array.from({ length: 20 }, () => postRewardful(app.baseUrl, body)));
      expect(responses.map((r) => r.status)).to.deep.equal(Array(20).fill(200));
      const outcomes = await Promise.all(responses.map(async (r) => (await readJson(r)).outcome));
      expect(outcomes.filter((o) => o === 'stored')).to.have.length(1);
      expect(await storedJobs()).to.have.length(1);
    });
  });

  describe('rejected deliveries store nothing', () => {
    const lead = () => fixture('firstpromoter/lead_signup.json');
    const rewardfulBody = () => fixture('rewardful/referral.converted.json');
    const cases: Array<{ name: string; send: () => Promise<Response>; status: number; error?: RegExp }> = [
      { name: 'FirstPromoter without a token', send: () => postFirstPromoter(app.baseUrl, lead(), { none: true }), status: 401 },
      { name: 'FirstPromoter with a wrong token', send: () => postFirstPromoter(app.baseUrl, lead(), { bearer: 'fp-test-token-0123456789abcdeX' }), status: 401 },
      { name: 'FirstPromoter with a token of another length', send: () => postFirstPromoter(app.baseUrl, lead(), { bearer: 'short' }), status: 401 },
      { name: 'FirstPromoter with a wrong Basic password', send: () => postFirstPromoter(app.baseUrl, lead(), { basicPassword: 'nope' }), status: 401 },
      { name: 'Rewardful without a signature', send: () => postRewardful(app.baseUrl, rewardfulBody(), null), status: 401 },
      { name: 'Rewardful with a signature of the wrong length', send: () => postRewardful(app.baseUrl, rewardfulBody(), signRewardful(rewardfulBody()).slice(0, 40)), status: 401 },
      { name: 'Rewardful with a signature for other bytes', send: () => postRewardful(app.baseUrl, rewardfulBody(), signRewardful(`${rewardfulBody()} `)), status: 401 },
      {
        name: 'Rewardful signed over re-serialised JSON instead of the raw bytes',
        send: () => postRewardful(app.baseUrl, rewardfulBody(), signRewardful(JSON.stringify(JSON.parse(rewardfulBody())))),
        status: 401,
      },
      { name: 'a body that is not JSON', send: () => postFirstPromoter(app.baseUrl, '{"event": {"id": 1,'), status: 400, error: /JSON/ },
      { name: 'an empty body', send: () => postFirstPromoter(app.baseUrl, ''), status: 400, error: /JSON/ },
      { name: 'a JSON array', send: () => postFirstPromoter(app.baseUrl, '[1,2,3]'), status: 400, error: /object/ },
      { name: 'text/plain that is not JSON', send: () => postFirstPromoter(app.baseUrl, 'hello', {}, { 'Content-Type': 'text/plain' }), status: 400, error: /JSON/ },
      { name: 'an object with no envelope', send: () => postFirstPromoter(app.baseUrl, '{"hello":"world"}'), status: 400, error: /event/ },
      { name: 'invalid UTF-8', send: () => postFirstPromoter(app.baseUrl, Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), status: 400 },
    ];
    for (const testCase of cases) {
      it(`answers ${testCase.status} to ${testCase.name}`, async () => {
        const response = await testCase.send();
        expect(response.status).to.equal(testCase.status);
        const answer = await readJson(response);
        if (testCase.status === 401) expect(answer).to.deep.equal({ error: 'Unauthorized' });
        if (testCase.error) expect(answer.error).to.match(testCase.error);
        expect(await storedJobs()).to.have.length(0);
      });
    }

    it('answers 413 to a body over BODY_LIMIT', async () => {
      const huge = JSON.stringify({ event: { id: 1, type: 'lead_signup', created_at: '2024-01-01T00:00:00Z' }, data: { pad: 'x'.repeat(2 * 1024 * 1024) } });
      const response = await postFirstPromoter(app.baseUrl, huge);
      expect(response.status).to.equal(413);
      expect(await storedJobs()).to.have.length(0);
    });

    it('answers 404 to an unknown source', async () => {
      const response = await fetch(`${app.baseUrl}/webhooks/partnerstack`, { method: 'POST', body: '{}' });
      expect(response.status).to.equal(404);
      const polluted = await fetch(`${app.baseUrl}/webhooks/__proto__`, { method: 'POST', body: '{}' });
      expect(polluted.status).to.equal(404);
      // The bridge's own events (bridge.action.failed) are not a source: nobody can post one.
      const internal = await fetch(`${app.baseUrl}/webhooks/bridge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"event":{"id":"1","type":"action.failed"},"data":{}}' });
      expect(internal.status).to.equal(404);
      expect(await storedJobs()).to.have.length(0);
    });
  });

  describe('the hot path and the route: every spelling of the URL gets the same answers', () => {
    // `Authorization: null`: none sent (the token is in the query).
    const post = (path: string, body: string, headers: Record<string, string | null> = {}) =>
      fetch(`${app.baseUrl}${path}`, {
        method: 'POST',
        headers: Object.fromEntries(
          Object.entries({ 'Content-Type': 'application/json', Authorization: `Bearer ${TEST_FIRSTPROMOTER_TOKEN}`, ...headers }).filter((entry): entry is [string, string] => entry[1] !== null),
        ),
        body,
      });
    const delivery = (id: number) => fixture('firstpromoter/lead_signup.json').replace('"id": 22736304', `"id": ${id}`);

    it('stores through the exact path, the query string, a trailing slash and percent-encoding alike, with the same headers', async () => {
      expect(delivery(1)).to.not.equal(fixture('firstpromoter/lead_signup.json'));
      const answers = [
        await post('/webhooks/firstpromoter', delivery(1)),
        await post(`/webhooks/firstpromoter?token=${TEST_FIRSTPROMOTER_TOKEN}`, delivery(2), { Authorization: null }),
        await post('/webhooks/firstpromoter/', delivery(3)),
        await post('/webhooks/%66irstpromoter', delivery(4)),
      ];
      expect(answers.map((response) => response.status)).to.deep.equal([202, 202, 202, 202]);
      for (const response of answers) {
        expect(response.headers.get('content-type')).to.equal('application/json; charset=utf-8');
        const text = await response.text();
        expect(response.headers.get('content-length')).to.equal(String(Buffer.byteLength(text)));
        expect(JSON.parse(text)).to.have.property('outcome', 'stored');
      }
      expect((await storedEvents()).map((event) => event.id).sort()).to.deep.equal(['firstpromoter-1', 'firstpromoter-2', 'firstpromoter-3', 'firstpromoter-4']);
    });

    it('the hot path serves a delivery on Node’s own server, without Express, and leaves every other request alone', async () => {
      const { logger } = createCapturingLogger();
      const handlers = createWebhookHandlers({
        sources: sourceRegistry,
        integrations: loadConfig({ FIRSTPROMOTER_WEBHOOK_TOKEN: TEST_FIRSTPROMOTER_TOKEN }).integrations,
        allowUnsignedWebhooks: false,
        strippedFields: ['auth_token', 'temp_password'],
        bodyLimitBytes: 1024 * 1024,
        intake: new EventIntake({ queue: app.queue, dedupTtlMs: 60_000 }),
        metrics: new BridgeMetrics(),
        logger,
        now: () => new Date(),
      });
      const server = createServer((request, response) => {
        if (!handlers.tryDelivery(request, response)) response.writeHead(599).end();
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const stored = await fetch(`${base}/webhooks/firstpromoter?token=${TEST_FIRSTPROMOTER_TOKEN}`, { method: 'POST', body: delivery(7) });
        expect([stored.status, await readJson(stored)]).to.deep.equal([202, { eventId: 'firstpromoter-7', outcome: 'stored' }]);
        const refused = await fetch(`${base}/webhooks/firstpromoter?token=wrong-token-0123456789`, { method: 'POST', body: delivery(8) });
        expect([refused.status, await readJson(refused)]).to.deep.equal([401, { error: 'Unauthorized' }]);
        for (const [method, path] of [['POST', '/webhooks/firstpromoter/'], ['GET', '/webhooks/firstpromoter'], ['POST', '/healthz']]) {
          expect((await fetch(`${base}${path}`, { method, body: method === 'POST' ? delivery(9) : undefined })).status, `${method} ${path}`).to.equal(599);
        }
      } finally {
        server.closeAllConnections();
        server.close();
      }
      expect((await storedEvents()).map((event) => event.id)).to.deep.equal(['firstpromoter-7']);
    });

    it('refuses alike on both: a wrong token (401), a wrong query token (401), an unknown or differently cased source (404)', async () => {
      const statuses = [
        (await post('/webhooks/firstpromoter', delivery(1), { Authorization: 'Bearer wrong-token-0123456789' })).status,
        (await post('/webhooks/firstpromoter/', delivery(1), { Authorization: 'Bearer wrong-token-0123456789' })).status,
        (await post('/webhooks/firstpromoter?token=wrong-token-0123456789', delivery(1), { Authorization: null })).status,
      ];
      expect(statuses).to.deep.equal([401, 401, 401]);
      const cased = await post('/webhooks/FirstPromoter', delivery(1));
      expect([cased.status, await readJson(cased)]).to.deep.equal([404, { error: 'Unknown source: FirstPromoter' }]);
      const hasOwn = await post('/webhooks/hasOwnProperty', delivery(1));
      expect([hasOwn.status, await readJson(hasOwn)]).to.deep.equal([404, { error: 'Unknown source: hasOwnProperty' }]);
      // Not a POST: not a delivery, on either path.
      expect((await fetch(`${app.baseUrl}/webhooks/firstpromoter`)).status).to.equal(404);
      expect(await storedJobs()).to.have.length(0);
    });
  });

  describe('hostile bodies', () => {
    it('survives 10,000-deep nesting and keeps serving', async () => {
      const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
      const raw = fixture('firstpromoter/lead_signup.json').replace('"custom_fields": null', `"custom_fields": ${deep}`);
      expect(raw).to.contain(deep);
      const response = await postFirstPromoter(app.baseUrl, raw);
      // Stored, not dropped: deeper values are cut and the event is quarantined with the reason.
      expect(response.status).to.equal(202);
      const [event] = await storedEvents();
      expect(event.status).to.equal('quarantined');
      expect(event.validationErrors!.join(' ')).to.contain('nests deeper than');
      expect((await fetch(`${app.baseUrl}/healthz`)).status).to.equal(200);
    });

    it('stores __proto__, constructor and prototype keys as data without polluting prototypes', async () => {
      const raw = fixture('firstpromoter/lead_signup.json').replace(
        '"state": "signup",',
        '"state": "signup", "__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}},',
      );
      const response = await postFirstPromoter(app.baseUrl, raw);
      expect(response.status).to.equal(202);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      expect(await storedJobs()).to.have.length(1);
    });
  });

  describe('sources without a secret', () => {
    it('answers 401 when the secret is unset, and accepts only with ALLOW_UNSIGNED_WEBHOOKS', async () => {
      const unsigned = await startIntakeApp({ redisUrl: SHARED_REDIS_URL, prefix, withSecrets: false });
      try {
        expect((await postFirstPromoter(unsigned.baseUrl, fixture('firstpromoter/lead_signup.json'), { none: true })).status).to.equal(401);
        expect((await postRewardful(unsigned.baseUrl, fixture('rewardful/referral.converted.json'), null)).status).to.equal(401);
      } finally {
        await unsigned.close();
      }
      const trial = await startIntakeApp({ redisUrl: SHARED_REDIS_URL, prefix, withSecrets: false, allowUnsignedWebhooks: true });
      try {
        expect((await postFirstPromoter(trial.baseUrl, fixture('firstpromoter/lead_signup.json'), { none: true })).status).to.equal(202);
        expect((await postRewardful(trial.baseUrl, fixture('rewardful/referral.converted.json'), null)).status).to.equal(200);
      } finally {
        await trial.close();
      }
    });
  });

  describe('health and metrics', () => {
    it('answers /healthz, /readyz and /metrics with the webhook counters', async () => {
      await postFirstPromoter(app.baseUrl, fixture('firstpromoter/lead_signup.json'));
      await postFirstPromoter(app.baseUrl, fixture('firstpromoter/lead_signup.json'), { bearer: 'wrong' });
      expect((await fetch(`${app.baseUrl}/healthz`)).status).to.equal(200);
      expect((await fetch(`${app.baseUrl}/readyz`)).status).to.equal(200);
      const metrics = await (await fetch(`${app.baseUrl}/metrics`)).text();
      expect(metrics).to.contain('bridge_webhooks_total{source="firstpromoter",outcome="accepted"} 1');
      expect(metrics).to.contain('bridge_webhooks_total{source="firstpromoter",outcome="unauthorized"} 1');
    });
  });
});
