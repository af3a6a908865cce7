import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startSlackFake, type SlackFake } from '../fakes/slack-fake.js';
import { BridgeProcess, runCli } from '../support/bridge-process.js';
import { postFirstPromoter, readJson } from '../support/intake-app.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../support/redis.js';
import { bridgeTestEnv } from '../support/bridge-env.js';

/**
 * Debian's chromium package, never a browser downloaded by a tool: CI installs it with
 * `apt-get install -y chromium`. BRIDGE_TEST_CHROMIUM_PATH points elsewhere (the test of this
 * test's skipping uses a path that does not exist).
 */
const CHROMIUM_PATH = process.env.BRIDGE_TEST_CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The picture in the README: rewritten only on purpose (`npm run docs:dashboard`), never by a test run. */
const DOCS_SCREENSHOT_PATH = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url));
/** Set to 1 to copy this run's screenshot over docs/dashboard.png. */
const UPDATE_PICTURE_VARIABLE = 'UPDATE_DASHBOARD_PNG';

const ADMIN_TOKEN = 'admin-e2e-token-9d8c7b6a5f4e3d2c';
const SLACK_TOKEN = 'xoxb-dashboard-e2e-token-1234abcd';
const LEAD_EVENT_ID = 'firstpromoter-99100001';
const LEAD_JOB_ID = `${LEAD_EVENT_ID}.dashboard-lead-to-ops.0`;
const QUARANTINED_EVENT_ID = 'firstpromoter-99100002';
/** A reward whose HubSpot action cannot be planned (no email in the payload): a plan failure. */
const REWARD_EVENT_ID = 'firstpromoter-22737431';
const PLAN_FAILURE_ID = `${REWARD_EVENT_ID}.dashboard-reward-to-hubspot.0`;
/** A lead posted once the page is open: the live tail shows it, and its dead letter. */
const LIVE_EVENT_ID = 'firstpromoter-99100003';
const LIVE_JOB_ID = `${LIVE_EVENT_ID}.dashboard-lead-to-ops.0`;

/** A rule that posts every lead to a channel that does not exist yet, and two that do not match. */
const RULES = `rules:
  - id: dashboard-lead-to-ops
    description: Every new lead is announced in #new-leads (which does not exist at first)
    on: firstpromoter.lead_signup
    do:
      - slack.post_message:
          channel: "#new-leads"
          text: "New lead {{ data.email }} via {{ data.promoter.email }}"
  - id: dashboard-suspicious-only
    on: firstpromoter.lead_signup
    if: data.suspicion != "no_suspicion"
    do:
      - slack.post_message:
          channel: "#affiliate-fraud"
          text: "Suspicious lead {{ data.email }}"
  - id: dashboard-reward-to-hubspot
    on: firstpromoter.reward_created
    do:
      - hubspot.upsert_contact: { email: "{{ data['missing_email_field'] }}" }
`;

const readFixture = async (name: string) => JSON.parse(await readFile(new URL(`../fixtures/deliveries/firstpromoter/${name}.json`, import.meta.url), 'utf8'));

describe('admin dashboard in a real browser (Debian chromium, real bridge process)', function () {
  this.timeout(60_000);
  const prefix = randomPrefix('dashboard');
  const missingChannels = ['#new-leads'];
  let slack: SlackFake;
  let bridge: BridgeProcess;
  let browser: Browser;
  let page: Page;
  let rulesDir: string;
  let redis: Redis;
  const pageProblems: string[] = [];

  let screenshotDir: string | undefined;

  before(async function () {
    if (!existsSync(CHROMIUM_PATH)) {
      const howTo = `${CHROMIUM_PATH} is missing: install Debian's chromium package (apt-get install -y chromium). This test never downloads a browser.`;
      // CI must run it; on a developer's machine one visible line says why it did not.
      if (process.env.CI === 'true') throw new Error(howTo);
      console.log(`      dashboard browser test skipped: ${howTo}`);
      this.skip();
    }
    screenshotDir = await mkdtemp(path.join(tmpdir(), 'bridge-dashboard-shot-'));
    slack = await startSlackFake({ token: SLACK_TOKEN, missingChannels });
    rulesDir = await mkdtemp(path.join(tmpdir(), 'bridge-dashboard-rules-'));
    await writeFile(path.join(rulesDir, 'dashboard.yaml'), RULES);
    redis = new Redis(SHARED_REDIS_URL);
    bridge = await BridgeProcess.start({
      env: bridgeTestEnv({
        prefix,
        rulesDir,
        slack: { url: slack.url, token: SLACK_TOKEN },
        extra: { ADMIN_TOKEN, ACTION_ATTEMPTS: '3' },
      }),
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    // A hostile payload that ran would show up as a dialog, a page error or a CSP report.
    page.on('dialog', (dialog) => {
      pageProblems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`));
    page.on('response', (response) => {
      if (response.status() >= 400 && !response.url().endsWith('/admin/login')) pageProblems.push(`HTTP ${response.status()}: ${response.url()}`);
    });
    page.on('console', (message) => {
      if (message.type() === 'error') pageProblems.push(`console error: ${message.text()}`);
    });
  });

  after(async () => {
    await browser?.close();
    await bridge?.stop();
    await slack?.close();
    if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
    if (screenshotDir) await rm(screenshotDir, { recursive: true, force: true });
    if (redis) {
      await deleteKeys(redis, prefix);
      redis.disconnect();
    }
  });

  it('a lead whose Slack channel is missing ends in the dead-letter list; a hostile unknown event is quarantined', async () => {
    const lead = await readFixture('lead_signup');
    lead.event.id = 99_100_001;
    lead.data.email = 'dash.lead@example.com';
    expect((await postFirstPromoter(bridge.baseUrl, JSON.stringify(lead))).status).to.equal(202);

    const hostile = {
      event: { id: 99_100_002, type: 'mystery_event', created_at: '2024-10-03T13:45:20.103Z' },
      data: { email: '<img src=x onerror=alert(1)>', note: '<script>alert("pwned")</script>' },
    };
    expect((await postFirstPromoter(bridge.baseUrl, JSON.stringify(hostile))).status).to.equal(202);
    expect((await postFirstPromoter(bridge.baseUrl, JSON.stringify(await readFixture('reward_created')))).status).to.equal(202);

    const api = (route: string) => fetch(`${bridge.baseUrl}/admin/api/${route}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    await waitFor(async () => (await readJson(await api('failed'))).failed.some((entry: { jobId: string }) => entry.jobId === LEAD_JOB_ID));
    await waitFor(async () => (await readJson(await api('failed'))).failed.some((entry: { jobId: string }) => entry.jobId === PLAN_FAILURE_ID));
    await waitFor(async () => (await readJson(await api('quarantined'))).quarantined.length === 1);
    // Every event job finished (the quarantine entry is written just before the job completes, and
    // a completed event job is removed: its trace is the record): the 3 deliveries and the
    // bridge.action.failed reports of the dead letter and of the plan failure.
    await waitFor(async () => {
      const overview = await readJson(await api('overview'));
      const { waiting, active } = overview.queues.events;
      return waiting === 0 && active === 0 && overview.throughput.eventsLast5Minutes === 5;
    });
  });

  it('logs in through the form and shows the queue depths and throughput', async () => {
    await page.goto(`${bridge.baseUrl}/admin`);
    expect(new URL(page.url()).pathname).to.equal('/admin/login');
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('form[action="/admin/login"] button[type=submit]');
    await page.waitForURL(`${bridge.baseUrl}/admin`);

    expect(await page.textContent('td[data-queue="actions"][data-state="failed"]')).to.equal('1');
    // A planned event job is removed (its trace is the record of the event): the events queue keeps
    // no completed jobs, and the planned events are counted from the recent-events index instead:
    // 3 deliveries and 2 bridge.action.failed reports (events like any other: traced and counted).
    expect(await page.textContent('td[data-queue="events"][data-state="completed"]')).to.equal('0');
    expect(await page.textContent('#events-completed-note')).to.contain('A planned event leaves the events queue');
    expect(await page.textContent('#events-5m')).to.equal('5');
  });

  it('offers Retry on a failed action job, and on a plan failure says what to do instead: fix the rule, then replay', async () => {
    expect(await page.locator(`#failed-table tr[data-job-id="${LEAD_JOB_ID}"] button.js-post`).textContent()).to.equal('Retry');
    const planRow = page.locator(`#failed-table tr[data-job-id="${PLAN_FAILURE_ID}"]`);
    expect(await planRow.locator('button').count()).to.equal(0);
    expect(await planRow.locator('.advice').textContent()).to.equal(
      `Could not be planned: a retry would fail the same way. Fix the rule, then replay the event: affiliate-bridge events replay ${REWARD_EVENT_ID} (or Replay on ${REWARD_EVENT_ID}).`,
    );
    // Retry all retries what can succeed: the one action job.
    expect(await page.locator('#dead-letters button[data-url="/admin/api/failed/retry-all"]').getAttribute('data-confirm')).to.equal('Retry all 1 failed action(s)?');
  });

  it('updates itself without navigation: a webhook posted after the page opened tops the events list, and its dead letter appears', async () => {
    // A reload or a navigation would lose this mark.
    await page.evaluate('window.openedOnce = true');
    const lead = await readFixture('lead_signup');
    lead.event.id = 99_100_003;
    lead.data.email = 'live.tail@example.com';
    expect((await postFirstPromoter(bridge.baseUrl, JSON.stringify(lead))).status).to.equal(202);

    const row = page.locator(`#recent-table tr[data-event-id="${LIVE_EVENT_ID}"]`);
    await row.waitFor({ timeout: 20_000 });
    // Newest first: above every earlier delivery (the bridge's own report of its dead letter may come later still).
    const rowIds = await page.locator('#recent-table tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-event-id')));
    expect(rowIds.filter((id) => !id?.startsWith('bridge-'))[0]).to.equal(LIVE_EVENT_ID);
    expect(await row.getAttribute('class')).to.equal('is-new');
    expect(await row.locator('td.matched-rules').textContent()).to.equal('dashboard-lead-to-ops');
    expect(await row.textContent()).to.contain('live.tail@example.com');
    // The rows that were there already are not new.
    expect(await page.locator(`#recent-table tr[data-event-id="${LEAD_EVENT_ID}"]`).getAttribute('class')).to.equal(null);

    await page.locator(`#failed-table tr[data-job-id="${LIVE_JOB_ID}"]`).waitFor({ timeout: 20_000 });
    await page.locator('td[data-queue="actions"][data-state="failed"]', { hasText: '2' }).waitFor({ timeout: 10_000 });
    // One more delivery and the report of its dead letter.
    await page.locator('#events-5m', { hasText: '7' }).waitFor({ timeout: 10_000 });
    expect(await page.evaluate('window.openedOnce')).to.equal(true);
    expect(new URL(page.url()).pathname).to.equal('/admin');
    expect(pageProblems).to.deep.equal([]);
  });

  it('stops polling while the tab is hidden and refreshes as soon as it is shown', async () => {
    const polls: number[] = [];
    const countPoll = (request: { url(): string }) => {
      if (request.url().endsWith('/admin/api/live')) polls.push(Date.now());
    };
    // What the browser does when the tab goes to the background (headless tabs are never hidden).
    // As a string: tsx would wrap a named function in a helper the page does not have.
    const setHidden = (hidden: boolean) =>
      page.evaluate(`Object.defineProperty(document, 'hidden', { configurable: true, value: ${hidden} }); document.dispatchEvent(new Event('visibilitychange'));`);
    page.on('request', countPoll);
    try {
      await setHidden(true);
      const hiddenAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 11_000));
      expect(polls.filter((at) => at > hiddenAt + 100)).to.deep.equal([]);
      expect(await page.textContent('#live-status')).to.equal('Live updates paused while the tab is hidden');
      const shownAt = Date.now();
      await setHidden(false);
      await waitFor(() => polls.some((at) => at >= shownAt), 2_000);
    } finally {
      page.off('request', countPoll);
      // Shown again whatever happened: the tests after this one need a live page.
      await setHidden(false);
    }
  });

  it('shows broken rule files at the top, as check prints them, while they fail to load, and not once fixed', async () => {
    const broken = path.join(rulesDir, 'broken.yaml');
    await writeFile(broken, 'rules:\n  - id: dashboard-broken\n    on: firstpromoter.lead_signup\n    do:\n      - slack.post_mesage: { channel: "#x", text: "x" }\n');
    const check = await runCli(['check', '--rules', rulesDir]);
    const expected = check.stderr.split('\n').filter((line) => line.startsWith(broken));
    expect(expected).to.deep.equal([`${broken}:5:9: unknown action slack.post_mesage: known actions are slack.post_message, hubspot.upsert_contact`]);

    const section = page.locator('#rule-files');
    await section.waitFor({ timeout: 20_000 });
    expect(await section.locator('h2').textContent()).to.equal('Rule files do not load 1');
    expect(await section.locator('li').allTextContents()).to.deep.equal(expected);
    // At the top: before the queues.
    expect(await page.locator('main > :first-child').getAttribute('id')).to.equal('rule-files');

    await rm(broken);
    await section.waitFor({ state: 'detached', timeout: 20_000 });
    expect(pageProblems).to.deep.equal([]);
  });

  it('finds the event by id and shows its trace: matched and unmatched rules, rendered params, the failed action', async () => {
    await page.fill('#event-id', LEAD_EVENT_ID);
    await page.click('form.lookup button[type=submit]');
    await page.waitForURL(/\?event=firstpromoter-99100001/);

    const trace = page.locator('#trace');
    expect(await trace.locator('h3 code').first().textContent()).to.equal(LEAD_EVENT_ID);
    const rules = await trace.locator('table.rules tbody tr').allTextContents();
    expect(rules.find((row) => row.includes('dashboard-lead-to-ops'))).to.contain('matched');
    expect(rules.find((row) => row.includes('dashboard-suspicious-only'))).to.contain('condition_false');
    expect(await trace.locator('details.payload pre').first().textContent()).to.contain('"email": "dash.lead@example.com"');

    const action = trace.locator(`#actions-table tr[data-job-id="${LEAD_JOB_ID}"]`);
    const params = await action.locator('pre.json').first().textContent();
    expect(JSON.parse(params!)).to.deep.equal({ channel: '#new-leads', text: 'New lead dash.lead@example.com via promoter@example.com' });
    expect(await action.locator('.js-state').textContent()).to.equal('failed');
    expect(await action.textContent()).to.contain('channel_not_found');
  });

  it('lists the failed action in the dead-letter list and the hostile event as text, not markup', async () => {
    const row = page.locator(`#failed-table tr[data-job-id="${LEAD_JOB_ID}"]`);
    const text = await row.textContent();
    expect(text).to.contain('slack.post_message').and.contain('dashboard-lead-to-ops').and.contain(LEAD_EVENT_ID).and.contain('channel_not_found');

    const quarantined = page.locator(`#quarantine-table tr[data-event-id="${QUARANTINED_EVENT_ID}"]`);
    expect(await quarantined.textContent()).to.contain('firstpromoter.mystery_event');
    // The hostile payload as the trace shows it: text in a <pre>, no element made of it.
    await quarantined.locator('a.event-link').click();
    await page.waitForURL(/\?event=firstpromoter-99100002/);
    expect(await page.locator('#trace details.payload pre').first().textContent()).to.contain('<script>alert(\\"pwned\\")</script>');
    expect(await page.locator('#trace img').count()).to.equal(0);
    expect(pageProblems).to.deep.equal([]);
  });

  it('retries the failed action once the channel exists: Slack gets the message and the page shows it done', async () => {
    await page.goto(`${bridge.baseUrl}/admin?event=${LEAD_EVENT_ID}#trace`);
    missingChannels.length = 0;

    await page.locator(`#failed-table tr[data-job-id="${LEAD_JOB_ID}"] button.js-post`).click();
    const message = await waitFor(() => slack.received.find((received) => received.channel === '#new-leads'), 15_000);
    expect(message!.text).to.equal('New lead dash.lead@example.com via promoter@example.com');

    // The script waits for the job to settle, then reloads the page with a note.
    await page.locator('#flash', { hasText: `Action ${LEAD_JOB_ID} retried: completed.` }).waitFor({ timeout: 15_000 });
    expect(await page.locator(`#actions-table tr[data-job-id="${LEAD_JOB_ID}"] .js-state`).textContent()).to.equal('completed');
    expect(await page.locator(`#failed-table tr[data-job-id="${LEAD_JOB_ID}"]`).count()).to.equal(0);
    expect(await page.locator('#failed-table tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-job-id')))).to.have.members([LIVE_JOB_ID, PLAN_FAILURE_ID]);
    expect(await page.textContent('td[data-queue="actions"][data-state="failed"]')).to.equal('1');
    expect(pageProblems).to.deep.equal([]);

    // Into a temporary file: a test run never changes a tracked file. `npm run docs:dashboard`
    // (UPDATE_DASHBOARD_PNG=1) copies it over the README's picture, deliberately.
    const screenshot = path.join(screenshotDir!, 'dashboard.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    expect((await readFile(screenshot)).subarray(0, 8).toString('hex')).to.equal('89504e470d0a1a0a');
    if (process.env[UPDATE_PICTURE_VARIABLE] === '1') {
      await mkdir(path.dirname(DOCS_SCREENSHOT_PATH), { recursive: true });
      await copyFile(screenshot, DOCS_SCREENSHOT_PATH);
      console.log(`      ${DOCS_SCREENSHOT_PATH} updated`);
    }
  });

  it('never prints the admin token', async () => {
    await bridge.stop();
    expect(bridge.output()).to.contain('admin: logged in');
    expect(bridge.output()).to.contain('admin: action retried');
    expect(bridge.output()).not.to.contain(ADMIN_TOKEN);
  });
});
