/**
 * Footprint of a retained event (issue 14, point 9): Redis bytes, keys and commands per event, and
 * the bridge's resident memory under intake load.
 *
 * The real process (`start`, the built binary) with the shipped rules in rules/, live Slack and
 * HubSpot tokens pointed at the fakes in test/fakes (so a matching action really runs), on a
 * redis-server of its own (free port, temp dir), so every command counted is the bridge's. Two
 * phases, each N FirstPromoter `lead_signup` deliveries (the fixture, a unique id each), posted
 * over 50 connections:
 *  - `plain`: the fixture as is (`suspicion: no_suspicion`): no shipped rule matches;
 *  - `suspicious`: `suspicion: self_referral`: `suspicious-lead-alert` posts one Slack message.
 *
 * A warm-up phase first (`--warm-up`, suspicious leads) fills BullMQ's event streams to their cap
 * (about 10,000 entries per queue), so the phases measure what one more retained event keeps, not
 * the streams' fixed cost. The slower stream sets its default: each event adds 2 entries to
 * `events:events` (the intake writes no `added`/`waiting` entries, only the worker's `active` and
 * `completed`), so 5,000 events fill it, plus a tenth for the approximate trimming (`MAXLEN ~`);
 * a suspicious lead adds 4 to `actions:events`, filled long before. The warm-up prints both
 * streams' lengths and warns when one is short of the cap.
 *
 * Per phase, after everything drained (event jobs completed, action jobs completed, fake Slack
 * received every message): commands per event (INFO stats `total_commands_processed` before and
 * after, commands inside Lua scripts included, less this script's own), and a breakdown by command
 * (INFO commandstats); Redis bytes and keys per retained event (MEMORY USAGE of every key the
 * phase added, by kind; and the used_memory difference); the bridge's RSS (peak while posting,
 * and after the drain).
 *
 * `--dry-run` leaves the tokens unset: the actions run as dry-run (nothing sent, no Slack keys).
 *
 *   npm run build && npx tsx bench/footprint.ts [--events 2000] [--warm-up 5500] [--connections 50] [--dry-run] [--fixture-as-is]
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { readRssKb } from './support/proc.js';
import { infoNumber, readInfo } from './support/redis-info.js';
import { startHubspotFake } from '../test/fakes/hubspot-fake.js';
import { startSlackFake } from '../test/fakes/slack-fake.js';
import { BridgeProcess } from '../test/support/bridge-process.js';
import { OwnRedisServer } from '../test/support/redis-server.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const eventCount = option('events', 2000);
/** BullMQ's default cap of a queue's event stream (`streams.events.maxLen`). */
const EVENT_STREAM_CAP = 10_000;
/** Entries one event adds to `events:events`, the stream the warm-up fills last (see the header). */
const EVENTS_STREAM_ENTRIES_PER_EVENT = 2;
const warmUpCount = option('warm-up', Math.ceil((EVENT_STREAM_CAP / EVENTS_STREAM_ENTRIES_PER_EVENT) * 1.1));
const connections = option('connections', 50);
const PREFIX = 'bridge';
const token = 'bench-footprint-token-0123456789';

// The intake bench's ~3.7 KB delivery: the lead_signup fixture with its promoter's promotions filled in.
const fixture = JSON.parse(readFileSync(new URL('../test/fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));
// `--fixture-as-is`: the fixture's own 2.1 KB (the set-up of the issue's 9.5 KB and 4 keys per event).
if (!args.includes('--fixture-as-is')) {
  fixture.data.promoter.promotions = [fixture.data.promotion, { ...fixture.data.promotion, id: fixture.data.promotion.id + 1, campaign_name: 'Partner Campaign' }];
}
const isDryRun = args.includes('--dry-run');

/** The fixture with its own event and lead ids: each delivery a new event. */
function buildDelivery(id: number, suspicion: string): string {
  return JSON.stringify({ ...fixture, event: { ...fixture.event, id }, data: { ...fixture.data, id, suspicion, email: `lead${id}@example.com` } });
}

/** `cmdstat_<name>` → calls. */
async function readCommandCalls(redis: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const [field, value] of await readInfo(redis, 'commandstats')) {
    const match = /calls=(\d+)/.exec(value);
    if (field.startsWith('cmdstat_') && match) calls.set(field.slice('cmdstat_'.length), Number(match[1]));
  }
  return calls;
}

async function readTotalCommands(redis: Redis): Promise<number> {
  return infoNumber(await readInfo(redis, 'stats'), 'total_commands_processed');
}

async function readUsedMemory(redis: Redis): Promise<number> {
  return infoNumber(await readInfo(redis, 'memory'), 'used_memory');
}


/** Every key in Redis (the server is this bench's own). */
async function scanKeys(redis: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, page] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    keys.push(...page);
  } while (cursor !== '0');
  return keys;
}

/** A key's kind: its name with the event-specific parts replaced, so keys group by what they are. */
function kindOf(key: string): string {
  const rest = key.startsWith(`${PREFIX}:`) ? key.slice(PREFIX.length + 1) : key;
  return rest
    .replace(/^(events|actions):de:.*/, '$1:de:<event id>')
    .replace(/^ledger:([^:]+):([^:]+):.*/, 'ledger:$1:$2:<object>')
    .replace(/(firstpromoter|rewardful)-[^:]*/, '<id>');
}

async function measureKeys(redis: Redis): Promise<Map<string, { keys: number; bytes: number }>> {
  const byKind = new Map<string, { keys: number; bytes: number }>();
  const keys = await scanKeys(redis);
  for (let start = 0; start < keys.length; start += 500) {
    const batch = keys.slice(start, start + 500);
    const pipeline = redis.pipeline();
    for (const key of batch) pipeline.memory('USAGE', key, 'SAMPLES', 0);
    const results = (await pipeline.exec()) ?? [];
    batch.forEach((key, index) => {
      const bytes = Number(results[index]?.[1] ?? 0);
      const entry = byKind.get(kindOf(key)) ?? { keys: 0, bytes: 0 };
      entry.keys += 1;
      entry.bytes += bytes;
      byKind.set(kindOf(key), entry);
    });
  }
  return byKind;
}

async function post(baseUrl: string, body: string): Promise<number> {
  const response = await fetch(`${baseUrl}/webhooks/firstpromoter`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

const redisServer = await OwnRedisServer.start();
const redis = new Redis(redisServer.url);
const slack = await startSlackFake();
const hubspot = await startHubspotFake();
const bridge = await BridgeProcess.start({
  env: {
    REDIS_URL: redisServer.url,
    QUEUE_PREFIX: PREFIX,
    RULES_DIR: new URL('../rules', import.meta.url).pathname,
    // info: the start line the harness waits for is logged at info.
    LOG_LEVEL: 'info',
    FIRSTPROMOTER_WEBHOOK_TOKEN: token,
    REWARDFUL_SIGNING_SECRET: token,
    ...(isDryRun ? {} : { SLACK_BOT_TOKEN: 'xoxb-bench-footprint', HUBSPOT_ACCESS_TOKEN: 'pat-bench-footprint' }),
    SLACK_API_URL: slack.url,
    HUBSPOT_BASE_URL: hubspot.url,
    // Pacing far above the run's rate: this measures storage, not Slack's limits.
    SLACK_MESSAGES_PER_SECOND: '1000',
    SLACK_MESSAGES_PER_MINUTE: '60000',
  },
});
const pid = bridge.child.pid!;

/** Commands this script sends between two `total_commands_processed` reads, subtracted from the bridge's. */
let ownCommands = 0;
const own = async <T>(command: Promise<T>): Promise<T> => {
  ownCommands += 1;
  return command;
};

async function waitForDrain(expectedEvents: number, expectedMessages: number): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    // Every event has its trace (indexed in recent-events) and no job is still being finished.
    const [eventsDone, actionsDone, eventsActive, actionsActive] = await Promise.all([
      own(redis.zcard(`${PREFIX}:recent-events`)),
      own(redis.zcard(`${PREFIX}:actions:completed`)),
      own(redis.llen(`${PREFIX}:events:active`)),
      own(redis.llen(`${PREFIX}:actions:active`)),
    ]);
    const isDrained = eventsDone >= expectedEvents && actionsDone >= expectedMessages && eventsActive + actionsActive === 0;
    if (isDrained && (isDryRun || slack.received.length >= expectedMessages)) return;
    if (Date.now() > deadline) throw new Error(`not drained: ${eventsDone}/${expectedEvents} events, ${actionsDone}/${expectedMessages} actions`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

interface PhaseResult {
  readonly label: string;
  readonly commandsPerEvent: number;
  readonly bytesPerEvent: number;
  readonly usedMemoryPerEvent: number;
  readonly keysPerEvent: number;
}

let nextId = 700_000_000;
let completedEvents = 0;
let sentMessages = 0;

async function runPhase(label: string, suspicion: string, messagesPerEvent: number, count = eventCount): Promise<PhaseResult> {
  const eventCount = count;
  // Quiet first: the previous phase's stragglers (completion writes, stalled checks) are not counted here.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const keysBefore = await measureKeys(redis);
  const usedBefore = await readUsedMemory(redis);
  const callsBefore = await readCommandCalls(redis);
  ownCommands = 0;
  const totalBefore = await readTotalCommands(redis);
  const startedAt = Date.now();

  let peakRssKb = 0;
  const rssTimer = setInterval(() => {
    peakRssKb = Math.max(peakRssKb, readRssKb(pid));
  }, 100);
  const ids = Array.from({ length: eventCount }, () => (nextId += 1));
  const queue = [...ids];
  let acknowledged = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        if ((await post(bridge.baseUrl, buildDelivery(id, suspicion))) === 202) acknowledged += 1;
      }
    }),
  );
  const postedIn = (Date.now() - startedAt) / 1000;
  clearInterval(rssTimer);
  completedEvents += eventCount;
  sentMessages += eventCount * messagesPerEvent;
  await waitForDrain(completedEvents, sentMessages);
  const drainedIn = (Date.now() - startedAt) / 1000;

  const totalAfter = await readTotalCommands(redis);
  // The INFO that read `totalAfter` counts itself; the one that read `totalBefore` did not count itself.
  const commands = totalAfter - totalBefore - ownCommands - 1;
  const callsAfter = await readCommandCalls(redis);
  const usedAfter = await readUsedMemory(redis);
  const keysAfter = await measureKeys(redis);
  const rssAfterKb = readRssKb(pid);

  const added = [...keysAfter].map(([kind, after]) => {
    const before = keysBefore.get(kind) ?? { keys: 0, bytes: 0 };
    return { kind, keys: after.keys - before.keys, bytes: after.bytes - before.bytes };
  });
  const addedBytes = added.reduce((sum, entry) => sum + entry.bytes, 0);
  const addedKeys = added.reduce((sum, entry) => sum + entry.keys, 0);

  console.log(`\n## ${label}: ${eventCount} lead_signup deliveries (suspicion ${suspicion}), ${messagesPerEvent} Slack message(s) per event`);
  console.log(`acknowledged ${acknowledged}/${eventCount} in ${postedIn.toFixed(1)} s; drained in ${drainedIn.toFixed(1)} s; Slack received ${slack.received.length} in all`);
  console.log(`Redis commands per event: ${(commands / eventCount).toFixed(1)} (${commands} in all, Lua-internal included; this script's ${ownCommands + 1} left out)`);
  const byCommand = [...callsAfter]
    .map(([name, calls]) => ({ name, calls: calls - (callsBefore.get(name) ?? 0) }))
    .filter((entry) => entry.calls > 0)
    .sort((a, b) => b.calls - a.calls);
  console.log(`  by command (INFO commandstats; includes this script's ZCARD/LLEN/INFO polls): ${byCommand.map((e) => `${e.name} ${(e.calls / eventCount).toFixed(2)}`).join(', ')}`);
  console.log(`Redis bytes per retained event: ${(addedBytes / eventCount).toFixed(0)} B by MEMORY USAGE, ${((usedAfter - usedBefore) / eventCount).toFixed(0)} B by used_memory; keys per event ${(addedKeys / eventCount).toFixed(2)}`);
  for (const entry of added.filter((e) => e.keys !== 0 || Math.abs(e.bytes) > eventCount).sort((a, b) => b.bytes - a.bytes)) {
    console.log(`  ${entry.kind.padEnd(44)} keys ${String(entry.keys).padStart(6)}  ${(entry.bytes / eventCount).toFixed(0).padStart(6)} B/event`);
  }
  console.log(`bridge RSS: peak ${(peakRssKb / 1024).toFixed(0)} MB while posting, ${(rssAfterKb / 1024).toFixed(0)} MB after the drain`);
  return { label, commandsPerEvent: commands / eventCount, bytesPerEvent: addedBytes / eventCount, usedMemoryPerEvent: (usedAfter - usedBefore) / eventCount, keysPerEvent: addedKeys / eventCount };
}

try {
  console.log(`Footprint: the real bridge (start), shipped rules, ${isDryRun ? 'no tokens (actions dry-run)' : 'live Slack/HubSpot tokens against the fakes'}, own redis-server; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`payload: lead_signup fixture, ${buildDelivery(nextId, 'no_suspicion').length} bytes per delivery`);
  // BullMQ's event streams are capped (about 10,000 entries per queue): a fixed cost, not a cost per
  // retained event. The warm-up fills them, so the phases below measure what one more event keeps.
  if (warmUpCount > 0) {
    await runPhase('warm-up (fills the capped event streams; not in the summary)', 'self_referral', 1, warmUpCount);
    for (const stream of [`${PREFIX}:events:events`, `${PREFIX}:actions:events`]) {
      const length = await redis.xlen(stream);
      console.log(`${stream}: ${length} entries${length < EVENT_STREAM_CAP ? ` (short of the cap of ${EVENT_STREAM_CAP}: the phases below pay for filling it; raise --warm-up)` : ''}`);
    }
  }
  const results = [await runPhase('plain', 'no_suspicion', 0), await runPhase('suspicious', 'self_referral', 1)];
  console.log(`\nsummary (targets: ≤ 5,000 B per retained event, ≤ 30 commands per event); load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const r of results) {
    console.log(`  ${r.label.padEnd(11)} ${r.commandsPerEvent.toFixed(1).padStart(6)} commands/event  ${r.bytesPerEvent.toFixed(0).padStart(6)} B/event (used_memory ${r.usedMemoryPerEvent.toFixed(0)})  ${r.keysPerEvent.toFixed(2)} keys/event`);
  }
} finally {
  await bridge.stop();
  redis.disconnect();
  await slack.close();
  await hubspot.close();
  await redisServer.destroy();
}
