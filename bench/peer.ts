/**
 * End to end against a peer: the bridge and Node-RED 4 doing the same job, side by side in one run
 * on this machine. Each takes FirstPromoter `lead_signup` webhooks (Bearer token checked in
 * constant time) and posts one Slack message per lead to the same fake Slack
 * (test/fakes/slack-fake.ts, started here):
 *  - Node-RED (bench/node-red/flow.json) does it inline: http in → token check → chat.postMessage →
 *    202. Nothing is stored and nothing is retried: a webhook that arrives while Slack is down is lost.
 *  - the bridge is the real built process (`bin/affiliate-bridge.js start`, api and workers in one
 *    process) with one rule posting each lead to Slack, on a redis-server of its own on a free port
 *    (so that server's CPU is the bridge's alone): stored before the 202, planned, paced, retried.
 *
 * For each steady rate (200 and 500 events/s for `--duration` seconds, loopback only), each side gets
 * the same webhooks in turn and the script prints, side by side:
 *  - delivered: messages the fake Slack received, against webhooks sent;
 *  - CPU per delivered event: user + system time from /proc/<pid>/stat (Node-RED's process; the
 *    bridge's process plus its redis-server) from the first webhook until the last message arrived,
 *    divided by the messages delivered;
 *  - webhook → Slack latency: from just before the webhook is sent to the fake's receipt of the
 *    message (ms, both clocks are this machine's), p50 / p99 / max; and the webhook's own answer time.
 *    Webhooks go out on a fixed schedule over at most 64 keep-alive connections per server; one
 *    that waits for a free connection counts that wait in its latency.
 *
 * Slack's limits are scaled so that they are never the bottleneck: the fake enforces 1,000 messages
 * per second per channel over 20 channels and 1,200,000 per minute for the workspace, and the bridge
 * paces at the same figures (SLACK_MESSAGES_PER_SECOND / _PER_MINUTE). Targets (issue 14): CPU per
 * delivered event at most 1.5× Node-RED's; webhook → Slack p99 under 50 ms at 500 events/s.
 *
 * Node-RED is a dev-only install of its own, outside the root package.json and lockfile:
 *
 *   npm --prefix bench/node-red ci
 *   npm run build && npx tsx bench/peer.ts [--duration 20] [--rates 200,500] [--channels 20] [--slack-per-second 1000]
 *     [--cpu-prof DIR] [--bridge-bin PATH] [--env NAME=VALUE]
 *
 * `--slack-per-second` sets the per-channel limit of the fake and of the bridge's pacing (the
 * workspace limit follows); `--cpu-prof DIR` starts the bridge with `node --cpu-prof --cpu-prof-dir
 * DIR` (a profile is written when the bridge stops); `--bridge-bin` runs another build of the bridge
 * (an older checkout's bin/affiliate-bridge.js, built, for a before/after in one session); `--env
 * NAME=VALUE` (repeatable) sets one more of the bridge's variables (EVENTS_CONCURRENCY=1…).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMs, percentile } from './support/proc.js';
import { startSlackFake, type SlackFake } from '../test/fakes/slack-fake.js';
import { BRIDGE_BIN } from '../test/support/bridge-process.js';
import { OwnRedisServer, findFreePort } from '../test/support/redis-server.js';

const args = process.argv.slice(2);
const optionText = (name: string): string | undefined => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : undefined;
};
const durationSeconds = Number(optionText('duration') ?? 20);
const rates = (optionText('rates') ?? '200,500').split(',').map(Number);
const cpuProfileDir = optionText('cpu-prof');
/** Another build of the bridge to run (an older checkout's bin/affiliate-bridge.js, for before/after). */
const bridgeBin = optionText('bridge-bin') ? path.resolve(optionText('bridge-bin')!) : BRIDGE_BIN;
/** Slack's per-channel limit, in the fake and in the bridge's pacing. */
const SLACK_PER_CHANNEL_PER_SECOND = Number(optionText('slack-per-second') ?? 1_000);

/** The leads go to this many channels, `#bench-0`, `#bench-1`… in turn. */
const CHANNELS = Number(optionText('channels') ?? 20);
/** Slack's workspace limit, scaled like the channels' so that it never binds first. */
const SLACK_WORKSPACE_PER_MINUTE = 60 * SLACK_PER_CHANNEL_PER_SECOND * CHANNELS;
const NODE_RED_DIR = fileURLToPath(new URL('./node-red/', import.meta.url));
const NODE_RED_BIN = path.join(NODE_RED_DIR, 'node_modules/node-red/red.js');

if (!existsSync(NODE_RED_BIN)) {
  console.error('Node-RED is not installed for the bench. Install it (outside the root package.json) with:\n  npm --prefix bench/node-red ci');
  process.exit(1);
}
if (!existsSync(path.join(path.dirname(bridgeBin), '../dist/main.js'))) {
  console.error('The bridge is not built. Run: npm run build');
  process.exit(1);
}

const token = `bench-${randomBytes(8).toString('hex')}`;
const RULES = `rules:
  - id: lead-to-slack
    on: firstpromoter.lead_signup
    do:
      - slack.post_message:
          channel: "#bench-{{ data.uid }}"
          text: "lead {{ event.id }}"
`;

function delivery(id: number): string {
  const at = new Date().toISOString();
  return JSON.stringify({
    event: { id, type: 'lead_signup', created_at: at },
    data: { id, state: 'peer', email: `lead${id}@example.com`, uid: String(id % CHANNELS), suspicion: 'no_suspicion', username: `Lead ${id}`, created_at: at },
  });
}


/** Spawns a server with its output to a file (not parsed here: this process must stay light). */
function spawnServer(command: string[], env: Record<string, string>, logFile: string): ChildProcess {
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, command, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', out, out] });
  process.once('exit', () => child.kill('SIGKILL'));
  return child;
}

/** Waits until `url` answers `wantedStatus` to `init` (until then: connection refused, or 404 before a flow starts). */
async function waitUntilListening(url: string, init: RequestInit, wantedStatus: number, child: ChildProcess, logFile: string): Promise<void> {
  for (let tries = 0; tries < 600; tries += 1) {
    if (child.exitCode !== null) throw new Error(`${url}: the process exited:\n${readFileSync(logFile, 'utf8')}`);
    try {
      const response = await fetch(url, init);
      await response.arrayBuffer();
      if (response.status === wantedStatus) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not come up:\n${readFileSync(logFile, 'utf8')}`);
}

interface Contender {
  readonly name: string;
  readonly webhookUrl: string;
  readonly pids: () => number[];
  /** How many calls its own pacer handed back to be delayed so far (the bridge's log); none for Node-RED. */
  readonly pacedSoFar?: () => number;
}

/** Lines of the bridge's log saying a job was delayed by its own pacer (`paced`), so far. */
function countPacedDelays(logFile: string): number {
  return readFileSync(logFile, 'utf8').split('\n').filter((line) => line.includes('"code":"paced"')).length;
}

interface RunFigures {
  readonly sent: number;
  readonly acknowledged: number;
  /** Webhooks not acknowledged, by status or error. */
  readonly failures: ReadonlyMap<string, number>;
  readonly delivered: number;
  readonly cpuMsPerEvent: number;
  /** CPU per delivered event of each process (Node-RED; the bridge, then its redis-server), ms. */
  readonly cpuMsPerEventByProcess: readonly number[];
  readonly latency: { p50: number; p99: number; max: number };
  readonly answer: { p50: number; p99: number };
  readonly seconds: number;
  readonly loadAverage: number;
  readonly pacedDelays?: number;
}

/**
 * At most this many connections per server, kept alive, as a webhook provider's delivery workers
 * would; a webhook beyond them waits for one in this process, and that wait counts in its latency
 * (measured from the instant it was due). Unbounded, an overloaded server's accept backlog
 * overflows and connections are reset instead of measured.
 */
const CONNECTIONS = 64;
const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });

/** POSTs one webhook; resolves with the status once the answer's body is read. */
function postWebhook(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` } },
      (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
        response.once('error', reject);
      },
    );
    request.once('error', reject);
    request.end(body);
  });
}

let nextId = 700_000_000 + Math.floor(Math.random() * 1e8);

/**
 * Sends `rate` webhooks a second for `seconds` on a fixed schedule (open loop: a slow answer does not
 * slow the sender), then waits for every message to reach the fake. CPU is read from just before
 * the first webhook until the last message arrived (or a 60 s grace ran out).
 */
async function runSteady(contender: Contender, slack: SlackFake, rate: number, seconds: number): Promise<RunFigures> {
  const total = Math.round(rate * seconds);
  const sentAt = new Map<string, number>();
  const answerTimes: number[] = [];
  let acknowledged = 0;
  const failures = new Map<string, number>();
  slack.received.length = 0;
  slack.requests.length = 0;
  const pids = contender.pids();
  const pacedBefore = contender.pacedSoFar?.();
  const cpuBefore = cpuMs(pids);
  const cpuBeforeByProcess = pids.map((pid) => cpuMs([pid]));
  const startedAt = performance.now();
  const startedAtWall = Date.now();
  const inFlight: Promise<void>[] = [];
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - startedAt) / 1000) * rate) + 1);
    for (; sent < due; sent += 1) {
      const id = (nextId += 1);
      const body = delivery(id);
      // Times count from when the webhook was due, not from when this loop got to it.
      const dueInMs = (sent / rate) * 1000;
      sentAt.set(`lead firstpromoter-${id}`, startedAtWall + dueInMs);
      const answerStart = startedAt + dueInMs;
      inFlight.push(
        postWebhook(contender.webhookUrl, body)
          .then((status) => {
            answerTimes.push(performance.now() - answerStart);
            if (status === 202) acknowledged += 1;
            else failures.set(`HTTP ${status}`, (failures.get(`HTTP ${status}`) ?? 0) + 1);
          })
          .catch((error: unknown) => {
            const name = error instanceof Error ? ((error as { code?: string }).code ?? error.message) : String(error);
            failures.set(name, (failures.get(name) ?? 0) + 1);
          }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(inFlight);
  const deadline = Date.now() + 60_000;
  const deliveredCount = () => slack.received.filter((message) => sentAt.has(message.text ?? '')).length;
  while (deliveredCount() < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  const cpuAfter = cpuMs(pids);
  const cpuAfterByProcess = pids.map((pid) => cpuMs([pid]));
  const elapsed = (performance.now() - startedAt) / 1000;
  const latencies = slack.received.filter((message) => sentAt.has(message.text ?? '')).map((message) => message.at - sentAt.get(message.text!)!);
  const delivered = new Set(slack.received.map((message) => message.text).filter((text) => sentAt.has(text ?? ''))).size;
  return {
    sent: total,
    acknowledged,
    failures,
    delivered,
    cpuMsPerEvent: (cpuAfter - cpuBefore) / Math.max(1, delivered),
    cpuMsPerEventByProcess: pids.map((_pid, index) => (cpuAfterByProcess[index] - cpuBeforeByProcess[index]) / Math.max(1, delivered)),
    latency: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies) },
    answer: { p50: percentile(answerTimes, 50), p99: percentile(answerTimes, 99) },
    seconds: elapsed,
    loadAverage: loadavg()[0],
    ...(pacedBefore === undefined ? {} : { pacedDelays: contender.pacedSoFar!() - pacedBefore }),
  };
}

const workDir = await mkdtemp(path.join(tmpdir(), 'bench-peer-'));
const rulesDir = path.join(workDir, 'rules');
await import('node:fs/promises').then((fs) => fs.mkdir(rulesDir));
await writeFile(path.join(rulesDir, 'peer.yaml'), RULES);
const slack = await startSlackFake({
  perChannelLimit: { messagesPerSecond: SLACK_PER_CHANNEL_PER_SECOND, retryAfterSeconds: 1 },
  workspaceLimit: { messagesPerMinute: SLACK_WORKSPACE_PER_MINUTE, retryAfterSeconds: 1 },
});
const redis = await OwnRedisServer.start();
const children: ChildProcess[] = [];

try {
  const nodeRedPort = await findFreePort();
  const nodeRedLog = path.join(workDir, 'node-red.log');
  const nodeRed = spawnServer(
    [NODE_RED_BIN, '--settings', path.join(NODE_RED_DIR, 'settings.cjs')],
    {
      PORT: String(nodeRedPort),
      NODE_RED_USER_DIR: path.join(workDir, 'node-red-user'),
      FIRSTPROMOTER_WEBHOOK_TOKEN: token,
      SLACK_BOT_TOKEN: 'xoxb-bench',
      SLACK_API_URL: slack.url,
    },
    nodeRedLog,
  );
  children.push(nodeRed);

  const bridgePort = await findFreePort();
  const bridgeLog = path.join(workDir, 'bridge.log');
  const bridge = spawnServer(
    [...(cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(cpuProfileDir)] : []), bridgeBin, 'start'],
    {
      PORT: String(bridgePort),
      METRICS_PORT: '0',
      REDIS_URL: redis.url,
      QUEUE_PREFIX: `bench-peer-${randomBytes(4).toString('hex')}`,
      RULES_DIR: rulesDir,
      LOG_LEVEL: 'info',
      FIRSTPROMOTER_WEBHOOK_TOKEN: token,
      REWARDFUL_SIGNING_SECRET: token,
      SLACK_BOT_TOKEN: 'xoxb-bench',
      SLACK_API_URL: slack.url,
      SLACK_MESSAGES_PER_SECOND: String(SLACK_PER_CHANNEL_PER_SECOND),
      SLACK_MESSAGES_PER_MINUTE: String(SLACK_WORKSPACE_PER_MINUTE),
      // `--env NAME=VALUE` (repeatable) sets one more of the bridge's variables, to try a setting.
      ...Object.fromEntries(args.flatMap((arg, index) => (args[index - 1] === '--env' ? [arg.split(/=(.*)/s, 2)] : []))),
    },
    bridgeLog,
  );
  children.push(bridge);

  // Without a token the flow answers 401: its token check runs.
  await waitUntilListening(`http://127.0.0.1:${nodeRedPort}/webhooks/firstpromoter`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }, 401, nodeRed, nodeRedLog);
  await waitUntilListening(`http://127.0.0.1:${bridgePort}/readyz`, {}, 200, bridge, bridgeLog);
  const redisPid = redis.pid;
  if (redisPid === undefined) throw new Error('the bench redis-server has no pid');
  const contenders: Contender[] = [
    { name: 'Node-RED 4 (inline)', webhookUrl: `http://127.0.0.1:${nodeRedPort}/webhooks/firstpromoter`, pids: () => [nodeRed.pid!] },
    {
      name: 'the bridge + its Redis',
      webhookUrl: `http://127.0.0.1:${bridgePort}/webhooks/firstpromoter`,
      pids: () => [bridge.pid!, redisPid],
      pacedSoFar: () => countPacedDelays(bridgeLog),
    },
  ];

  const nodeRedVersion = JSON.parse(readFileSync(path.join(NODE_RED_DIR, 'node_modules/node-red/package.json'), 'utf8')).version;
  console.log(`Against a peer: Node-RED ${nodeRedVersion} and the bridge, ${durationSeconds} s per steady rate, ${CHANNELS} channels, loopback.`);
  console.log(`Fake Slack limits scaled out of the way: ${SLACK_PER_CHANNEL_PER_SECOND} msg/s per channel, ${SLACK_WORKSPACE_PER_MINUTE} msg/min per workspace (the bridge paces at the same).`);
  // Warm both up (JIT, connection pools) before measuring.
  for (const contender of contenders) await runSteady(contender, slack, 100, 2);

  for (const rate of rates) {
    const figures = new Map<string, RunFigures>();
    for (const contender of contenders) figures.set(contender.name, await runSteady(contender, slack, rate, durationSeconds));
    const peer = figures.get(contenders[0].name)!;
    const ours = figures.get(contenders[1].name)!;
    const cell = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
    console.log(`\n${rate} events/s for ${durationSeconds} s (${peer.sent} webhooks each)      ${'Node-RED'.padStart(12)} ${'bridge'.padStart(12)}   bridge / Node-RED`);
    const row = (label: string, a: string, b: string, ratio = '') => console.log(`  ${label.padEnd(42)} ${a.padStart(12)} ${b.padStart(12)}   ${ratio}`);
    row('acknowledged (202)', String(peer.acknowledged), String(ours.acknowledged));
    const describeFailures = (failures: ReadonlyMap<string, number>) => [...failures].map(([why, count]) => `${count} ${why}`).join(', ') || 'none';
    row('not acknowledged', describeFailures(peer.failures), describeFailures(ours.failures));
    row('delivered to Slack', String(peer.delivered), String(ours.delivered));
    row('CPU per delivered event, ms', cell(peer.cpuMsPerEvent, 2), cell(ours.cpuMsPerEvent, 2), `${cell(ours.cpuMsPerEvent / peer.cpuMsPerEvent, 2)}× (target ≤ 1.5×)`);
    row('  of which the bridge / its redis-server', '', ours.cpuMsPerEventByProcess.map((ms) => cell(ms, 2)).join(' / '));
    row('webhook → Slack p50, ms', cell(peer.latency.p50, 0), cell(ours.latency.p50, 0));
    row('webhook → Slack p99, ms', cell(peer.latency.p99, 0), cell(ours.latency.p99, 0), rate === 500 ? '(target: bridge < 50 ms)' : '');
    row('webhook → Slack max, ms', cell(peer.latency.max, 0), cell(ours.latency.max, 0));
    row('webhook answered p50 / p99, ms', `${cell(peer.answer.p50)} / ${cell(peer.answer.p99)}`, `${cell(ours.answer.p50)} / ${cell(ours.answer.p99)}`);
    row('jobs delayed by its own pacer', '–', String(ours.pacedDelays ?? 0));
    row('run time until the last message, s', cell(peer.seconds), cell(ours.seconds));
    row('load average (1 min) at the end', cell(peer.loadAverage, 2), cell(ours.loadAverage, 2));
  }
} finally {
  for (const child of children) {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    }
  }
  await slack.close();
  await redis.destroy();
  await rm(workDir, { recursive: true, force: true });
}
