/**
 * Events worker throughput against real Redis: N stored lead_signup events drained by the real
 * events worker (planning, action jobs, traces), with three rule sets:
 * - no rules;
 * - 1,000 rules for other event types (never considered: target under 5% of throughput);
 * - 1,000 rules for lead_signup, every one considered for every event: conditions with `!=`, `>`,
 *   `in`, `has()`, and about 1% of rules matching, so each event renders about ten actions with
 *   `default`, `money`, `replace` and `upcase` (the cost of the rule languages themselves).
 * Events differ in the fields the conditions read (deterministic pseudo-random values).
 *
 *   npx tsx bench/events-worker.ts [--events 5000] [--rounds 3] [--only matching]
 *
 * `--ledger` measures instead the cost of the entity ledger (reconciliation): no rules, with and
 * without recording each event's milestone (one Redis script per event).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { BridgeEvent } from '../src/events/event.js';
import { BridgeMetrics } from '../src/observability/metrics.js';
import type { ActionJobData } from '../src/queue/action-job.js';
import type { EventsQueueJobData } from '../src/queue/event-intake.js';
import { startEventsWorker } from '../src/queue/events-worker.js';
import { ACTIONS_QUEUE, EVENTS_QUEUE } from '../src/queue/names.js';
import { DEFAULT_RETRY_POLICY } from '../src/delivery/delivery-policy.js';
import { actionRegistry } from '../src/actions/registry.js';
import { compileRuleFiles } from '../src/rules/compile-rules.js';
import { planActions } from '../src/rules/plan.js';
import type { RuleSet } from '../src/rules/rule-set.js';
import { sourceRegistry } from '../src/sources/registry.js';
import { EntityLedger } from '../src/reconcile/ledger.js';
import { recordMilestoneWith } from '../src/reconcile/reconciler.js';
import { deleteKeys } from '../test/support/redis.js';

const args = process.argv.slice(2);
const eventCount = Number(args[args.indexOf('--events') + 1] || 5000) || 5000;
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const delivery = JSON.parse(readFileSync(new URL('../test/fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));
const baseEvent = sourceRegistry.firstpromoter.normalize(delivery, { receivedAt: new Date(), strippedFields: ['auth_token', 'temp_password'] });

const COUNTRIES = ['US', 'AU', 'GB', 'DE', 'FR', 'NL', 'SE', 'ES', 'IT', 'CA', 'NZ', 'IE', 'BE', 'AT', 'CH', 'DK', 'NO', 'FI', 'PL', 'PT'];
const PLANS = ['starter', 'team', 'business', 'enterprise'];
const UNITS = ['discount_per', 'discount_fixed', 'free_months', 'points', 'cash'];

/** Deterministic pseudo-random numbers, so every run measures the same rules and events. */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function compileBenchRules(rules: string[]): RuleSet {
  const content = rules.length ? `rules:\n${rules.join('\n')}\n` : 'rules: []\n';
  // Untyped (an empty source registry): the generated rules use made-up types and unguarded
  // nullable fields; this measures planning throughput, not `check` (bench/check.ts does).
  const loaded = compileRuleFiles([{ file: 'bench.yaml', content }], { actions: actionRegistry, registry: {} });
  if (!loaded.ok) throw new Error(`bench rules invalid: ${JSON.stringify(loaded.problems.slice(0, 3))}`);
  return loaded.ruleSet;
}

function buildRuleSet(nonMatching: number): RuleSet {
  return compileBenchRules(
    Array.from(
      { length: nonMatching },
      (_, i) => `  - id: other-${i}
    on: firstpromoter.other_type_${i % 50}
    if: data.amount > ${i}
    do:
      - slack.post_message: { channel: "#c${i % 20}", text: "{{ data.email }} {{ data.amount | money }}" }`,
    ),
  );
}

/**
 * 1,000 lead_signup rules, each true for roughly 1% of the events below: a country (1 in 20)
 * narrowed further by a threshold, a suspicion, a plan or an offer unit.
 */
function buildLeadSignupRuleSet(count: number): RuleSet {
  const rules: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const country = COUNTRIES[i % COUNTRIES.length];
    const conditions = [
      `data.promoter.profile.country == "${country}" && data.promotion.sales_total > ${200_000 + ((i * 7_919) % 200_000)}`,
      `data.suspicion != "no_suspicion" && data.promoter.profile.country in ["${country}", "${COUNTRIES[(i + 7) % COUNTRIES.length]}"]`,
      `has(data.promotion.current_offer) && data.promotion.current_offer.unit == "${UNITS[i % UNITS.length]}" && data.promoter.profile.country == "${country}"`,
      `data.plan_name != null && data.plan_name in ["${PLANS[i % PLANS.length]}"] && data.promoter.profile.country == "${country}"`,
    ];
    const action =
      i % 3 === 2
        ? `      - hubspot.upsert_contact:
          email: "{{ data.email }}"
          properties:
            firstname: "{{ data.promoter.profile.first_name | default: 'there' }}"
            affiliate_plan: "{{ data.plan_name | default: 'none' | upcase }}"
            affiliate_suspicion: "{{ data.suspicion | replace: '_', ' ' }}"
            lifecyclestage: lead`
        : `      - slack.post_message:
          channel: "#leads-${i % 20}"
          text: "{{ data.email }} ({{ data.promoter.profile.country | upcase }}) via {{ data.promoter.email }}: sales {{ data.promotion.sales_total | money }}, plan {{ data.plan_name | default: 'none' }}, {{ data.suspicion | replace: '_', ' ' }}"`;
    rules.push(`  - id: lead-${i}
    on: firstpromoter.lead_signup
    if: ${JSON.stringify(conditions[i % conditions.length])}
    do:
${action}`);
  }
  return compileBenchRules(rules);
}

/** The same delivery with the fields the conditions read drawn at random, one event per id. */
function buildEvent(index: number, random: () => number): BridgeEvent {
  const data = structuredClone(baseEvent.data) as Record<string, any>;
  data.suspicion = random() < 0.1 ? 'self_referral' : 'no_suspicion';
  data.plan_name = random() < 0.5 ? null : PLANS[Math.floor(random() * PLANS.length)];
  data.promotion.sales_total = Math.floor(random() * 400_000);
  data.promotion.current_offer.unit = UNITS[Math.floor(random() * UNITS.length)];
  data.promoter.profile.country = COUNTRIES[Math.floor(random() * COUNTRIES.length)];
  return { ...baseEvent, id: `firstpromoter-${index}`, data };
}

const storedEvents = Array.from({ length: eventCount }, (_, i) => buildEvent(i + 1, createRandom(i + 1)));

async function measure(label: string, ruleSet: RuleSet, withLedger = false): Promise<number> {
  const prefix = `bench-events-${randomBytes(4).toString('hex')}`;
  const producer = new Redis(redisUrl);
  const state = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const events = new Queue<EventsQueueJobData>(EVENTS_QUEUE, { connection: producer, prefix });
  const actions = new Queue<ActionJobData>(ACTIONS_QUEUE, { connection: producer, prefix });
  for (let start = 0; start < eventCount; start += 500) {
    await events.addBulk(
      storedEvents.slice(start, start + 500).map((event) => {
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
    ...(withLedger ? { recordMilestone: recordMilestoneWith(new EntityLedger({ redis: state, prefix, ttlMs: 3_600_000 }), sourceRegistry, Date.now) } : {}),
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
  // Counted in Redis, so the figure is what the worker really enqueued (no actions worker runs).
  const actionJobs = await actions.count();
  await events.obliterate({ force: true });
  await actions.obliterate({ force: true });
  await deleteKeys(producer, prefix);
  await Promise.all([events.close(), actions.close()]);
  for (const connection of [producer, state, workerConnection]) connection.disconnect();
  const perSecond = eventCount / seconds;
  console.log(
    `${label.padEnd(42)} ${perSecond.toFixed(0).padStart(6)} events/s  (${eventCount} events in ${seconds.toFixed(2)} s, ${(actionJobs / eventCount).toFixed(1)} actions/event)`,
  );
  return perSecond;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
const isLedgerComparison = args.includes('--ledger');
const allConfigurations: Array<[label: string, ruleSet: RuleSet, withLedger?: boolean]> = isLedgerComparison
  ? [
      ['0 rules', buildRuleSet(0)],
      ['0 rules, entity ledger', buildRuleSet(0), true],
    ]
  : [
      ['0 rules', buildRuleSet(0)],
      ['1,000 non-matching', buildRuleSet(1000)],
      ['1,000 lead_signup, ~1% match', buildLeadSignupRuleSet(1000)],
    ];
const configurations = allConfigurations.filter(([label]) => only === null || label.includes(only));

console.log(`Events worker throughput, real Redis, concurrency 20, ${eventCount} lead_signup events`);
await measure('warm-up (discarded)', configurations[0][1]);
// Alternating rounds, then medians: this machine's throughput drifts more between runs than the
// difference being measured.
const rounds = Number(args[args.indexOf('--rounds') + 1] || 3) || 3;
const results = configurations.map(() => [] as number[]);
for (let round = 1; round <= rounds; round += 1) {
  for (const [index, [label, ruleSet, withLedger]] of configurations.entries()) results[index].push(await measure(`${label} (round ${round})`, ruleSet, withLedger));
}
const medians = results.map(median);
console.log(`median: ${configurations.map(([label], index) => `${label} ${medians[index].toFixed(0)} events/s`).join(', ')}`);
const noRules = configurations.findIndex(([label]) => label === '0 rules');
const nonMatching = configurations.findIndex(([label]) => label === '1,000 non-matching');
const withLedger = configurations.findIndex(([label]) => label === '0 rules, entity ledger');
if (noRules >= 0 && withLedger >= 0) {
  console.log(`cost of the entity ledger: ${(((medians[noRules] - medians[withLedger]) / medians[noRules]) * 100).toFixed(1)}% of throughput`);
}
if (noRules >= 0 && nonMatching >= 0) {
  console.log(`cost of 1,000 non-matching rules: ${(((medians[noRules] - medians[nonMatching]) / medians[noRules]) * 100).toFixed(1)}% of throughput`);
}
