import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startHubspotFake, type HubspotFake, type HubspotFakeOptions } from '../fakes/hubspot-fake.js';
import { startSlackFake, type SlackFake, type SlackFakeOptions } from '../fakes/slack-fake.js';
import { BridgeProcess } from './bridge-process.js';
import { TEST_FIRSTPROMOTER_TOKEN } from './intake-app.js';
import { findFreePort, OwnRedisServer } from './redis-server.js';
import { bridgeTestEnv } from './bridge-env.js';

/*
 * Shared machinery of the fault and hostile-input suites: the real bridge as child processes on a
 * Redis of its own, fake Slack and HubSpot, a bounded load generator, tallies of what the fakes
 * received per event, and the figures file the README's reliability section quotes.
 */

export const FAULT_SLACK_TOKEN = 'xoxb-fault-slack-token-8d7c6b5a4f3e';
export const FAULT_HUBSPOT_TOKEN = 'pat-fault-hubspot-token-9e8d7c6b5a4f';

/** Where the figures of the last run are written (merged per suite). */
export const RELIABILITY_REPORT = fileURLToPath(new URL('../../reports/reliability.json', import.meta.url));

const LEAD_SIGNUP: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('../fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

export type BridgeRole = 'start' | 'api' | 'worker';

/** Options of {@link FaultStack.start}. */
export interface FaultStackOptions {
  /** AOF with `appendfsync always` (persistence across a Redis restart). @defaultValue false */
  readonly appendOnly?: boolean;
  /** Rule files to write into a temp rules dir: file name → YAML. */
  readonly rules: Readonly<Record<string, string>>;
  readonly slack?: SlackFakeOptions;
  readonly hubspot?: HubspotFakeOptions;
  /** Environment on top of {@link FaultStack.env}'s defaults, for every process. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * One test's world: its own redis-server, fake Slack and HubSpot, a temp rules dir, a fixed API
 * port (so a restarted API process comes back where the load generator is pointed), and every
 * bridge process it started, so `destroy()` can stop them all even when a test failed.
 */
export class FaultStack {
  readonly processes: BridgeProcess[] = [];
  /** Supervised processes that exited by themselves (each was started again). */
  readonly crashes: Array<{ role: BridgeRole; pid: number; exit: number | string; at: number; lastOutput: string[] }> = [];
  readonly #roles = new Map<BridgeProcess, BridgeRole>();
  readonly #intendedExits = new Set<BridgeProcess>();
  #isDestroying = false;

  private constructor(
    readonly redis: OwnRedisServer,
    readonly slack: SlackFake,
    readonly hubspot: HubspotFake,
    readonly rulesDir: string,
    readonly apiPort: number,
    private readonly extraEnv: Readonly<Record<string, string>>,
  ) {}

  static async start(options: FaultStackOptions): Promise<FaultStack> {
    const redis = await OwnRedisServer.start({ appendOnly: options.appendOnly ?? false });
    const slack = await startSlackFake({ token: FAULT_SLACK_TOKEN, ...options.slack });
    const hubspot = await startHubspotFake({ token: FAULT_HUBSPOT_TOKEN, ...options.hubspot });
    const rulesDir = await mkdtemp(path.join(tmpdir(), 'bridge-fault-rules-'));
    for (const [name, yaml] of Object.entries(options.rules)) await writeFile(path.join(rulesDir, name), yaml);
    return new FaultStack(redis, slack, hubspot, rulesDir, await findFreePort(), options.env ?? {});
  }

  /** The environment every bridge process of this stack gets. */
  env(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
    return bridgeTestEnv({
      redisUrl: this.redis.url,
      prefix: 'faults',
      rulesDir: this.rulesDir,
      slack: { url: this.slack.url, token: FAULT_SLACK_TOKEN },
      hubspot: { url: this.hubspot.url, token: FAULT_HUBSPOT_TOKEN },
      extra: {
        // Test speed: Slack pacing scaled up, retries in hundreds of ms instead of seconds.
        SLACK_MESSAGES_PER_SECOND: '200',
        SLACK_MESSAGES_PER_MINUTE: '60000',
        HUBSPOT_REQUESTS_PER_10_SECONDS: '1000',
        ACTION_BACKOFF_BASE: '200ms',
        ACTION_ATTEMPTS: '12',
        ACTION_TIMEOUT: '5s',
        SHUTDOWN_TIMEOUT: '3s',
        // Debug lines for thousands of events would cost the test process more than the bridge.
        LOG_LEVEL: 'info',
        ...this.extraEnv,
        ...extra,
      },
    });
  }

  /** Base URL of the API process (its port is fixed for the stack's lifetime). */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  /**
   * Starts a bridge process; an `api` or `start` process listens on the stack's fixed port.
   * A `supervised` process that exits by itself (not through {@link kill} or `destroy`) is started
   * again after 500 ms, as systemd or Kubernetes would (the bridge exits 1 on an uncaught exception
   * "for the supervisor to restart"); each such exit is recorded in {@link crashes}.
   */
  async startBridge(
    role: BridgeRole,
    extra: Readonly<Record<string, string>> = {},
    options: { readonly supervised?: boolean } = {},
  ): Promise<BridgeProcess> {
    const port: Record<string, string> = role === 'worker' ? {} : { PORT: String(this.apiPort) };
    const bridge = await BridgeProcess.start({ role, env: this.env({ ...port, ...extra }) });
    this.processes.push(bridge);
    this.#roles.set(bridge, role);
    if (options.supervised) {
      bridge.child.once('exit', (code, signal) => {
        if (this.#isDestroying || this.#intendedExits.has(bridge)) return;
        this.crashes.push({ role, pid: bridge.child.pid ?? 0, exit: code ?? signal ?? 'unknown', at: Date.now(), lastOutput: bridge.rawOutput.slice(-5) });
        setTimeout(() => {
          if (this.#isDestroying) return;
          this.startBridge(role, extra, options).catch((error: unknown) => this.crashes.push({ role, pid: 0, exit: `restart failed: ${String(error)}`, at: Date.now(), lastOutput: [] }));
        }, 500);
      });
    }
    return bridge;
  }

  /** Kills a process on purpose (no supervisor restart) and waits for it to exit. */
  async kill(bridge: BridgeProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.#intendedExits.add(bridge);
    await bridge.stop(signal);
  }

  /** The running processes of a role, oldest first. */
  running(role: BridgeRole): BridgeProcess[] {
    return this.processes.filter((bridge) => this.#roles.get(bridge) === role && bridge.child.exitCode === null && bridge.child.signalCode === null);
  }

  /** Every process of a role this stack started, running or not (for log searches). */
  all(role: BridgeRole): BridgeProcess[] {
    return this.processes.filter((bridge) => this.#roles.get(bridge) === role);
  }

  /**
   * What is where, for a failure message: job counts of both queues, and each process's state and
   * last warnings. Never throws.
   */
  async describeState(): Promise<string> {
    const lines: string[] = [];
    const redis = new Redis(this.redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    try {
      await redis.connect();
      for (const name of ['events', 'actions']) {
        const queue = new Queue(name, { connection: redis, prefix: 'faults' });
        lines.push(`${name}: ${JSON.stringify(await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized'))}`);
        await queue.close();
      }
    } catch (error) {
      lines.push(`queues unreadable: ${String(error)}`);
    } finally {
      redis.disconnect();
    }
    for (const bridge of this.processes) {
      const warnings = bridge.logs.filter((line) => Number(line.level) >= 40).slice(-5).map((line) => `    ${JSON.stringify(line).slice(0, 400)}`);
      lines.push(`process ${bridge.child.pid} exit ${bridge.child.exitCode ?? bridge.child.signalCode ?? 'running'}`, ...warnings);
    }
    return lines.join('\n');
  }

  /** Like `waitFor`, but a timeout fails with {@link describeState} in the message. */
  async waitFor<T>(label: string, probe: () => T | Promise<T>, timeoutMs: number): Promise<NonNullable<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value) return value as NonNullable<T>;
      if (Date.now() > deadline) throw new Error(`${label}: not within ${timeoutMs} ms\n${await this.describeState()}`);
      await sleep(250);
    }
  }

  /** Stops every process (SIGTERM, SIGKILL after 8 s), the fakes and Redis; removes temp dirs. */
  async destroy(): Promise<void> {
    this.#isDestroying = true;
    // A process that exited by itself with an error is a finding: show why before tearing down.
    for (const bridge of this.processes.filter((candidate) => candidate.child.exitCode !== null && candidate.child.exitCode !== 0)) {
      console.error(`bridge process ${bridge.child.pid} exited with ${bridge.child.exitCode}; its last output:\n${bridge.rawOutput.slice(-30).join('\n')}`);
    }
    await Promise.all(this.processes.map((bridge) => stopBridge(bridge)));
    await Promise.allSettled([this.slack.close(), this.hubspot.close()]);
    await this.redis.destroy();
    await rm(this.rulesDir, { recursive: true, force: true });
  }
}

/**
 * Sends warm-up deliveries (one per call of `send`) until every given worker process has run a
 * Slack and a HubSpot action once. Works around a bug found by these suites (see
 * test/faults/pacing-first-use.spec.ts): a process's FIRST pacing call can crash it when it races
 * another Redis command, so fault scenarios start on workers past that point. Only fresh processes
 * started in `before` are warmed; a worker restarted mid-scenario meets its backlog cold.
 * @throws Error when the workers have not run both actions after `maxDeliveries`.
 */
export async function warmUpWorkers(
  listWorkers: () => readonly BridgeProcess[],
  send: (attempt: number) => Promise<void>,
  maxDeliveries = 30,
): Promise<void> {
  const hasRun = (worker: BridgeProcess, action: string) =>
    worker.logs.some((line) => line.action === action && (line.msg === 'action succeeded' || line.msg === 'action already done: not sent again'));
  // Read the list each time: a supervised worker that crashed while warming up has been replaced.
  const isWarm = () => {
    const workers = listWorkers();
    return workers.length > 0 && workers.every((worker) => hasRun(worker, 'slack.post_message') && hasRun(worker, 'hubspot.upsert_contact'));
  };
  for (let attempt = 0; attempt < maxDeliveries && !isWarm(); attempt += 1) {
    await send(attempt);
    const deadline = Date.now() + 3_000;
    while (!isWarm() && Date.now() < deadline) await sleep(25);
  }
  if (!isWarm()) throw new Error(`workers not warm after ${maxDeliveries} warm-up deliveries`);
}

/** SIGTERM, then SIGKILL if the process has not exited within `graceMs`. Never throws. */
export async function stopBridge(bridge: BridgeProcess, graceMs = 8_000): Promise<void> {
  if (bridge.child.exitCode !== null || bridge.child.signalCode !== null) return;
  const timer = setTimeout(() => bridge.child.kill('SIGKILL'), graceMs);
  try {
    await bridge.stop('SIGTERM');
  } catch {
    // Already gone.
  } finally {
    clearTimeout(timer);
  }
}

// ---- Deliveries ----

/** The lead email of an event: each event gets its own HubSpot contact. */
export function leadEmail(eventId: number): string {
  return `lead-${eventId}@example.com`;
}

/**
 * A FirstPromoter `lead_signup` delivery (the shipped fixture) with its own event id and lead email.
 * `plan` goes into `data.plan_name`, which the fault rules use to route an event to one fault.
 */
export function buildLeadSignup(eventId: number, plan: string): string {
  const delivery = structuredClone(LEAD_SIGNUP) as { event: Record<string, unknown>; data: Record<string, unknown> };
  delivery.event.id = eventId;
  delivery.data.id = eventId;
  delivery.data.email = leadEmail(eventId);
  delivery.data.plan_name = plan;
  return JSON.stringify(delivery);
}

/** One HTTP delivery and its answer. */
export interface DeliveryResult {
  readonly eventId: number;
  /** HTTP status, or 0 when no answer came (connection refused or reset, timeout). */
  readonly status: number;
  readonly retryAfter: string | null;
  readonly error?: string;
  readonly startedAt: number;
  readonly endedAt: number;
}

/** Options of {@link sendDeliveries}. */
export interface SendOptions {
  /** Where to post (read per request: the target may be restarted meanwhile). */
  readonly url: () => string;
  /** Requests in flight at once. @defaultValue 20 */
  readonly concurrency?: number;
  /** Called after each answer (or failure), e.g. to kill a process once N were acknowledged. */
  readonly onResult?: (result: DeliveryResult, results: readonly DeliveryResult[]) => void;
  /** Pause between one worker's requests, in ms (a steady load instead of a burst). @defaultValue 0 */
  readonly pauseMs?: number;
  /** Stops taking new deliveries once true. */
  readonly shouldStop?: () => boolean;
}

/**
 * Posts FirstPromoter deliveries (Bearer token) with bounded concurrency, only to 127.0.0.1, and
 * records each answer. Failures are results, never exceptions: a fault test expects some.
 */
export async function sendDeliveries(
  deliveries: ReadonlyArray<{ readonly eventId: number; readonly body: string }>,
  options: SendOptions,
): Promise<DeliveryResult[]> {
  const results: DeliveryResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < deliveries.length && !options.shouldStop?.()) {
      const delivery = deliveries[next++];
      const startedAt = Date.now();
      let result: DeliveryResult;
      try {
        const response = await fetch(`${options.url()}/webhooks/firstpromoter`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TEST_FIRSTPROMOTER_TOKEN}` },
          body: delivery.body,
          signal: AbortSignal.timeout(10_000),
        });
        await response.arrayBuffer();
        result = {
          eventId: delivery.eventId,
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          startedAt,
          endedAt: Date.now(),
        };
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause;
        result = { eventId: delivery.eventId, status: 0, retryAfter: null, error: cause?.code ?? String(error), startedAt, endedAt: Date.now() };
      }
      results.push(result);
      options.onResult?.(result, results);
      if (options.pauseMs) await sleep(options.pauseMs);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 20 }, worker));
  return results;
}

/**
 * Sends again every delivery that has not been acknowledged yet, as a provider retries a non-2xx,
 * until each got a 2xx or `rounds` run out. Returns the results of the retries.
 */
export async function redeliverUntilAcknowledged(
  eventIds: readonly number[],
  build: (eventId: number) => string,
  options: SendOptions & { readonly rounds?: number },
): Promise<DeliveryResult[]> {
  const all: DeliveryResult[] = [];
  let pending = [...eventIds];
  for (let round = 0; round < (options.rounds ?? 5) && pending.length > 0; round += 1) {
    const results = await sendDeliveries(pending.map((eventId) => ({ eventId, body: build(eventId) })), options);
    all.push(...results);
    const acknowledged = new Set(results.filter(isAcknowledged).map((result) => result.eventId));
    pending = pending.filter((eventId) => !acknowledged.has(eventId));
    if (pending.length > 0) await sleep(500);
  }
  return all;
}

export function isAcknowledged(result: DeliveryResult): boolean {
  return result.status >= 200 && result.status < 300;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- Tallies ----

const EVENT_IN_TEXT = /firstpromoter-(\d+)/;

/** How many accepted Slack messages name each event (`firstpromoter-<id>` in the text). */
export function slackCountsByEvent(slack: SlackFake, channel?: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const message of slack.received) {
    if (channel !== undefined && message.channel !== channel) continue;
    const match = EVENT_IN_TEXT.exec(message.text ?? '');
    if (match) counts.set(Number(match[1]), (counts.get(Number(match[1])) ?? 0) + 1);
  }
  return counts;
}

/** How many answered-200 HubSpot upserts carried each event's lead email. */
export function hubspotCountsByEvent(hubspot: HubspotFake): Map<number, number> {
  const counts = new Map<number, number>();
  for (const [email, count] of hubspot.upsertsByEmail()) {
    const match = /^lead-(\d+)@example\.com$/.exec(email);
    if (match) counts.set(Number(match[1]), count);
  }
  return counts;
}

/** A span of time in which a fault may have cut the one step between a remote answer and our record. */
export interface FaultWindow {
  readonly label: string;
  readonly from: number;
  readonly to: number;
  /** The moment the fault struck (the kill signal, Redis stopping), ms since the epoch. */
  readonly at: number;
}

/** The figures of one scenario, as the README quotes them. */
export interface ReliabilityFigures {
  /** HTTP deliveries posted (retries of unacknowledged ones included). */
  readonly sent: number;
  /** Distinct events that got a 2xx. */
  readonly acknowledged: number;
  /** Distinct acknowledged events whose every expected action reached the fakes. */
  readonly delivered: number;
  /** Extra copies of actions: messages or upserts that arrived more than once. */
  readonly duplicated: number;
  /** Acknowledged events with an expected action missing. */
  readonly lost: number;
  /** Scenario-specific figures (e.g. 503s while Redis was down, Retry-After seen). */
  readonly notes?: Readonly<Record<string, number | string | boolean>>;
}

/** Per-event action counts, as the fakes saw them. */
export interface ActionTally {
  readonly label: string;
  readonly counts: ReadonlyMap<number, number>;
}

/**
 * Computes the figures: every acknowledged event must have each tallied action at least once
 * (else it is lost) and at most once (else the extra copies are duplicates).
 */
export function computeFigures(
  results: readonly DeliveryResult[],
  tallies: readonly ActionTally[],
  notes?: Record<string, number | string | boolean>,
): ReliabilityFigures & { readonly lostEventIds: number[]; readonly duplicatedEventIds: number[] } {
  const acknowledged = new Set(results.filter(isAcknowledged).map((result) => result.eventId));
  const lostEventIds: number[] = [];
  const duplicatedEventIds: number[] = [];
  let duplicated = 0;
  for (const eventId of acknowledged) {
    let isLost = false;
    for (const tally of tallies) {
      const count = tally.counts.get(eventId) ?? 0;
      if (count === 0) isLost = true;
      if (count > 1) {
        duplicated += count - 1;
        duplicatedEventIds.push(eventId);
      }
    }
    if (isLost) lostEventIds.push(eventId);
  }
  return {
    sent: results.length,
    acknowledged: acknowledged.size,
    delivered: acknowledged.size - lostEventIds.length,
    duplicated,
    lost: lostEventIds.length,
    ...(notes ? { notes } : {}),
    lostEventIds,
    duplicatedEventIds,
  };
}

/** One action that arrived more than once, and whether a fault window explains it. */
export interface DuplicateAction {
  readonly eventId: number;
  readonly action: 'slack' | 'hubspot';
  readonly copies: number;
  /** When the fake answered the first copy (ms since the epoch). */
  readonly firstAt: number;
  /** The fault window that holds the first copy's answer, or null: then it is a bug. */
  readonly window: FaultWindow | null;
}

/**
 * Every action among `eventIds` that arrived more than once. A duplicate whose first copy was
 * answered inside a fault window is the documented limit (a crash, or an unreachable Redis, between
 * the remote answer and the completion record); one outside every window is a bug.
 */
export function findDuplicateActions(
  stack: { readonly slack: SlackFake; readonly hubspot: HubspotFake },
  eventIds: readonly number[],
  windows: readonly FaultWindow[],
): DuplicateAction[] {
  const slackTimes = new Map<number, number[]>();
  for (const message of stack.slack.received) {
    const match = EVENT_IN_TEXT.exec(message.text ?? '');
    if (match) slackTimes.set(Number(match[1]), [...(slackTimes.get(Number(match[1])) ?? []), message.at]);
  }
  const hubspotTimes = new Map<string, number[]>();
  for (const call of stack.hubspot.calls) {
    if (call.status !== 200 || !call.path.endsWith('/batch/upsert')) continue;
    for (const input of (call.body as { inputs?: Array<{ id?: unknown }> }).inputs ?? []) {
      const key = String(input.id).toLowerCase();
      hubspotTimes.set(key, [...(hubspotTimes.get(key) ?? []), call.at]);
    }
  }
  const duplicates: DuplicateAction[] = [];
  const check = (eventId: number, action: DuplicateAction['action'], times: readonly number[]) => {
    if (times.length < 2) return;
    const firstAt = Math.min(...times);
    const window = windows.find((candidate) => firstAt >= candidate.from && firstAt <= candidate.to) ?? null;
    duplicates.push({ eventId, action, copies: times.length, firstAt, window });
  };
  for (const eventId of eventIds) {
    check(eventId, 'slack', slackTimes.get(eventId) ?? []);
    check(eventId, 'hubspot', hubspotTimes.get(leadEmail(eventId)) ?? []);
  }
  return duplicates;
}

// ---- Report ----

interface ReportFile {
  generatedAt: string;
  suites: Record<string, { wallSeconds: number; finishedAt: string; scenarios: Record<string, ReliabilityFigures> }>;
}

/**
 * Collects one suite's scenario figures; `write()` merges them into reports/reliability.json (other
 * suites' entries are kept) and prints the suite's one summary line.
 */
export class ReliabilityReport {
  readonly #scenarios: Record<string, ReliabilityFigures> = {};
  // mocha runs every describe() body when it loads the files: the clock starts in `before`.
  #startedAt = Date.now();

  constructor(readonly suite: string) {}

  /** Starts the suite's wall clock (call it first thing in `before`). */
  start(): void {
    this.#startedAt = Date.now();
  }

  add(scenario: string, figures: ReliabilityFigures): void {
    const { sent, acknowledged, delivered, duplicated, lost, notes } = figures;
    this.#scenarios[scenario] = { sent, acknowledged, delivered, duplicated, lost, ...(notes ? { notes } : {}) };
  }

  async write(): Promise<void> {
    const wallSeconds = Math.round((Date.now() - this.#startedAt) / 100) / 10;
    let report: ReportFile = { generatedAt: '', suites: {} };
    try {
      report = JSON.parse(await readFile(RELIABILITY_REPORT, 'utf8')) as ReportFile;
    } catch {
      // First suite of the run, or no report yet.
    }
    report.generatedAt = new Date().toISOString();
    report.suites[this.suite] = { wallSeconds, finishedAt: report.generatedAt, scenarios: this.#scenarios };
    await mkdir(path.dirname(RELIABILITY_REPORT), { recursive: true });
    await writeFile(RELIABILITY_REPORT, `${JSON.stringify(report, null, 2)}\n`);

    const totals = Object.values(this.#scenarios).reduce(
      (sum, figures) => ({
        sent: sum.sent + figures.sent,
        acknowledged: sum.acknowledged + figures.acknowledged,
        delivered: sum.delivered + figures.delivered,
        duplicated: sum.duplicated + figures.duplicated,
        lost: sum.lost + figures.lost,
      }),
      { sent: 0, acknowledged: 0, delivered: 0, duplicated: 0, lost: 0 },
    );
    // One line per suite, for the CI log and the README.
    console.log(
      `      reliability ${this.suite}: sent ${totals.sent}, acknowledged ${totals.acknowledged}, delivered ${totals.delivered}, ` +
        `duplicated ${totals.duplicated}, lost ${totals.lost} (${Object.keys(this.#scenarios).length} scenarios, ${wallSeconds} s)`,
    );
  }
}
