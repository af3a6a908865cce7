/**
 * Events worker throughput against real Redis: N stored lead_signup events drained by the real
 * events worker (planning, action jobs, traces), once with no rules and once with 1,000 rules
 * for other event types. Target: the 1,000 non-matching rules cost under 5% of throughput.
 *
 *   npx tsx bench/events-worker.ts [--events 5000] [--rounds 3]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { BridgeEvent } from '../src/events/event.js';
import { BridgeMetrics } from '../src/observability/metrics.js';
import type { ActionJobData } from '../src/queue/action-job.js';
import type { EventJobData } from '../src/queue/event-intake.js';
import { startEventsWorker } from '../src/queue/events-worker.js';
import { ACTIONS_QUEUE, EVENTS_QUEUE } from '../src/queue/names.js';
import { DEFAULT_RETRY_POLICY } from '../src/queue/delivery-policy.js';
import { compileRuleFiles } from '../src/rules/compile-rules.js';
import { planActions } from '../src/rules/plan.js';
import type { RuleSet } from '../src/rules/rule-set.js';
import { sourceRegistry } from '../src/sources/registry.js';
import { deleteKeys } from '../test/support/redis.js';

const args = process.argv.slice(2);
const eventCount = Number(args[args.indexOf('--events') + 1] || 5000) || 5000;
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const delivery = JSON.parse(readFileSync(new URL('../test/fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));
const baseEvent = sourceRegistry.firstpromoter.normalize(delivery, { receivedAt: new Date(), strippedFields: ['auth_token', 'temp_password'] });

function buildRuleSet(nonMatching: number): RuleSet {
  const rules = Array.from(
    { length: nonMatching },
    (_, i) => `  - id: other-${i}
    on: firstpromoter.other_type_${i % 50}
    if: data.amount > ${i}
    do:
      - slack.post_message: { channel: "#c${i % 20}", text: "{{ data.email }} {{ data.amount | money }}" }`,
  );
  const content = rules.length ? `rules:\n${rules.join('\n')}\n` : 'rules: []\n';
  const loaded = compileRuleFiles([{ file: 'bench.yaml', content }]);
  if (!loaded.ok) throw new Error(`bench rules invalid: ${JSON.stringify(loaded.problems.slice(0, 3))}`);
  return loaded.ruleSet;
}

async function measure(label: string, ruleSet: RuleSet): Promise<number> {
  const prefix = `bench-events-${randomBytes(4).toString('hex')}`;
  const producer = new Redis(redisUrl);
  const state = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const events = new Queue<EventJobData>(EVENTS_QUEUE, { connection: producer, prefix });
  const actions = new Queue<ActionJobData>(ACTIONS_QUEUE, { connection: producer, prefix });
  for (let start = 0; start < eventCount; start += 500) {
    await events.addBulk(
      Array.from({ length: Math.min(500, eventCount - start) }, (_, i) => {
        const event: BridgeEvent = { ...baseEvent, id: `firstpromoter-${start + i + 1}` };
        return { name: 'event', data: { event }, opts: { jobId: `${event.id}.bench`, removeOnComplete: true } };
      }),
    );
  }
  const worker = startEventsWorker({
    connection: workerConnection,
    state,
    prefix,
    actionsQueue: actions,
    plan: (event) => planActions(ruleSet, event, { strictTemplates: false }),
    checkSchema: (event) => sourceRegistry[event.source].checkSchema(event),
    retryPolicy: DEFAULT_RETRY_POLICY,
    traceTtlMs: 3_600_000,
    logger: pino({ level: 'silent' }),
    metrics: new BridgeMetrics(),
    concurrency: 20,
  });
  let completed = 0;
  const startedAt = performance.now();
  await new Promise<void>((resolve) => {
    worker.on('completed', (_job: Job) => {
      completed += 1;
      if (completed === eventCount) resolve();
    });
  });
  const seconds = (performance.now() - startedAt) / 1000;
  await worker.close();
  await events.obliterate({ force: true });
  await actions.obliterate({ force: true });
  await deleteKeys(producer, prefix);
  await Promise.all([events.close(), actions.close()]);
  for (const connection of [producer, state, workerConnection]) connection.disconnect();
  const perSecond = eventCount / seconds;
  console.log(`${label.padEnd(28)} ${perSecond.toFixed(0).padStart(6)} events/s  (${eventCount} events in ${seconds.toFixed(2)} s)`);
  return perSecond;
}

console.log(`Events worker throughput, real Redis, concurrency 20, ${eventCount} lead_signup events`);
const empty = buildRuleSet(0);
const thousand = buildRuleSet(1000);
await measure('warm-up (discarded)', empty);
// Alternating rounds, then medians: this machine's throughput drifts more between runs than the
// difference being measured.
const rounds = Number(args[args.indexOf('--rounds') + 1] || 3) || 3;
const none: number[] = [];
const withRules: number[] = [];
for (let round = 1; round <= rounds; round += 1) {
  none.push(await measure(`0 rules (round ${round})`, empty));
  withRules.push(await measure(`1,000 non-matching (round ${round})`, thousand));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const [withNone, withThousand] = [median(none), median(withRules)];
console.log(`median: 0 rules ${withNone.toFixed(0)} events/s, 1,000 non-matching rules ${withThousand.toFixed(0)} events/s`);
console.log(`cost of 1,000 non-matching rules: ${(((withNone - withThousand) / withNone) * 100).toFixed(1)}% of throughput`);
