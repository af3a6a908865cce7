/**
 * Action delivery benchmarks, against the real bridge process (`start`) with fake Slack and
 * HubSpot on loopback:
 *  1. latency from webhook acknowledged to the fake Slack receiving the message, at 10 events/s
 *     (target p50 < 15 ms, p99 < 50 ms);
 *  2. a burst of 5,000 events, each giving one Slack message (over 20 channels) and one HubSpot
 *     upsert, with the fakes enforcing Slack's per-channel limit and HubSpot's 10-second window,
 *     both scaled up by SCALE: drain time against the theoretical minimum, 429s, lost, duplicated,
 *     and HubSpot calls made.
 *
 * The burst also prints CPU per event (user + system time of the bridge and of its redis-server, from
 * /proc, over the drain): on a shared machine it moves less with the load than the drain time does.
 * So that Redis's CPU is the bridge's alone, the bench starts a redis-server of its own on a free
 * port unless REDIS_URL is set.
 *
 * `--workers N` runs the bridge as one `api` process and N `worker` processes (the roles a
 * deployment may split it into) instead of one `start` process.
 *
 * `--cpu-prof DIR` writes a CPU profile of each bridge process into DIR when it stops; `--env
 * NAME=VALUE` (repeatable) sets one more of the bridge's variables (ACTIONS_CONCURRENCY=100…).
 *
 *   npm run build && npx tsx bench/actions.ts [--latency-events 300] [--burst-events 5000] [--scale 25] [--workers N] [--cpu-prof DIR] [--env NAME=VALUE]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { cpuMs, percentile } from './support/proc.js';
import { infoNumber, readInfo } from './support/redis-info.js';
import { startHubspotFake } from '../test/fakes/hubspot-fake.js';
import { startSlackFake } from '../test/fakes/slack-fake.js';
import { BridgeProcess } from '../test/support/bridge-process.js';
import { deleteKeys } from '../test/support/redis.js';
import { OwnRedisServer } from '../test/support/redis-server.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const latencyEvents = option('latency-events', 300);
const burstEvents = option('burst-events', 5000);
const SCALE = option('scale', 25);
const workerProcesses = option('workers', 0);
/** `--cpu-prof DIR`: each bridge process runs under `node --cpu-prof` and writes a profile into DIR when it stops. */
const cpuProfileDir = args.includes('--cpu-prof') ? path.resolve(args[args.indexOf('--cpu-prof') + 1]) : undefined;
const CHANNELS = 20;
const ownRedis = process.env.REDIS_URL ? undefined : await OwnRedisServer.start();
const redisUrl = process.env.REDIS_URL ?? ownRedis!.url;
const token = `bench-${randomBytes(6).toString('hex')}`;

const RULES = `rules:
  - id: bench-slack
    on: firstpromoter.lead_signup
    do:
      - slack.post_message:
          channel: "#bench-{{ data.uid }}"
          text: "lead {{ event.id }}"
  - id: bench-hubspot
    on: firstpromoter.lead_signup
    if: data.state == "burst"
    do:
      - hubspot.upsert_contact:
          email: "{{ data.email }}"
          properties: { firstname: "{{ data.username }}" }
`;

function delivery(id: number, channel: number, state: string): string {
  return JSON.stringify({
    event: { id, type: 'lead_signup', created_at: new Date().toISOString() },
    data: { id, state, email: `lead${id}@example.com`, uid: String(channel), suspicion: 'no_suspicion', username: `Lead ${id}`, created_at: new Date().toISOString() },
  });
}

async function post(baseUrl: string, body: string): Promise<{ status: number; ackedAt: number }> {
  const response = await fetch(`${baseUrl}/webhooks/firstpromoter`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  await response.arrayBuffer();
  return { status: response.status, ackedAt: Date.now() };
}

const rulesDir = await mkdtemp(path.join(tmpdir(), 'bench-rules-'));
await writeFile(path.join(rulesDir, 'bench.yaml'), RULES);
const prefix = `bench-actions-${randomBytes(4).toString('hex')}`;
const slack = await startSlackFake({ perChannelLimit: { messagesPerSecond: SCALE, retryAfterSeconds: 1 } });
const hubspot = await startHubspotFake({ windowLimit: { maxRequests: 100 * SCALE, windowMs: 10_000, retryAfterSeconds: 1 } });
const bridgeEnv: Record<string, string> = {
  REDIS_URL: redisUrl,
  QUEUE_PREFIX: prefix,
  RULES_DIR: rulesDir,
  LOG_LEVEL: 'info',
  FIRSTPROMOTER_WEBHOOK_TOKEN: token,
  REWARDFUL_SIGNING_SECRET: token,
  SLACK_BOT_TOKEN: 'xoxb-bench',
  SLACK_API_URL: slack.url,
  HUBSPOT_ACCESS_TOKEN: 'pat-bench',
  HUBSPOT_BASE_URL: hubspot.url,
  SLACK_MESSAGES_PER_SECOND: String(SCALE),
  // The workspace budget scaled like the channel limit, so it never binds before the channels do
  // (the burst's minimum is set by the per-channel limit of the fake).
  SLACK_MESSAGES_PER_MINUTE: String(60 * SCALE * CHANNELS),
  HUBSPOT_REQUESTS_PER_10_SECONDS: String(90 * SCALE),
  // `--env NAME=VALUE` (repeatable) sets one more of the bridge's variables, to try a setting.
  ...Object.fromEntries(args.flatMap((arg, index) => (args[index - 1] === '--env' ? [arg.split(/=(.*)/s, 2)] : []))),
};
// One `start` process, or an `api` process and `--workers` worker processes.
const nodeArgs = cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir] : [];
const bridge = await BridgeProcess.start({ role: workerProcesses > 0 ? 'api' : 'start', env: bridgeEnv, nodeArgs });
const workers = await Promise.all(Array.from({ length: workerProcesses }, () => BridgeProcess.start({ role: 'worker', env: bridgeEnv, nodeArgs })));
const bridgeProcesses = [bridge, ...workers];

try {
  // 1. Latency at 10 events/s.
  const acked = new Map<string, number>();
  let nextId = 500_000_000 + Math.floor(Math.random() * 1e8);
  const firstLatencyId = nextId;
  const sends: Promise<void>[] = [];
  for (let i = 0; i < latencyEvents; i += 1) {
    const id = (nextId += 1);
    sends.push(post(bridge.baseUrl, delivery(id, i % CHANNELS, 'latency')).then(({ ackedAt }) => void acked.set(`lead firstpromoter-${id}`, ackedAt)));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await Promise.all(sends);
  const deadline = Date.now() + 30_000;
  while (slack.received.length < latencyEvents && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const latencies = slack.received.filter((m) => acked.has(m.text ?? '')).map((m) => m.at - acked.get(m.text!)!);
  console.log(`\n1. Webhook acknowledged → fake Slack received, ${latencyEvents} events at 10 events/s over ${CHANNELS} channels (ids from ${firstLatencyId + 1})`);
  console.log(`   delivered ${latencies.length}/${latencyEvents}; p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${Math.max(...latencies)} ms`);

  // 2. Burst.
  slack.received.length = 0;
  const slackRateLimitedBefore = slack.rateLimited();
  const hubspotRateLimitedBefore = hubspot.rateLimited();
  const hubspotCallsBefore = hubspot.calls.length;
  const bridgePids = bridgeProcesses.map((process) => process.child.pid!);
  const measuredPids = [...bridgePids, ...(ownRedis?.pid !== undefined ? [ownRedis.pid] : [])];
  const cpuBefore = cpuMs(measuredPids);
  const logsBefore = bridgeProcesses.map((process) => process.logs.length);
  const burstStart = Date.now();
  // Each second of the drain: the queues' depths (waiting / active jobs) and the bridge process's
  // CPU, to tell a drain bound by the one thread (near 100%) from one bound by job latency.
  const probe = new Redis(redisUrl);
  const redisWorkBefore = await readRedisWork(probe);
  const drainSamples: string[] = [];
  let cpuAtLastSample = cpuMs(bridgePids);
  const sampler = setInterval(() => {
    const cpuNow = cpuMs(bridgePids);
    const cpuPercent = Math.round((cpuNow - cpuAtLastSample) / 10);
    cpuAtLastSample = cpuNow;
    void Promise.all(['events:wait', 'events:active', 'actions:wait', 'actions:active'].map((list) => probe.llen(`${prefix}:${list}`))).then(
      ([eventsWaiting, eventsActive, actionsWaiting, actionsActive]) => drainSamples.push(`${eventsWaiting}/${eventsActive} ${actionsWaiting}/${actionsActive} ${cpuPercent}%`),
      () => drainSamples.push('?'),
    );
  }, 1000);
  let acknowledged = 0;
  const ids: number[] = Array.from({ length: burstEvents }, () => (nextId += 1));
  const queue = [...ids];
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const { status } = await post(bridge.baseUrl, delivery(id, id % CHANNELS, 'burst'));
        if (status === 202) acknowledged += 1;
      }
    }),
  );
  const sentIn = (Date.now() - burstStart) / 1000;
  const burstDeadline = Date.now() + 300_000;
  const contactsWanted = new Set(ids.map((id) => `lead${id}@example.com`));
  const contactsDone = () => [...contactsWanted].filter((email) => hubspot.contacts.has(email)).length;
  while ((slack.received.length < burstEvents || contactsDone() < burstEvents) && Date.now() < burstDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const drain = (Date.now() - burstStart) / 1000;
  clearInterval(sampler);
  const redisWorkAfter = await readRedisWork(probe);
  probe.disconnect();
  const cpuPerEvent = (cpuMs(measuredPids) - cpuBefore) / burstEvents;
  const texts = slack.received.map((m) => m.text);
  const unique = new Set(texts);
  const expected = new Set(ids.map((id) => `lead firstpromoter-${id}`));
  const lost = [...expected].filter((text) => !unique.has(text)).length;
  const upsertInputs = hubspot.calls.slice(hubspotCallsBefore).filter((c) => c.path.endsWith('/batch/upsert'));
  const theoreticalSlack = burstEvents / (CHANNELS * SCALE);
  const theoreticalHubspot = Math.ceil(burstEvents / 100) / ((100 * SCALE) / 10);
  console.log(`\n2. Burst of ${burstEvents} events (1 Slack message over ${CHANNELS} channels + 1 HubSpot upsert each), limits scaled ×${SCALE}:`);
  console.log(`   Slack ${SCALE} msg/s per channel, HubSpot ${100 * SCALE} requests / 10 s; bridge paced at ${SCALE}/s and ${90 * SCALE}/10 s`);
  console.log(`   acknowledged ${acknowledged}/${burstEvents} in ${sentIn.toFixed(1)} s`);
  console.log(`   drain time ${drain.toFixed(1)} s; theoretical minimum ${Math.max(theoreticalSlack, theoreticalHubspot).toFixed(1)} s (Slack ${theoreticalSlack.toFixed(1)} s, HubSpot ${theoreticalHubspot.toFixed(1)} s)`);
  const pacedDelays = bridgeProcesses.flatMap((process, index) => process.logs.slice(logsBefore[index])).filter((entry) => entry.code === 'paced').length;
  console.log(`   jobs handed back by the bridge's own pacer (delayed, no attempt spent): ${pacedDelays}`);
  console.log(`   CPU per event ${cpuPerEvent.toFixed(2)} ms (the bridge${workerProcesses > 0 ? `'s api and ${workerProcesses} worker processes` : ''}${ownRedis ? ' and its own redis-server' : ' only: REDIS_URL is shared'}, webhook to both actions done); load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  // Messages Slack received in each second of the drain: where the drain runs below the limit.
  const perSecond = new Array<number>(Math.ceil(drain)).fill(0);
  for (const message of slack.received) perSecond[Math.min(perSecond.length - 1, Math.floor((message.at - burstStart) / 1000))] += 1;
  // Commands include those inside Lua scripts; reads processed is how many times Redis read a
  // client's socket, about the number of writes (round trips) the bridge made.
  console.log(`   Redis per event: ${((redisWorkAfter.commands - redisWorkBefore.commands) / burstEvents).toFixed(1)} commands, ${((redisWorkAfter.reads - redisWorkBefore.reads) / burstEvents).toFixed(1)} socket reads (the bridge's writes to it), ${Math.round((redisWorkAfter.bytesIn - redisWorkBefore.bytesIn) / burstEvents)} bytes received`);
  console.log(`   Slack messages per second of the drain (limit ${SCALE * CHANNELS}): ${perSecond.join(' ')}`);
  console.log(`   each second: events queue waiting/active, actions queue waiting/active, bridge CPU: ${drainSamples.join(' · ')}`);
  console.log(`   Slack: ${unique.size} delivered, ${texts.length - unique.size} duplicated, ${lost} lost, ${slack.rateLimited() - slackRateLimitedBefore} 429s received`);
  console.log(`   HubSpot: ${contactsDone()} contacts upserted, ${upsertInputs.length} batch calls (vs ${burstEvents} upserts), ${hubspot.rateLimited() - hubspotRateLimitedBefore} 429s received`);
} finally {
  await Promise.all(bridgeProcesses.map((process) => process.stop()));
  await slack.close();
  await hubspot.close();
  await rm(rulesDir, { recursive: true, force: true });
  const redis = new Redis(redisUrl);
  await deleteKeys(redis, prefix);
  redis.disconnect();
  await ownRedis?.destroy();
}

/** Redis's counters of commands processed (Lua's included) and of client socket reads. */
async function readRedisWork(redis: Redis): Promise<{ commands: number; reads: number; bytesIn: number }> {
  const stats = await readInfo(redis, 'stats');
  return { commands: infoNumber(stats, 'total_commands_processed'), reads: infoNumber(stats, 'total_reads_processed'), bytesIn: infoNumber(stats, 'total_net_input_bytes') };
}
