/**
 * Planning time per event against rule sets of 10, 100, 1,000 and 10,000 rules spread over 50
 * event types. Run: `npx tsx bench/rules-planning.ts`. Prints µs/event (p50, p99) and the mean
 * number of rules considered, matched and actions rendered per event.
 *
 * The mix: about 80% of rules have a condition (string equality, numeric threshold, `in` list,
 * `has()` guard), each true for roughly a fifth of events; 10% of rules use a glob; actions are Slack
 * messages (two interpolations, `money` on one) and HubSpot upserts (three templated properties).
 *
 * A second table, "matching only", runs the same rules against events for which every condition is
 * false (and gives the fifth of rules with no `if` one too): the cost of rules that are considered
 * but do not fire, with no rendering at all. The first table minus the second is rendering. A third
 * runs it again without explaining the false conditions (`explainFalseConditions: false`): the
 * second minus the third is what recording which part was false costs.
 *
 * These are figures to watch, not a target: conditions and templates run only through cel-js and
 * liquidjs (issue 9), and the budget that matters is the events worker's throughput
 * (bench/events-worker.ts).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { BridgeEvent } from '../src/events/event.js';
import { actionRegistry } from '../src/actions/registry.js';
import { compileRuleFiles } from '../src/rules/compile-rules.js';
import { planActions, type PlanOptions } from '../src/rules/plan.js';
import { formatProblem } from '../src/rules/problems.js';

const TYPE_COUNT = 50;
const EVENTS_PER_SIZE = 20_000;
const WARM_UP_EVENTS = 5_000;

/** 25 FirstPromoter-like types and 25 Rewardful-like dotted ones, all matching a known source. */
const types = Array.from({ length: TYPE_COUNT }, (_, i) =>
  i % 2 === 0 ? `firstpromoter.event_${String(i).padStart(2, '0')}` : `rewardful.object_${String(i).padStart(2, '0')}.created`,
);

/** Deterministic pseudo-random numbers, so every run measures the same rules and events. */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const conditions = [
  'data.status == "approved"',
  'data.amount >= 40000',
  'data.suspicion != "no_suspicion"',
  'data.unit in ["points", "free_months"]',
  'has(data.promoter.profile) && data.promoter.profile.country == "AU"',
];

/**
 * The two runs. `full`: the realistic mix. `matchingOnly`: the same rules (same ids, types, globs,
 * conditions and actions) except that rules without a condition get one, and events for which
 * every condition is false.
 */
type Scenario = 'full' | 'matchingOnly';

function buildRulesYaml(count: number, random: () => number, scenario: Scenario): string {
  const lines = ['rules:'];
  for (let i = 0; i < count; i += 1) {
    const type = types[i % TYPE_COUNT];
    // Globs as people write them: one family of dotted types (`rewardful.commission.*`), never a
    // whole source, so a glob rule covers its own type only.
    const isGlob = type.startsWith('rewardful.') && random() < 0.2;
    const on = isGlob ? type.replace(/[^.]+$/, '*') : type;
    lines.push(`  - id: rule-${i}`, `    on: ${on}`);
    // The same random draws in both scenarios, so both build the same rules.
    if (random() < 0.8) lines.push(`    if: ${JSON.stringify(conditions[Math.floor(random() * conditions.length)])}`);
    else if (scenario === 'matchingOnly') lines.push(`    if: ${JSON.stringify(conditions[i % conditions.length])}`);
    lines.push('    do:');
    if (random() < 0.6) {
      lines.push(
        '      - slack.post_message:',
        `          channel: "#channel-${i % 7}"`,
        '          text: "{{ data.email }} earned {{ data.amount | money }} via {{ data.promoter.email }}"',
      );
    } else {
      lines.push(
        '      - hubspot.upsert_contact:',
        '          email: "{{ data.promoter.email }}"',
        '          properties:',
        '            firstname: "{{ data.promoter.profile.first_name }}"',
        '            affiliate_status: "{{ data.promoter.status }}"',
        '            lifecyclestage: customer',
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

const lead = JSON.parse(readFileSync('test/fixtures/deliveries/firstpromoter/lead_signup.json', 'utf8')) as { data: Record<string, unknown> };

function buildEvents(count: number, random: () => number, scenario: Scenario): BridgeEvent[] {
  const isFull = scenario === 'full';
  // Matching only: values for which every condition above is false (the fixture's country is US).
  const statuses = isFull ? ['approved', 'pending', 'denied', 'pending', 'pending'] : ['pending', 'denied'];
  const suspicions = isFull ? ['no_suspicion', 'no_suspicion', 'no_suspicion', 'no_suspicion', 'self_referral'] : ['no_suspicion'];
  const units = isFull ? ['cash', 'cash', 'cash', 'points', 'cash'] : ['cash'];
  const maxAmount = isFull ? 50_000 : 40_000;
  return Array.from({ length: count }, (_, i) => {
    const type = types[Math.floor(random() * TYPE_COUNT)];
    const source = type.startsWith('rewardful.') ? 'rewardful' : 'firstpromoter';
    const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
    return {
      id: `${source}-${i}`,
      source,
      type,
      providerType: type.slice(source.length + 1),
      occurredAt: '2024-10-03T13:45:20.103Z',
      receivedAt: '2024-10-03T13:45:21.000Z',
      status: 'valid',
      data: {
        ...lead.data,
        status: pick(statuses),
        suspicion: pick(suspicions),
        unit: pick(units),
        amount: Math.floor(random() * maxAmount),
      },
    } satisfies BridgeEvent;
  });
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function measure(scenario: Scenario, options: PlanOptions = {}): string[][] {
  const rows: string[][] = [];
  for (const size of [10, 100, 1_000, 10_000]) {
    const random = createRandom(size);
    // Untyped (an empty source registry): the generated rules use made-up event types; this
    // measures planning, not `check` (bench/check.ts does).
    const compiled = compileRuleFiles([{ file: `bench-${size}.yaml`, content: buildRulesYaml(size, random, scenario) }], { actions: actionRegistry, registry: {} });
    if (!compiled.ok) throw new Error(compiled.problems.slice(0, 5).map((problem) => formatProblem(problem)).join('\n'));
    const ruleSet = compiled.ruleSet;
    const events = buildEvents(EVENTS_PER_SIZE, random, scenario);
    for (const event of events.slice(0, WARM_UP_EVENTS)) planActions(ruleSet, event, options);

    const timings = new Float64Array(events.length);
    let considered = 0;
    let matched = 0;
    let actions = 0;
    let errors = 0;
    for (const [i, event] of events.entries()) {
      const start = process.hrtime.bigint();
      const plan = planActions(ruleSet, event, options);
      timings[i] = Number(process.hrtime.bigint() - start) / 1_000;
      considered += plan.matched.length + plan.unmatched.length;
      matched += plan.matched.length;
      actions += plan.actions.length;
      for (const rule of plan.unmatched) if (rule.reason === 'condition_error') errors += 1;
    }
    // A condition that errors costs more than one that is false: the scenario must not hide any.
    if (errors > 0) throw new Error(`${scenario}: ${errors} condition errors with ${size} rules`);
    if (scenario === 'matchingOnly' && matched > 0) throw new Error(`matching only: ${matched} rules matched with ${size} rules`);
    timings.sort();
    rows.push([
      size.toLocaleString('en-US'),
      (considered / events.length).toFixed(1),
      (matched / events.length).toFixed(1),
      (actions / events.length).toFixed(1),
      percentile(timings, 50).toFixed(1),
      percentile(timings, 99).toFixed(1),
      actions === 0 ? '-' : (timings.reduce((sum, value) => sum + value, 0) / actions).toFixed(1),
      considered === 0 ? '-' : ((timings.reduce((sum, value) => sum + value, 0) / considered) * 1_000).toFixed(0),
    ]);
  }
  return rows;
}

const header = ['rules', 'rules/type seen', 'matched', 'actions', 'p50 µs/event', 'p99 µs/event', 'mean µs/action', 'mean ns/rule seen'];
function printTable(title: string, rows: string[][]): void {
  const widths = header.map((heading, column) => Math.max(heading.length, ...rows.map((row) => row[column].length)));
  const format = (row: string[]) => row.map((cell, column) => cell.padStart(widths[column])).join('  ');
  console.log(title);
  console.log(format(header));
  for (const row of rows) console.log(format(row));
}

console.log(`load average ${os.loadavg().map((load) => load.toFixed(1)).join(' ')} on ${os.cpus().length} cores`);
console.log(`${TYPE_COUNT} event types, ${EVENTS_PER_SIZE.toLocaleString('en-US')} events per size (node ${process.version})`);
printTable('full planning (the realistic mix): matching and rendering', measure('full'));
console.log();
printTable('matching only (every condition false for the event): no rendering; each false condition explained (falseParts)', measure('matchingOnly'));
console.log();
// The difference with the table above is what recording which part was false costs (issue 14.6).
printTable('matching only, false conditions not explained (as diff and coverage plan)', measure('matchingOnly', { explainFalseConditions: false }));
