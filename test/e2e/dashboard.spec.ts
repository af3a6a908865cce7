import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startSlackFake, type SlackFake } from '../fakes/slack-fake.js';
import { BridgeProcess } from '../support/bridge-process.js';
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
`;

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
    const lead = JSON.parse(await readFile(new URL('../fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));
    lead.event.id = 99_100_001;
    lead.data.email = 'dash.lead@example.com';
    expect((await postFirstPromoter(bridge.baseUrl, JSON.stringify(lead))).status).to.equal(202);

    const hostile = {
      event: { id: 99_100_002, type: 'mystery_event', created_at: '2024-10-03T13:45:20.103Z' },
      data: { email: '<img src=x onerror=alert(1)>', note: '<script>alert("pwned")</script>' },
    };
    expect((await postFirstPromoter(bridge.baseUrl, JSON.stringify(hostile))).status).to.equal(202);

    const api = (route: string) => fetch(`${bridge.baseUrl}/admin/api/${route}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    await waitFor(async () => (await readJson(await api('failed'))).failed.some((entry: { jobId: string }) => entry.jobId === LEAD_JOB_ID));
    await waitFor(async () => (await readJson(await api('quarantined'))).quarantined.length === 1);
    // Both event jobs finished (the quarantine entry is written just before the job completes, and
    // a completed event job is removed: its trace is the record).
    await waitFor(async () => {
      const { waiting, active } = (await readJson(await api('overview'))).queues.events;
      return waiting === 0 && active === 0;
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
    // no completed jobs, and the planned events are counted from the recent-events index instead.
    expect(await page.textContent('td[data-queue="events"][data-state="completed"]')).to.equal('0');
    expect(await page.textContent('#events-5m')).to.equal('2');
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
    expect(await page.locator('#dead-letters .empty').textContent()).to.equal('No failed actions.');
    expect(await page.textContent('td[data-queue="actions"][data-state="failed"]')).to.equal('0');
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
