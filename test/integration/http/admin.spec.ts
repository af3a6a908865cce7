import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import type { Router } from 'express';
import { Redis } from 'ioredis';
import type { ActionJobData } from '../../../src/queue/action-job.js';
import { createAdminRouter } from '../../../src/http/admin/admin-router.js';
import { AdminSessions, AdminThrottle } from '../../../src/http/admin/admin-sessions.js';
import { createApp } from '../../../src/http/app.js';
import { BridgeMetrics } from '../../../src/observability/metrics.js';
import { EventIntake, type EventsQueueJobData } from '../../../src/queue/event-intake.js';
import type { EventTrace } from '../../../src/queue/trace.js';
import { ACTIONS_QUEUE, EVENTS_QUEUE, bridgeKeys } from '../../../src/queue/names.js';
import { BridgeOperations } from '../../../src/queue/operations.js';
import { queuePlanFailureWrites } from '../../../src/queue/plan-failures.js';
import { Secret } from '../../../src/secret.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { readJson } from '../../support/intake-app.js';
import { createCapturingLogger } from '../../support/log-capture.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL } from '../../support/redis.js';
import { loadConfig } from '../../../src/config/config.js';

const ADMIN_TOKEN = 'admin-test-token-7c1d2e3f4a5b6c7d';
const HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>';
const EVENT_ID = 'firstpromoter-31337';
const WAITING_JOB_ID = `${EVENT_ID}.hostile-rule.0`;
const PLAN_FAILURE_ID = `${EVENT_ID}.unplannable-rule.0`;
const HOLDING_EVENT_ID = 'firstpromoter-31336';

/** A stored trace whose every payload-derived field is hostile. */
function hostileTrace(receivedAt: string): EventTrace {
  return {
    event: {
      id: EVENT_ID,
      source: 'firstpromoter',
      type: `firstpromoter.${HOSTILE}`,
      providerType: HOSTILE,
      occurredAt: receivedAt,
      receivedAt,
      status: 'quarantined',
      validationErrors: [`data.email: ${HOSTILE} is not an email`],
      data: { email: HOSTILE, promoter: { name: '</pre><script>alert(2)</script>' } },
    },
    runs: [
      {
        at: receivedAt, generation: 1, quarantined: true,
        matched: [{ ruleId: 'hostile-rule', file: 'rules/x.yaml' }],
        unmatched: [{ ruleId: 'other-rule', file: 'rules/x.yaml', reason: 'condition_error', error: `no such key: ${HOSTILE}` }],
        failures: [], warnings: [`missing ${HOSTILE}`], actionJobIds: [WAITING_JOB_ID],
        // A once_per key is rendered from the payload: as hostile as the rest.
        suppressed: [{ ruleId: 'once-rule', action: 'slack.post_message', actionIndex: 0, key: HOSTILE, heldBy: HOLDING_EVENT_ID }],
      },
    ],
  };
}

describe('/admin dashboard: authentication, CSRF, API errors, escaping (real app, real Redis)', function () {
  let prefix: string;
  let redis: Redis;
  let operations: BridgeOperations;
  let eventsQueue: Queue<EventsQueueJobData>;
  let actionsQueue: Queue<ActionJobData>;
  let server: Server;
  let baseUrl: string;
  let capture: ReturnType<typeof createCapturingLogger>;

  let sessionCookie: string;

  async function listen(extraRouters: Router[], trustProxy: boolean | string = false): Promise<{ server: Server; baseUrl: string }> {
    const app = createApp({
      trustProxy,
      sources: sourceRegistry,
      integrations: loadConfig({}).integrations,
      allowUnsignedWebhooks: false,
      strippedFields: ['auth_token', 'temp_password'],
      bodyLimitBytes: 1024 * 1024,
      intake: new EventIntake({ queue: eventsQueue, dedupTtlMs: 60_000 }),
      metrics: new BridgeMetrics(),
      logger: capture.logger,
      now: () => new Date(),
      readinessChecks: [],
      extraRouters,
    });
    const listening = app.listen(0, '127.0.0.1');
    await once(listening, 'listening');
    return { server: listening, baseUrl: `http://127.0.0.1:${(listening.address() as AddressInfo).port}` };
  }

  before(async () => {
    prefix = randomPrefix('admin');
    redis = new Redis(SHARED_REDIS_URL);
    capture = createCapturingLogger();
    operations = new BridgeOperations(redis, prefix);
    eventsQueue = new Queue<EventsQueueJobData>(EVENTS_QUEUE, { connection: redis, prefix });
    actionsQueue = new Queue<ActionJobData>(ACTIONS_QUEUE, { connection: redis, prefix });

    const receivedAt = new Date(Date.now() - 2 * 60_000).toISOString();
    const keys = bridgeKeys(prefix);
    const planFailureWrites = redis.multi();
    queuePlanFailureWrites(planFailureWrites, prefix, [{
      id: PLAN_FAILURE_ID, action: 'hubspot.upsert_contact', ruleId: 'unplannable-rule', ruleFile: 'rules/x.yaml', eventId: EVENT_ID,
      eventType: 'firstpromoter.lead_signup', generation: 0, error: 'params invalid once rendered: email must be an email', failedAt: receivedAt,
    }], { ttlMs: 3_600_000, nowMs: Date.now() });
    await planFailureWrites.exec();
    await redis
      .multi()
      .set(keys.trace(EVENT_ID), JSON.stringify(hostileTrace(receivedAt)))
      .zadd(keys.recentEvents, Date.parse(receivedAt), EVENT_ID)
      .zadd(keys.quarantined, Date.parse(receivedAt), EVENT_ID)
      // A rule that failed on real events (issue 11.3), its latest error carrying payload text.
      .hset(keys.ruleErrorCounts, 'hostile-rule', 3)
      .hset(keys.ruleErrorLatest, 'hostile-rule', JSON.stringify({ error: `condition: No such key: ${HOSTILE}`, eventId: EVENT_ID, at: receivedAt }))
      .exec();
    // An action job no worker takes: it stays waiting, so retrying it is a 409.
    await actionsQueue.add('slack.post_message', {
      action: 'slack.post_message',
      params: { channel: '#ops', text: `hello ${HOSTILE}` },
      provenance: { eventId: EVENT_ID, ruleId: 'hostile-rule', ruleFile: 'rules/x.yaml', ruleFileHash: 'abc', actionIndex: 0 },
      eventType: `firstpromoter.${HOSTILE}`,
      eventReceivedAt: receivedAt,
      backoffBaseMs: 100,
    }, { jobId: WAITING_JOB_ID });

    ({ server, baseUrl } = await listen([createAdminRouter({
      adminToken: new Secret(ADMIN_TOKEN), operations, logger: capture.logger,
      sessions: new AdminSessions(redis, prefix), throttle: new AdminThrottle(redis, prefix),
    })]));
    sessionCookie = (await logIn(ADMIN_TOKEN)).headers.get('set-cookie')!.split(';')[0];
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await Promise.all([operations?.close(), eventsQueue?.close(), actionsQueue?.close()]);
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  const bearer = (token = ADMIN_TOKEN) => ({ Authorization: `Bearer ${token}` });
  /** The session cookie of the login made in `before`. */
  const sessionHeaders = () => ({ Cookie: sessionCookie });
  /** A cookie of the right shape that no login ever issued. */
  const forgedSession = { Cookie: `bridge_admin=${'A'.repeat(43)}` };
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${baseUrl}${path}`, { headers, redirect: 'manual' });
  const post = (path: string, headers: Record<string, string> = {}) => fetch(`${baseUrl}${path}`, { method: 'POST', headers, redirect: 'manual' });

  async function logIn(token: string, next?: string): Promise<Response> {
    const form = new URLSearchParams({ token, ...(next === undefined ? {} : { next }) });
    return fetch(`${baseUrl}/admin/login`, { method: 'POST', body: form, redirect: 'manual' });
  }

  describe('without credentials', () => {
    it('sends a page request to the login form, keeping where it was going', async () => {
      const response = await get('/admin?event=firstpromoter-1');
      expect(response.status).to.equal(303);
      expect(response.headers.get('location')).to.equal(`/admin/login?next=${encodeURIComponent('/admin?event=firstpromoter-1')}`);
    });

    it('answers an API request with 401 JSON', async () => {
      for (const path of ['/admin/api/overview', '/admin/api/failed', `/admin/api/events/${EVENT_ID}`]) {
        const response = await get(path);
        expect(response.status, path).to.equal(401);
        expect(response.headers.get('content-type')).to.match(/^application\/json/);
        expect((await readJson(response)).error).to.match(/^Unauthorized/);
      }
      expect((await post('/admin/api/failed/retry-all')).status).to.equal(401);
    });

    it('serves the login form and the assets, under a strict Content-Security-Policy', async () => {
      const login = await get('/admin/login');
      expect(login.status).to.equal(200);
      expect(await login.text()).to.contain('<form method="post" action="/admin/login">');
      expect(login.headers.get('content-security-policy')).to.contain("default-src 'self'");
      expect((await get('/admin/assets/dashboard.js')).headers.get('content-type')).to.match(/^text\/javascript/);
      expect((await get('/admin/assets/dashboard.css')).headers.get('content-type')).to.match(/^text\/css/);
    });
  });

  describe('bearer token', () => {
    it('refuses a wrong token with 401, on the API and on the page', async () => {
      expect((await get('/admin/api/overview', bearer('admin-test-token-wrong'))).status).to.equal(401);
      expect((await get('/admin', bearer('admin-test-token-wrong'))).status).to.equal(401);
      expect((await get('/admin', { Authorization: `Basic ${Buffer.from(`x:${ADMIN_TOKEN}`).toString('base64')}` })).status).to.equal(401);
    });

    it('accepts the right token: overview with queue depths and throughput', async () => {
      const response = await get('/admin/api/overview', bearer());
      expect(response.status).to.equal(200);
      const overview = await readJson(response);
      expect(overview.queues.actions.waiting).to.equal(1);
      expect(overview.queues.events).to.have.keys('waiting', 'active', 'delayed', 'failed', 'completed');
      expect(overview.throughput).to.deep.equal({ eventsLast5Minutes: 1, eventsLast60Minutes: 1 });
    });

    it('may POST without the same-origin header: browsers never add a bearer header by themselves', async () => {
      const response = await post('/admin/api/failed/no-such-job/retry', bearer());
      expect(response.status).to.equal(404);
    });
  });

  describe('login form and session cookie', () => {
    it('refuses a wrong token with 401 and sets no cookie', async () => {
      const response = await logIn('admin-test-token-wrong');
      expect(response.status).to.equal(401);
      expect(response.headers.get('set-cookie')).to.equal(null);
      expect(await response.text()).to.contain('That is not the admin token.');
    });

    it('sets an HttpOnly, SameSite=Strict, Path=/admin cookie that is not the token, and the cookie works', async () => {
      const response = await logIn(ADMIN_TOKEN, '/admin?event=firstpromoter-31337');
      expect(response.status).to.equal(303);
      expect(response.headers.get('location')).to.equal('/admin?event=firstpromoter-31337');
      const setCookie = response.headers.get('set-cookie')!;
      expect(setCookie).to.match(/^bridge_admin=[A-Za-z0-9_-]{43}; /);
      expect(setCookie).to.contain('HttpOnly').and.contain('SameSite=Strict').and.contain('Path=/admin');
      expect(setCookie).not.to.contain(ADMIN_TOKEN);
      const cookie = setCookie.split(';')[0];

      const page = await get('/admin', { Cookie: cookie });
      expect(page.status).to.equal(200);
      expect(await page.text()).to.contain('<h2>Queues</h2>');
      expect((await get('/admin/api/failed', { Cookie: cookie })).status).to.equal(200);
      // Already logged in: the form sends the browser on.
      expect((await get('/admin/login', { Cookie: cookie })).status).to.equal(303);
    });

    it('never redirects off the dashboard after logging in', async () => {
      for (const next of ['//evil.example/admin', 'https://evil.example/', '/\\evil.example', '/administrator']) {
        expect((await logIn(ADMIN_TOKEN, next)).headers.get('location'), next).to.equal('/admin');
      }
    });

    it('refuses a session id no login issued', async () => {
      const page = await get('/admin', forgedSession);
      expect(page.status).to.equal(303);
      expect(page.headers.get('set-cookie')).to.contain('Max-Age=0');
      expect((await get('/admin/api/overview', forgedSession)).status).to.equal(401);
    });

    it('gives every login its own random session, kept in Redis under its hash, never the id itself', async () => {
      const first = (await logIn(ADMIN_TOKEN)).headers.get('set-cookie')!.split(';')[0];
      const second = (await logIn(ADMIN_TOKEN)).headers.get('set-cookie')!.split(';')[0];
      expect(first).not.to.equal(second);
      const id = first.slice('bridge_admin='.length);
      const keys = await redis.keys(`${prefix}:admin:session:*`);
      expect(keys.length).to.be.at.least(3);
      expect(keys.join(' ')).not.to.contain(id);
      expect(await redis.pttl(keys[0])).to.be.within(12 * 3600 * 1000 - 60_000, 12 * 3600 * 1000);
    });

    it('logging out clears the cookie and ends the session on the server: a copy of the cookie stops working', async () => {
      const cookie = (await logIn(ADMIN_TOKEN)).headers.get('set-cookie')!.split(';')[0];
      expect((await get('/admin/api/overview', { Cookie: cookie })).status).to.equal(200);
      const response = await post('/admin/logout', { Cookie: cookie });
      expect(response.status).to.equal(303);
      expect(response.headers.get('location')).to.equal('/admin/login');
      expect(response.headers.get('set-cookie')).to.match(/^bridge_admin=; Path=\/admin; HttpOnly; SameSite=Strict; Max-Age=0/);
      expect((await get('/admin/api/overview', { Cookie: cookie })).status).to.equal(401);
      // The other sessions live on.
      expect((await get('/admin/api/overview', sessionHeaders())).status).to.equal(200);
    });
  });

  describe('state changes with the cookie need proof they come from the page', () => {
    it('refuses a POST without the X-Bridge-Admin header (a cross-site form)', async () => {
      const response = await post('/admin/api/failed/retry-all', sessionHeaders());
      expect(response.status).to.equal(403);
      expect((await readJson(response)).error).to.contain('x-bridge-admin header is missing');
      expect((await post(`/admin/api/events/${EVENT_ID}/replay`, sessionHeaders())).status).to.equal(403);
    });

    it('refuses a POST the browser marks as cross-site, even with the header', async () => {
      const response = await post('/admin/api/failed/retry-all', { ...sessionHeaders(), 'X-Bridge-Admin': '1', 'Sec-Fetch-Site': 'cross-site' });
      expect(response.status).to.equal(403);
    });

    it('accepts a same-origin POST from the page', async () => {
      const response = await post('/admin/api/failed/no-such-job/retry', { ...sessionHeaders(), 'X-Bridge-Admin': '1', 'Sec-Fetch-Site': 'same-origin' });
      expect(response.status).to.equal(404);
    });
  });

  describe('JSON API answers', () => {
    it('404 for an unknown job or event, 409 for a job that has not failed', async () => {
      const unknownJob = await post('/admin/api/failed/no-such-job/retry', bearer());
      expect(unknownJob.status).to.equal(404);
      expect(await readJson(unknownJob)).to.deep.equal({ error: 'No action job no-such-job' });

      const waiting = await post(`/admin/api/failed/${WAITING_JOB_ID}/retry`, bearer());
      expect(waiting.status).to.equal(409);
      expect((await readJson(waiting)).error).to.equal(`Action job ${WAITING_JOB_ID} is waiting, not failed: only failed actions can be retried`);

      for (const response of [await post('/admin/api/events/firstpromoter-404/replay', bearer()), await get('/admin/api/events/firstpromoter-404', bearer())]) {
        expect(response.status).to.equal(404);
        expect((await readJson(response)).error).to.match(/^No stored event firstpromoter-404/);
      }
    });

    it('lists a plan failure in the dead-letter list, and refuses to retry it with 409 pointing to a replay', async () => {
      const failed = await readJson(await get('/admin/api/failed', bearer()));
      expect(failed.failed).to.have.length(1);
      expect(failed.failed[0]).to.deep.include({
        kind: 'plan', jobId: PLAN_FAILURE_ID, ruleId: 'unplannable-rule', eventId: EVENT_ID,
        error: 'plan_error: params invalid once rendered: email must be an email', attemptsMade: 1,
      });
      const retry = await post(`/admin/api/failed/${PLAN_FAILURE_ID}/retry`, bearer());
      expect(retry.status).to.equal(409);
      expect(await readJson(retry)).to.deep.equal({
        error: `Action ${PLAN_FAILURE_ID} could not be planned (params invalid once rendered: email must be an email): retrying it cannot succeed as is. Fix the rule, then run: affiliate-bridge events replay ${EVENT_ID}`,
      });
      const page = await (await get('/admin', bearer())).text();
      expect(page).to.contain(`<tr data-job-id="${PLAN_FAILURE_ID}">`);
      // No Retry button for it (nor a Retry all that would skip it): what to do instead, with the command.
      const row = page.slice(page.indexOf(`<tr data-job-id="${PLAN_FAILURE_ID}">`), page.indexOf('</tr>', page.indexOf(`<tr data-job-id="${PLAN_FAILURE_ID}">`)));
      expect(row).not.to.contain('<button');
      expect(row).to.contain(
        `<p class="advice">Could not be planned: a retry would fail the same way. Fix the rule, then replay the event: <code>affiliate-bridge events replay ${EVENT_ID}</code> (or Replay on <a class="event-link" href="/admin?event=${EVENT_ID}#trace">${EVENT_ID}</a>).</p>`,
      );
      expect(page).not.to.contain('data-url="/admin/api/failed/retry-all"');
    });

    it('lists quarantined and recent events, and gives a trace with its actions', async () => {
      const quarantined = await readJson(await get('/admin/api/quarantined', bearer()));
      expect(quarantined.quarantined.map((event: { eventId: string }) => event.eventId)).to.deep.equal([EVENT_ID]);
      const recent = await readJson(await get('/admin/api/events/recent', bearer()));
      expect(recent.events[0]).to.include({ eventId: EVENT_ID, status: 'quarantined' });
      const trace = await readJson(await get(`/admin/api/events/${EVENT_ID}`, bearer()));
      expect(trace.event.id).to.equal(EVENT_ID);
      expect(trace.actions[0]).to.include({ jobId: WAITING_JOB_ID, state: 'waiting' });
    });

    it('replays a stored event: 202 with the replay generation, and the event job is queued', async () => {
      const response = await post(`/admin/api/events/${EVENT_ID}/replay`, bearer());
      expect(response.status).to.equal(202);
      expect(await readJson(response)).to.include({ eventId: EVENT_ID, generation: 1 });
      expect(await eventsQueue.getJob(`${EVENT_ID}.replay1`)).to.not.equal(undefined);
    });
  });

  describe('hostile payloads', () => {
    it('are HTML-escaped everywhere on the page: trace, params, rules, quarantine, recent list', async () => {
      const response = await get(`/admin?event=${EVENT_ID}`, bearer());
      expect(response.status).to.equal(200);
      const page = await response.text();
      expect(page).not.to.contain('<script>alert');
      expect(page).not.to.contain('<img src=x');
      expect(page).not.to.contain('</pre><script>');
      expect(page).to.contain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;');
      expect(page).to.contain('no such key: &lt;script&gt;');
      expect(page).to.contain('data.email: &lt;script&gt;');
      // The only scripts are the dashboard's own file.
      expect(page.match(/<script/g)).to.have.length(1);
      expect(page).to.contain('<script src="/admin/assets/dashboard.js" defer></script>');
    });

    it('lists an action suppressed by once_per with its key (escaped) and a link to the event that holds it', async () => {
      const page = await (await get(`/admin?event=${EVENT_ID}`, bearer())).text();
      expect(page).to.contain(
        `<li><code>once-rule</code> slack.post_message: key <code>&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</code> held by <a class="event-link" href="/admin?event=${HOLDING_EVENT_ID}#trace">${HOLDING_EVENT_ID}</a></li>`,
      );
      const trace = await readJson(await get(`/admin/api/events/${EVENT_ID}`, bearer()));
      expect(trace.runs[0].suppressed).to.deep.equal([{ ruleId: 'once-rule', action: 'slack.post_message', actionIndex: 0, key: HOSTILE, heldBy: HOLDING_EVENT_ID }]);
    });

    it('lists the rules that failed on real events, with the count, the latest error (escaped) and its event (issue 11.3)', async () => {
      const page = await (await get('/admin', bearer())).text();
      expect(page).to.contain('<h2>Rule errors <span class="count">1</span></h2>');
      expect(page).to.match(/<tr data-rule-id="hostile-rule">\s*<td>hostile-rule<\/td>\s*<td>3<\/td>\s*<td>condition: No such key: &lt;script&gt;alert/);
      expect(page).to.contain(`<a class="event-link" href="/admin?event=${EVENT_ID}#trace">${EVENT_ID}</a>`);
      expect(page).not.to.contain('<script>alert');
    });

    it('escapes the looked-up id that was typed in', async () => {
      const typed = '"><script>alert(3)</script>';
      const page = await (await get(`/admin?event=${encodeURIComponent(typed)}`, bearer())).text();
      expect(page).not.to.contain('<script>alert(3)');
      expect(page).to.contain('value="&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;"');
      expect(page).to.contain('No stored event <code>&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;</code>');
    });
  });

  // Last: it reads what every test above made the dashboard log.
  describe('afterwards', () => {
    it('never logged the token or the session cookie', async () => {
      const text = capture.text();
      expect(text).to.contain('admin: logged in');
      expect(text).to.contain('admin: login refused (wrong token)');
      expect(text).not.to.contain(ADMIN_TOKEN);
      expect(text).not.to.contain(sessionCookie.slice('bridge_admin='.length));
    });
  });

  describe('throttle, session expiry and the Secure flag (two apps on one Redis, behind a trusted proxy)', () => {
    const throttlePrefix = () => `${prefix}:throttled`;
    const apps: Array<{ server: Server; baseUrl: string }> = [];
    const startAdminApp = async (options: { sessionTtlMs?: number; cookieSecure?: boolean; limit?: number } = {}) => {
      // Its own connection per app, as two `api` processes would have.
      const connection = new Redis(SHARED_REDIS_URL);
      const app = await listen([createAdminRouter({
        adminToken: new Secret(ADMIN_TOKEN), operations, logger: capture.logger,
        sessions: new AdminSessions(connection, throttlePrefix(), options.sessionTtlMs),
        throttle: new AdminThrottle(connection, throttlePrefix(), options.limit ?? 3, 60_000),
        cookieSecure: options.cookieSecure,
      })], 'loopback');
      app.server.on('close', () => connection.disconnect());
      apps.push(app);
      return app;
    };
    const from = (address: string, headers: Record<string, string> = {}) => ({ 'X-Forwarded-For': address, ...headers });
    const logInAt = (base: string, token: string, headers: Record<string, string>) =>
      fetch(`${base}/admin/login`, { method: 'POST', body: new URLSearchParams({ token }), headers, redirect: 'manual' });

    after(async () => {
      for (const app of apps) {
        app.server.closeAllConnections();
        await new Promise((resolve) => app.server.close(resolve));
      }
    });

    it('counts failed logins and bearer attempts per client address, in Redis: the other process answers 429 with Retry-After too', async () => {
      const [one, two] = [await startAdminApp(), await startAdminApp()];
      const attacker = '203.0.113.7';
      expect((await logInAt(one.baseUrl, 'wrong-guess-number-one', from(attacker))).status).to.equal(401);
      expect((await fetch(`${two.baseUrl}/admin/api/overview`, { headers: from(attacker, bearer('wrong-guess-number-two')) })).status).to.equal(401);
      expect((await logInAt(two.baseUrl, 'wrong-guess-number-three', from(attacker))).status).to.equal(401);

      // The limit (3 here) is reached: even the right token is refused now, unchecked, on both.
      const login = await logInAt(one.baseUrl, ADMIN_TOKEN, from(attacker));
      expect(login.status).to.equal(429);
      expect(Number(login.headers.get('retry-after'))).to.be.within(55, 60);
      expect(login.headers.get('set-cookie')).to.equal(null);
      const api = await fetch(`${two.baseUrl}/admin/api/overview`, { headers: from(attacker, bearer()) });
      expect(api.status).to.equal(429);
      expect(Number(api.headers.get('retry-after'))).to.be.within(55, 60);
      expect((await readJson(api)).error).to.match(/^Too many failed attempts: try again in \d+ s$/);

      // Another address is not affected, and a right bearer token is not a failure.
      expect((await fetch(`${one.baseUrl}/admin/api/overview`, { headers: from('198.51.100.9', bearer()) })).status).to.equal(200);
      expect((await logInAt(two.baseUrl, ADMIN_TOKEN, from('198.51.100.9'))).status).to.equal(303);
      expect(await redis.get(`${throttlePrefix()}:admin:failures:${attacker}`)).to.equal('3');
      expect(capture.text()).to.contain('admin: too many failed attempts from this address; refused');
    });

    it('ends a session when its time is up', async () => {
      const app = await startAdminApp({ sessionTtlMs: 1_000 });
      const response = await logInAt(app.baseUrl, ADMIN_TOKEN, from('192.0.2.10'));
      expect(response.headers.get('set-cookie')).to.match(/; Max-Age=1(;|$)/);
      const cookie = response.headers.get('set-cookie')!.split(';')[0];
      expect((await fetch(`${app.baseUrl}/admin/api/overview`, { headers: { Cookie: cookie } })).status).to.equal(200);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect((await fetch(`${app.baseUrl}/admin/api/overview`, { headers: { Cookie: cookie } })).status).to.equal(401);
    });

    it('marks the cookie Secure behind a trusted TLS proxy (X-Forwarded-Proto: https), or always with ADMIN_COOKIE_SECURE', async () => {
      const plain = await startAdminApp();
      const overHttp = await logInAt(plain.baseUrl, ADMIN_TOKEN, from('192.0.2.11'));
      expect(overHttp.headers.get('set-cookie')).not.to.contain('Secure');
      const viaProxy = await logInAt(plain.baseUrl, ADMIN_TOKEN, from('192.0.2.11', { 'X-Forwarded-Proto': 'https' }));
      expect(viaProxy.headers.get('set-cookie')).to.match(/; Secure$/);
      const always = await startAdminApp({ cookieSecure: true });
      expect((await logInAt(always.baseUrl, ADMIN_TOKEN, from('192.0.2.12'))).headers.get('set-cookie')).to.match(/; Secure$/);
    });
  });

  it('is absent when not mounted (ADMIN_TOKEN unset): /admin is a plain 404', async () => {
    const bare = await listen([]);
    try {
      const response = await fetch(`${bare.baseUrl}/admin`, { headers: bearer() });
      expect(response.status).to.equal(404);
    } finally {
      bare.server.closeAllConnections();
      await new Promise((resolve) => bare.server.close(resolve));
    }
  });
});
