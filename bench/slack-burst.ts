/**
 * A burst of 500 events to one Slack channel under Slack's real limits (issue 12): the real bridge
 * process (`start`) at its shipped pacing (1 message per second per channel, SLACK_MESSAGES_PER_SECOND
 * unset), and the fake Slack enforcing chat.postMessage's documented "1 message per second to a
 * specific channel" (the fake's less forgiving reading: no burst allowance, a 429 with Retry-After
 * otherwise).
 *
 *  1. grouped: the rule has `group: { by: "all" }` (wait 30s, max 50 by default): time from the
 *     first webhook to the moment every event is visible in Slack (its line in a digest), and the
 *     number of messages (targets: under 60 s, at most 20 messages);
 *  2. ungrouped, beside it: one message per event. At 1 message/s the 500 would take over 8
 *     minutes, so this run is bounded: it measures the first N messages (--sample, default 30) and
 *     extrapolates the time for all 500 from that rate (printed as an extrapolation).
 *
 *   npm run build && npx tsx bench/slack-burst.ts [--events 500] [--sample 30]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startSlackFake, type SlackFake } from '../test/fakes/slack-fake.js';
import { BridgeProcess } from '../test/support/bridge-process.js';
import { deleteKeys } from '../test/support/redis.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const EVENTS = option('events', 500);
const SAMPLE = option('sample', 30);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const webhookToken = `bench-${randomBytes(6).toString('hex')}`;
const slackToken = `xoxb-bench-${randomBytes(6).toString('hex')}`;

const rulesFor = (grouped: boolean) => `rules:
  - id: burst
    on: firstpromoter.lead_signup
    do:
      - slack.post_message:
          channel: "#payouts"
          text: "lead event {{ event.id }}"${grouped ? '\n          group: { by: "all" }' : ''}
`;

function delivery(id: number): string {
  return JSON.stringify({
    event: { id, type: 'lead_signup', created_at: new Date().toISOString() },
    data: { id, state: 'signup', email: `lead${id}@example.com`, suspicion: 'no_suspicion', created_at: new Date().toISOString() },
  });
}

async function sendBurst(baseUrl: string, firstId: number, count: number): Promise<void> {
  const ids = Array.from({ length: count }, (_, index) => firstId + index);
  // 16 at a time: a payout run's webhooks arrive in a burst, not one by one.
  for (let start = 0; start < ids.length; start += 16) {
    const answers = await Promise.all(
      ids.slice(start, start + 16).map((id) =>
        fetch(`${baseUrl}/webhooks/firstpromoter`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${webhookToken}` }, body: delivery(id) }),
      ),
    );
    if (answers.some((answer) => answer.status !== 202)) throw new Error(`a delivery was not acknowledged: ${answers.map((answer) => answer.status).join(',')}`);
  }
}

/** Event ids visible in the channel: every `firstpromoter-N` of every message (a digest names many). */
function visibleEvents(slack: SlackFake): Set<number> {
  const seen = new Set<number>();
  for (const message of slack.received) for (const match of (message.text ?? '').matchAll(/firstpromoter-(\d+)/g)) seen.add(Number(match[1]));
  return seen;
}

async function waitUntil(probe: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

async function run(grouped: boolean): Promise<{ seconds: number; messages: number; rateLimited: number; isExtrapolated: boolean; measured?: { messages: number; seconds: number } }> {
  const prefix = `bench-burst-${randomBytes(4).toString('hex')}`;
  const rulesDir = await mkdtemp(path.join(tmpdir(), 'bench-burst-'));
  await writeFile(path.join(rulesDir, 'burst.yaml'), rulesFor(grouped));
  const slack = await startSlackFake({ token: slackToken, perChannelLimit: { messagesPerSecond: 1, retryAfterSeconds: 1 } });
  const bridge = await BridgeProcess.start({
    env: {
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      RULES_DIR: rulesDir,
      FIRSTPROMOTER_WEBHOOK_TOKEN: webhookToken,
      SLACK_BOT_TOKEN: slackToken,
      SLACK_API_URL: slack.url,
      LOG_LEVEL: 'info',
    },
  });
  const redis = new Redis(redisUrl);
  try {
    const firstId = 7_000_000;
    const startedAt = Date.now();
    await sendBurst(bridge.baseUrl, firstId, EVENTS);
    if (grouped) {
      const isDone = await waitUntil(() => visibleEvents(slack).size >= EVENTS, 180_000);
      if (!isDone) throw new Error(`only ${visibleEvents(slack).size} of ${EVENTS} events visible after 180 s`);
      const seconds = (Date.now() - startedAt) / 1000;
      return { seconds, messages: slack.received.length, rateLimited: slack.rateLimited(), isExtrapolated: false };
    }
    const isDone = await waitUntil(() => slack.received.length >= SAMPLE, 180_000);
    if (!isDone) throw new Error(`only ${slack.received.length} of ${SAMPLE} messages after 180 s`);
    const seconds = (slack.received[SAMPLE - 1].at - startedAt) / 1000;
    return { seconds: (seconds / SAMPLE) * EVENTS, messages: EVENTS, rateLimited: slack.rateLimited(), isExtrapolated: true, measured: { messages: SAMPLE, seconds } };
  } finally {
    await bridge.stop();
    await slack.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
    await rm(rulesDir, { recursive: true, force: true });
  }
}

const grouped = await run(true);
const ungrouped = await run(false);
const line = (label: string, figures: Awaited<ReturnType<typeof run>>) =>
  `${label.padEnd(30)} ${figures.isExtrapolated ? '~' : ' '}${figures.seconds.toFixed(1).padStart(7)} s  ${String(figures.messages).padStart(5)} messages  ${String(figures.rateLimited).padStart(4)} 429s`;
console.log(`${EVENTS} events to one channel, 1 message/s per channel (bridge default pacing, fake Slack enforcing it)`);
console.log('                               time until every event is visible');
console.log(line('grouped (group: { by: all })', grouped));
console.log(line('ungrouped', ungrouped));
console.log(
  `  (ungrouped is extrapolated: its first ${ungrouped.measured!.messages} messages took ${ungrouped.measured!.seconds.toFixed(1)} s; ` +
    `${EVENTS} at that rate ≈ ${ungrouped.seconds.toFixed(0)} s)`,
);
console.log(`targets (grouped): under 60 s ${grouped.seconds < 60 ? 'met' : 'MISSED'}, at most 20 messages ${grouped.messages <= 20 ? 'met' : 'MISSED'}`);
