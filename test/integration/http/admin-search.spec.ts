import { shareRuleProblems } from '../../../src/queue/rule-problems.js';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UnrecoverableError, Worker } from 'bullmq';
import { expect } from 'chai';
import { pino } from 'pino';
import { actionRegistry } from '../../../src/actions/registry.js';
import { loadConfig } from '../../../src/config/config.js';
import { createAdminRouter } from '../../../src/http/admin/admin-router.js';
import { AdminSessions, AdminThrottle } from '../../../src/http/admin/admin-sessions.js';
import { escapeHtml } from '../../../src/http/admin/html.js';
import { createApp } from '../../../src/http/app.js';
import { BridgeMetrics } from '../../../src/observability/metrics.js';
import { EventIntake } from '../../../src/queue/event-intake.js';
import { ACTIONS_QUEUE } from '../../../src/queue/names.js';
import type { ActionJobData } from '../../../src/queue/action-job.js';
import { formatProblem } from '../../../src/rules/problems.js';
import { RuleStore } from '../../../src/rules/rule-store.js';
import { Secret } from '../../../src/secret.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { startEventsStack, type EventsStack } from '../../support/events-stack.js';
import { postFirstPromoter, postRewardful, readJson, TEST_FIRSTPROMOTER_TOKEN, TEST_REWARDFUL_SECRET } from '../../support/intake-app.js';
import { createCapturingLogger } from '../../support/log-capture.js';
import { waitFor } from '../../support/redis.js';

const ADMIN_TOKEN = 'admin-search-token-0a1b2c3d4e5f6a7b';

const RULES = `rules:
  - id: lead-alert
    on: affiliate.lead.created
    do:
      - slack.post_message: { channel: "#leads", text: "lead {{ affiliate.lead.email }}" }
  - id: fraud-alert
    on: firstpromoter.lead_signup
    if: data.suspicion != "no_suspicion"
    do:
      - slack.post_message: { channel: "#fraud", text: "fraud {{ data.email }}" }
  - id: conversion-alert
    on: affiliate.lead.converted
    do:
      - slack.post_message: { channel: "#wins", text: "won {{ affiliate.lead.email }}" }
`;

const fixture = (source: string, name: string) => JSON.parse(readFileSync(new URL(`../../fixtures/deliveries/${source}/${name}.json`, import.meta.url), 'utf8'));

/** Oldest first. The hostile one is a lead whose email and promoter name are markup (the schema lets them through). */
const LEAD = 'firstpromoter-22736304';
const FRAUD = 'firstpromoter-22736990';
const WIN = 'rewardful-7d1c9d4a-3f5e-4c1b-9a57-2b7f0f3c6e10';
const HOSTILE = 'firstpromoter-22736991';
const HOSTILE_EMAIL = '<script>alert(1)</script>';
const HOSTILE_PROMOTER = '<img src=x onerror=alert(2)>';

/**
 * The dashboard's events search and live refresh on real traces: deliveries through the real HTTP
 * intake, planned by the real events worker with real rules, read back through the admin API and
 * page. Also the rule files' problems, from a real RuleStore whose directory gets a broken file.
 */
describe('/admin events search, live refresh and rule-file problems (real intake, worker and Redis)', function () {
  this.timeout(30_000);
  let stack: EventsStack;
  let server: Server;
  let baseUrl: string;
  let rulesDir: string;
  let store: RuleStore;

  before(async () => {
    stack = startEventsStack({ label: 'admin-search', rules: { file: 'rules/alerts.yaml', content: RULES }, traceTtlMs: 600_000 });
    rulesDir = await mkdtemp(path.join(tmpdir(), 'bridge-admin-rules-'));
    await writeFile(path.join(rulesDir, 'alerts.yaml'), RULES);
    store = new RuleStore({ dir: rulesDir, logger: pino({ level: 'silent' }), actions: actionRegistry, debounceMs: 60_000 });
    await store.start();
    const capture = createCapturingLogger();
    // As start-workers.ts does: the worker's store publishes its problems, the dashboard reads Redis.
    await shareRuleProblems(store, stack.redis, stack.prefix, capture.logger);
    const app = createApp({
      trustProxy: false,
      sources: sourceRegistry,
      integrations: loadConfig({ FIRSTPROMOTER_WEBHOOK_TOKEN: TEST_FIRSTPROMOTER_TOKEN, REWARDFUL_SIGNING_SECRET: TEST_REWARDFUL_SECRET }).integrations,
      allowUnsignedWebhooks: false,
      strippedFields: ['auth_token', 'temp_password'],
      bodyLimitBytes: 1024 * 1024,
      intake: new EventIntake({ queue: stack.events, dedupTtlMs: 600_000 }),
      metrics: new BridgeMetrics(),
      logger: capture.logger,
      now: () => new Date(),
      readinessChecks: [],
      extraRouters: [
        createAdminRouter({
          adminToken: new Secret(ADMIN_TOKEN), operations: stack.operations, logger: capture.logger,
          sessions: new AdminSessions(stack.redis, stack.prefix), throttle: new AdminThrottle(stack.redis, stack.prefix),
        }),
      ],
    });
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const hostile = fixture('firstpromoter', 'lead_signup');
    hostile.event.id = 22_736_991;
    hostile.data.email = HOSTILE_EMAIL;
    hostile.data.promoter = { ...hostile.data.promoter, id: 4_000_001, email: 'other.promoter@example.net', name: HOSTILE_PROMOTER };
    const deliveries: Array<[string, () => Promise<Response>]> = [
      [LEAD, () => postFirstPromoter(baseUrl, JSON.stringify(fixture('firstpromoter', 'lead_signup')))],
      [FRAUD, () => postFirstPromoter(baseUrl, JSON.stringify(fixture('firstpromoter', 'lead_signup.self_referral')))],
      [WIN, () => postRewardful(baseUrl, JSON.stringify(fixture('rewardful', 'referral.converted')))],
      [HOSTILE, () => postFirstPromoter(baseUrl, JSON.stringify(hostile))],
    ];
    // One at a time, each planned before the next arrives: the index orders them by receipt.
    for (const [eventId, post] of deliveries) {
      expect((await post()).status).to.be.within(200, 202);
      await waitFor(() => stack.operations.getEventTrace(eventId));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await store?.stop();
    if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
    await stack?.stop();
  });

  const bearer = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  const search = async (query: Record<string, string>) => {
    const response = await fetch(`${baseUrl}/admin/api/events/search?${new URLSearchParams(query)}`, { headers: bearer });
    return { status: response.status, body: await readJson(response) };
  };
  const idsOf = (body: { events: Array<{ eventId: string }> }) => body.events.map((event) => event.eventId);
  const page = async (query: string) => (await fetch(`${baseUrl}/admin?${query}`, { headers: bearer })).text();

  describe('search (GET /admin/api/events/search)', () => {
    it('by email: any part, any case, of the lead email from the canonical affiliate fields', async () => {
      expect(idsOf((await search({ email: 'GOQUCUGO@mailinator' })).body)).to.deep.equal([LEAD]);
      expect(idsOf((await search({ email: '@example.com' })).body)).to.deep.equal([WIN, FRAUD]);
    });

    it('by promoter: the whole id, or any part of the email or name', async () => {
      expect(idsOf((await search({ promoter: '3920164' })).body)).to.deep.equal([FRAUD, LEAD]);
      expect(idsOf((await search({ promoter: '392016' })).body)).to.deep.equal([]);
      expect(idsOf((await search({ promoter: 'PROMOTER@example.com' })).body)).to.deep.equal([FRAUD, LEAD]);
      expect(idsOf((await search({ promoter: 'bond' })).body)).to.deep.equal([WIN]);
      expect(idsOf((await search({ promoter: 'dc939584-a94a-4bdf-b8f4-8d255aae729c' })).body)).to.deep.equal([WIN]);
    });

    it('by rule: the events a rule was evaluated on, matched or not, with the rules each matched', async () => {
      const { body } = await search({ rule: 'fraud-alert' });
      expect(body.events.map((event: { eventId: string; matchedRules: string[] }) => [event.eventId, event.matchedRules])).to.deep.equal([
        [HOSTILE, ['lead-alert']],
        [FRAUD, ['lead-alert', 'fraud-alert']],
        [LEAD, ['lead-alert']],
      ]);
      expect(idsOf((await search({ rule: 'fraud' })).body)).to.deep.equal([]);
      expect(idsOf((await search({ rule: 'conversion-alert' })).body)).to.deep.equal([WIN]);
    });

    it("by type: an event type or glob as a rule's on: reads it, against the type and the canonical types", async () => {
      expect(idsOf((await search({ type: 'firstpromoter.lead_signup' })).body)).to.deep.equal([HOSTILE, FRAUD, LEAD]);
      expect(idsOf((await search({ type: 'affiliate.lead.*' })).body)).to.deep.equal([HOSTILE, WIN, FRAUD, LEAD]);
      expect(idsOf((await search({ type: 'affiliate.fraud.suspected' })).body)).to.deep.equal([FRAUD]);
      expect(idsOf((await search({ type: 'rewardful.*.converted' })).body)).to.deep.equal([WIN]);
    });

    it('every filled field must match', async () => {
      expect(idsOf((await search({ type: 'firstpromoter.lead_signup', promoter: 'jane smith', email: 'trial' })).body)).to.deep.equal([FRAUD]);
    });

    it('a search nothing matches says how far it looked', async () => {
      const { body } = await search({ email: 'nobody@nowhere.example' });
      expect(body).to.deep.include({ events: [], searched: 4, isCapped: false, summary: '0 matches: searched the newest 4 events.' });
    });

    it('stops at the cap and says older events may match', async () => {
      const { body } = await search({ type: 'affiliate.lead.*', limit: '2' });
      expect(idsOf(body)).to.deep.equal([HOSTILE, WIN]);
      expect(body).to.deep.include({ searched: 2, isCapped: true, summary: 'First 2 matches, newest first: searched the newest 2 events; older events may match too (narrow the search).' });
    });

    it('refuses a type that is no event type or glob, with 400 and the reason', async () => {
      const { status, body } = await search({ type: 'Lead Signup' });
      expect(status).to.equal(400);
      expect(body.error).to.equal(
        "The type to search for is not an event type or glob as a rule's on: takes it (on Lead Signup is not an event type or glob: write <source>.<type> in lowercase, such as firstpromoter.lead_signup or rewardful.commission.*).",
      );
    });
  });

  describe('search on the page (GET /admin?email=…)', () => {
    it('shows the matches with their matched rules, and how far it looked', async () => {
      const html = await page('promoter=Jane+Smith');
      expect(html).to.contain('<p class="search-summary" id="search-summary">2 matches: searched the newest 4 events.');
      const table = html.slice(html.indexOf('<table class="grid" id="search-table">'), html.indexOf('</table>', html.indexOf('id="search-table"')));
      expect([...table.matchAll(/<tr data-event-id="([^"]+)">/g)].map((match) => match[1])).to.deep.equal([FRAUD, LEAD]);
      expect(table).to.contain('<td class="matched-rules"><ul class="plain"><li><code>lead-alert</code></li><li><code>fraud-alert</code></li></ul></td>');
      // The typed term is shown back in the form; the live list is not on a search's page.
      expect(html).to.contain('<input name="promoter" type="search" value="Jane Smith"');
      expect(html).not.to.contain('data-live="recent"');
    });

    it('escapes the typed terms and what the hostile event carries', async () => {
      const html = await page(`email=${encodeURIComponent(HOSTILE_EMAIL)}&promoter=${encodeURIComponent('"><b>')}`);
      expect(html).to.contain(`value="${escapeHtml(HOSTILE_EMAIL)}"`);
      expect(html).to.contain('value="&quot;&gt;&lt;b&gt;"');
      expect(html).to.contain('0 matches: searched the newest 4 events.');
      const found = await page(`email=${encodeURIComponent(HOSTILE_EMAIL)}`);
      expect(found).to.contain('1 match: searched the newest 4 events.');
      expect(found).to.contain(`<td>${escapeHtml(HOSTILE_EMAIL)}</td><td>${escapeHtml(HOSTILE_PROMOTER)} · other.promoter@example.net</td>`);
      expect(await page(`promoter=${encodeURIComponent('<IMG src')}`)).to.contain(`<tr data-event-id="${HOSTILE}">`);
      for (const text of [html, found]) {
        expect(text).not.to.contain('<script>alert');
        expect(text).not.to.contain('<img src=x');
        expect(text).not.to.contain('"><b>');
      }
    });

    it('shows a refused search as its sentence', async () => {
      const html = await page('type=%3Cb%3E');
      expect(html).to.contain('<p class="error" role="alert" id="search-summary">The type to search for is not an event type or glob as a rule&#39;s on: takes it (on &lt;b&gt; is not');
    });
  });

  describe('live refresh (GET /admin/api/live)', () => {
    it('sends the newest events with their matched rules, and each live part as the page renders it', async () => {
      const live = await readJson(await fetch(`${baseUrl}/admin/api/live`, { headers: bearer }));
      expect(live.events.map((event: { eventId: string }) => event.eventId)).to.deep.equal([HOSTILE, WIN, FRAUD, LEAD]);
      expect(live.events[1]).to.deep.include({ type: 'rewardful.referral.converted', status: 'valid', email: 'fred.durst@example.com', matchedRules: ['conversion-alert'] });
      expect(Object.keys(live.sections)).to.deep.equal(['rule-files', 'queues', 'dead-letters', 'failed-events', 'recent']);
      const html = await page('');
      for (const [name, markup] of Object.entries(live.sections as Record<string, string>)) {
        expect(markup, name).to.match(new RegExp(`^<[a-z]+ (id="[a-z-]+" )?data-live="${name}"`));
        // The page holds the same part (the queues' "as of" time aside).
        if (name !== 'queues') expect(html, name).to.contain(markup);
      }
      expect(live.sections.recent).not.to.contain('<script>alert');
      expect(live.sections.recent).to.contain(escapeHtml(HOSTILE_EMAIL));
    });
  });

  describe("an event's actions: Retry only where a retry can succeed", () => {
    it('offers Retry on a failed action job, and on a plan failure queued by an older version says to fix the rule and replay', async () => {
      // Both failed for good by a real BullMQ worker; the old versions queued a plan failure as a job with `planError`.
      const provenance = { eventId: LEAD, ruleId: 'lead-alert', ruleFile: 'rules/alerts.yaml', ruleFileHash: 'abc', actionIndex: 0 };
      const data: ActionJobData = { action: 'slack.post_message', params: { channel: '#leads', text: 'x' }, provenance, eventType: 'firstpromoter.lead_signup', eventReceivedAt: new Date().toISOString(), backoffBaseMs: 100 };
      const [sendable, legacy] = [`${LEAD}.sendable.9`, `${LEAD}.legacy.9`];
      await stack.actions.add('slack.post_message', data, { jobId: sendable });
      await stack.actions.add('slack.post_message', { ...data, params: {}, planError: 'params invalid once rendered' } as typeof data, { jobId: legacy });
      const worker = new Worker(ACTIONS_QUEUE, async (job) => {
        if (job.id === sendable || job.id === legacy) throw new UnrecoverableError('channel_not_found');
      }, { connection: stack.redis.duplicate(), prefix: stack.prefix });
      try {
        await waitFor(async () => (await stack.actions.getJob(sendable))?.failedReason && (await stack.actions.getJob(legacy))?.failedReason);
      } finally {
        await worker.close();
      }
      const trace = (await stack.operations.getEventTrace(LEAD))!;
      const statuses = await stack.operations.getActionStatuses({ ...trace, runs: [{ ...trace.runs[0], actionJobIds: [sendable, legacy] }] });
      expect(statuses.map((status) => [status.jobId, status.kind, status.state])).to.deep.equal([[sendable, 'action', 'failed'], [legacy, 'plan', 'failed']]);
      // The page's trace reads the stored trace; point its run at these two jobs.
      await stack.redis.set(`${stack.prefix}:trace:${LEAD}`, JSON.stringify({ ...trace, runs: [{ ...trace.runs[0], actionJobIds: [sendable, legacy] }] }), 'KEEPTTL');
      const html = await page(`event=${LEAD}`);
      const rowOf = (jobId: string) => html.slice(html.indexOf(`<tr data-job-id="${jobId}">`), html.indexOf('</tr>', html.indexOf(`<tr data-job-id="${jobId}">`)));
      expect(rowOf(sendable)).to.contain(`data-url="/admin/api/failed/${sendable}/retry"`);
      expect(rowOf(legacy)).not.to.contain('<button');
      expect(rowOf(legacy)).to.contain(`Fix the rule, then replay the event: <code>affiliate-bridge events replay ${LEAD}</code>`);
      await stack.redis.set(`${stack.prefix}:trace:${LEAD}`, JSON.stringify(trace), 'KEEPTTL');
      await Promise.all([stack.actions.remove(sendable), stack.actions.remove(legacy)]);
    });
  });

  describe('rule files that do not load', () => {
    it('are listed at the top of the page as check prints them while they fail, and gone once fixed', async () => {
      expect(await page('')).to.contain('<div data-live="rule-files" hidden></div>');
      const broken = path.join(rulesDir, 'broken.yaml');
      // An action name made of markup: the problem's message quotes it.
      await writeFile(broken, 'rules:\n  - id: lead-alert\n    on: firstpromoter.lead_signup\n    do:\n      - slack.<img src=x onerror=alert(9)>: { channel: "#x", text: "x" }\n');
      await store.reload();
      expect(store.problems.length).to.be.at.least(1);
      const html = await waitFor(async () => {
        const text = await page('');
        return text.includes('Rule files do not load') ? text : null;
      });
      // The page read them from Redis, where the worker's store published them: an api-only process sees them too.
      expect(JSON.parse((await stack.redis.get(`${stack.prefix}:rule-load-problems`))!)).to.deep.equal(store.problems);
      const top = html.slice(html.indexOf('<main>'), html.indexOf('<section id="queues"'));
      expect(top).to.contain(`<h2>Rule files do not load <span class="count">${store.problems.length}</span></h2>`);
      for (const problem of store.problems) expect(top).to.contain(`<li><code>${escapeHtml(formatProblem(problem))}</code></li>`);
      expect(top).to.contain(`${broken}:5:9: unknown action slack.&lt;img src=x onerror=alert(9)&gt;: known actions are`);
      expect(html).not.to.contain('<img src=x');
      const live = await readJson(await fetch(`${baseUrl}/admin/api/live`, { headers: bearer }));
      expect(live.ruleProblems.map((problem: { text: string }) => problem.text)).to.deep.equal(store.problems.map((problem) => formatProblem(problem)));
      expect(live.sections['rule-files']).to.contain('<section id="rule-files" class="problems" data-live="rule-files" role="alert">');

      await rm(broken);
      await store.reload();
      await waitFor(async () => !(await page('')).includes('Rule files do not load'));
      expect(await page('')).to.contain('<div data-live="rule-files" hidden></div>');
      expect(await stack.redis.exists(`${stack.prefix}:rule-load-problems`)).to.equal(0);
    });
  });
});
