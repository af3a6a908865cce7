import { isDeepStrictEqual } from 'node:util';
import { planUnlessQuarantined } from '../../delivery/delivery-policy.js';
import { compareEventsByReceipt, type BridgeEvent } from '../../events/event.js';
import { planActions, type Plan } from '../plan.js';
import type { RuleSet } from '../rule-set.js';

/** How many sample event ids each kind of change keeps per rule. */
export const DIFF_SAMPLES = 3;

/** One value that differs between the two plans of an action, at a path such as `params.text`. */
export interface ValueDifference {
  readonly path: string;
  /** Absent: the value is not there in the live rules' plan. */
  readonly before?: unknown;
  /** Absent: the value is not there in the candidate rules' plan. */
  readonly after?: unknown;
}

/** One action of one event whose plan differs between the two rule sets. */
export interface ActionChange {
  readonly eventId: string;
  readonly action: string;
  /** Position in the rule's `do` list (0-based). */
  readonly actionIndex: number;
  readonly differences: readonly ValueDifference[];
}

/** One action of one event that only one of the rule sets plans. */
export interface ActionPresence {
  readonly eventId: string;
  readonly action: string;
  readonly actionIndex: number;
}

/** What changes for one rule (by id) across the window's events. */
export interface RuleDiff {
  readonly id: string;
  /** Where the rule is: in both rule sets, or in one only. */
  readonly presence: 'both' | 'live' | 'candidate';
  /** Actions the candidate rules plan and the live rules do not. */
  readonly added: number;
  /** Actions the live rules plan and the candidate rules do not. */
  readonly removed: number;
  /** Actions both plan, rendered differently (params, once_per key, retry, or a plan error). */
  readonly changed: number;
  /** Actions both plan identically. */
  readonly unchanged: number;
  /** Up to {@link DIFF_SAMPLES} distinct event ids per kind of change. */
  readonly samples: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly changed: readonly string[] };
  /** The rendered differences of the changed samples' actions. */
  readonly changes: readonly ActionChange[];
  /** The added and removed samples' actions. */
  readonly additions: readonly ActionPresence[];
  readonly removals: readonly ActionPresence[];
}

/** The whole what-if: how many stored events were planned twice, and each rule's changes. */
export interface RuleSetDiff {
  readonly events: number;
  /** Every rule of either set: the live rules' order, then the candidate's new rules. */
  readonly rules: readonly RuleDiff[];
}

/**
 * What one action of one plan comes to, as comparable values: the rendered params, the rendered
 * once_per key and the retry override when planned, or the plan error when it could not be planned
 * (it would be a dead letter, not a call).
 */
type ActionOutcome = Readonly<Record<string, unknown>>;

/**
 * Plans events with `live` and with `candidate`, through the planning code the events worker runs
 * (the delivery policy's plan-or-quarantine decision, then `planActions` with the run time's lenient
 * templates), and compares the two plans action by action. An action is identified as the bridge
 * identifies it in job ids: event, rule id, position in `do`. Events are added one at a time, in any
 * order (a week's events need not sit in memory together); the samples are the earliest received,
 * so the result does not depend on that order. Pure: sends nothing, reads nothing; `once_per`
 * claims are not consulted (whether a key is held depends on Redis at the time, so both sides show
 * the action as planned, with its rendered key).
 */
export class RuleSetDiffer {
  readonly #live: RuleSet;
  readonly #candidate: RuleSet;
  readonly #rules = new Map<string, RuleTally>();
  #events = 0;

  constructor(live: RuleSet, candidate: RuleSet) {
    this.#live = live;
    this.#candidate = candidate;
    for (const rule of live.rules) this.#tallyFor(rule.id);
    for (const rule of candidate.rules) this.#tallyFor(rule.id);
  }

  /** Plans `event` with both rule sets and counts every action's fate. */
  add(event: BridgeEvent): void {
    this.#events += 1;
    const before = outcomesOf(planAsWorkersDo(this.#live, event));
    const after = outcomesOf(planAsWorkersDo(this.#candidate, event));
    for (const [key, outcome] of before) {
      const [ruleId, actionIndex] = splitKey(key);
      const tally = this.#tallyFor(ruleId);
      const other = after.get(key);
      if (other === undefined) {
        tally.removed += 1;
        offerSample(tally.removals, event, { eventId: event.id, action: String(outcome.action), actionIndex });
        continue;
      }
      const differences = compareOutcomes(outcome, other);
      if (differences.length === 0) {
        tally.unchanged += 1;
        continue;
      }
      tally.changed += 1;
      offerSample(tally.changes, event, { eventId: event.id, action: String(other.action), actionIndex, differences });
    }
    for (const [key, outcome] of after) {
      if (before.has(key)) continue;
      const [ruleId, actionIndex] = splitKey(key);
      const tally = this.#tallyFor(ruleId);
      tally.added += 1;
      offerSample(tally.additions, event, { eventId: event.id, action: String(outcome.action), actionIndex });
    }
  }

  /** Every rule of either set (the live rules' order, then the candidate's new rules) with its counts and samples. */
  result(): RuleSetDiff {
    const rules = [...this.#rules.values()].map((tally): RuleDiff => {
      const additions = tally.additions.map((sample) => sample.detail);
      const removals = tally.removals.map((sample) => sample.detail);
      const changes = tally.changes.map((sample) => sample.detail);
      return {
        id: tally.id,
        presence: tally.presence,
        added: tally.added,
        removed: tally.removed,
        changed: tally.changed,
        unchanged: tally.unchanged,
        samples: { added: additions.map((a) => a.eventId), removed: removals.map((r) => r.eventId), changed: changes.map((c) => c.eventId) },
        changes,
        additions,
        removals,
      };
    });
    return { events: this.#events, rules };
  }

  #tallyFor(id: string): RuleTally {
    let tally = this.#rules.get(id);
    if (!tally) {
      const presence = this.#live.byId(id) ? (this.#candidate.byId(id) ? 'both' : 'live') : 'candidate';
      tally = { id, presence, added: 0, removed: 0, changed: 0, unchanged: 0, additions: [], removals: [], changes: [] };
      this.#rules.set(id, tally);
    }
    return tally;
  }
}

/** {@link RuleSetDiffer} over a list of events. */
export function diffRuleSets(live: RuleSet, candidate: RuleSet, events: Iterable<BridgeEvent>): RuleSetDiff {
  const differ = new RuleSetDiffer(live, candidate);
  for (const event of events) differ.add(event);
  return differ.result();
}

/** What the events worker does with a stored event on its first run: the same two calls. */
function planAsWorkersDo(ruleSet: RuleSet, event: BridgeEvent): Plan {
  return planUnlessQuarantined(event, 'first', (planned) => planActions(ruleSet, planned, { strictTemplates: false, explainFalseConditions: false })).plan;
}

/** Each action's outcome, keyed `<rule id>\n<index>`. */
function outcomesOf(plan: Plan): Map<string, ActionOutcome> {
  const outcomes = new Map<string, ActionOutcome>();
  for (const planned of plan.actions) {
    const outcome: Record<string, unknown> = { action: planned.action, params: planned.params };
    if (planned.oncePer) outcome.once_per = planned.oncePer.key;
    if (planned.retry) outcome.retry = planned.retry;
    outcomes.set(`${planned.provenance.ruleId}\n${planned.provenance.actionIndex}`, outcome);
  }
  for (const failure of plan.failures) {
    outcomes.set(`${failure.ruleId}\n${failure.actionIndex}`, { action: failure.action, plan_error: failure.error });
  }
  return outcomes;
}

function splitKey(key: string): [ruleId: string, index: number] {
  const cut = key.lastIndexOf('\n');
  return [key.slice(0, cut), Number(key.slice(cut + 1))];
}

/** Every leaf path whose value differs, in path order (`params.text`, `params.properties.x`, `once_per`…). */
function compareOutcomes(before: ActionOutcome, after: ActionOutcome): ValueDifference[] {
  if (isDeepStrictEqual(before, after)) return [];
  const left = flatten(before);
  const right = flatten(after);
  const paths = [...new Set([...left.keys(), ...right.keys()])].sort();
  const differences: ValueDifference[] = [];
  for (const path of paths) {
    const hasBefore = left.has(path);
    const hasAfter = right.has(path);
    if (hasBefore && hasAfter && isDeepStrictEqual(left.get(path), right.get(path))) continue;
    differences.push({ path, ...(hasBefore ? { before: left.get(path) } : {}), ...(hasAfter ? { after: right.get(path) } : {}) });
  }
  return differences;
}

function flatten(value: unknown, path = '', into = new Map<string, unknown>()): Map<string, unknown> {
  if (Array.isArray(value) && value.length > 0) value.forEach((item, index) => flatten(item, `${path}[${index}]`, into));
  else if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [key, item] of Object.entries(value)) flatten(item, path === '' ? key : `${path}.${key}`, into);
  } else into.set(path, value);
  return into;
}

interface Sample<T> {
  readonly event: BridgeEvent;
  readonly detail: T;
}

interface RuleTally {
  readonly id: string;
  readonly presence: RuleDiff['presence'];
  added: number;
  removed: number;
  changed: number;
  unchanged: number;
  /** At most DIFF_SAMPLES each, one per event, the earliest received first. */
  readonly additions: Array<Sample<ActionPresence>>;
  readonly removals: Array<Sample<ActionPresence>>;
  readonly changes: Array<Sample<ActionChange>>;
}

/** Keeps `detail` when its event is among the earliest DIFF_SAMPLES events of the list (one sample per event). */
function offerSample<T>(samples: Array<Sample<T>>, event: BridgeEvent, detail: T): void {
  if (samples.some((sample) => sample.event.id === event.id)) return;
  if (samples.length >= DIFF_SAMPLES && compareEventsByReceipt(event, samples[samples.length - 1].event) > 0) return;
  samples.push({ event, detail });
  samples.sort((a, b) => compareEventsByReceipt(a.event, b.event));
  if (samples.length > DIFF_SAMPLES) samples.pop();
}

/** The `--json` form: exactly `{ events, rules: [{ id, added, removed, changed, unchanged, samples }] }`. */
export function toDiffJson(diff: RuleSetDiff): unknown {
  return {
    events: diff.events,
    rules: diff.rules.map(({ id, added, removed, changed, unchanged, samples }) => ({
      id,
      added,
      removed,
      changed,
      unchanged,
      samples: { added: [...samples.added], removed: [...samples.removed], changed: [...samples.changed] },
    })),
  };
}

/** Longest value shown in a difference line; a Slack text can be 40,000 characters. */
const SHOWN_VALUE_LENGTH = 300;

/**
 * The human form: one line per rule with its counts, then its samples: the added and removed
 * actions' events, and each changed action's rendered differences (`params.text: "…" → "…"`).
 */
export function formatRuleSetDiff(diff: RuleSetDiff, labels: { readonly live: string; readonly candidate: string }): string[] {
  const lines: string[] = [];
  for (const rule of diff.rules) {
    const where = rule.presence === 'live' ? ` (only in ${labels.live})` : rule.presence === 'candidate' ? ` (only in ${labels.candidate})` : '';
    lines.push(`${rule.id}${where}: ${rule.added} added, ${rule.removed} removed, ${rule.changed} changed, ${rule.unchanged} unchanged`);
    for (const added of rule.additions) lines.push(`  + ${added.eventId}: ${added.action} (action ${added.actionIndex + 1})`);
    for (const removed of rule.removals) lines.push(`  - ${removed.eventId}: ${removed.action} (action ${removed.actionIndex + 1})`);
    for (const change of rule.changes) {
      lines.push(`  ~ ${change.eventId}: ${change.action} (action ${change.actionIndex + 1})`);
      for (const difference of change.differences) {
        lines.push(`      ${difference.path}: ${showValue(difference, 'before')} → ${showValue(difference, 'after')}`);
      }
    }
  }
  const differing = diff.rules.filter((rule) => rule.added + rule.removed + rule.changed > 0).length;
  lines.push(`${diff.events} stored event${diff.events === 1 ? '' : 's'} planned with both; ${differing} rule${differing === 1 ? '' : 's'} would act differently (nothing sent)`);
  return lines;
}

function showValue(difference: ValueDifference, side: 'before' | 'after'): string {
  if (!(side in difference)) return '(none)';
  const text = JSON.stringify(difference[side]) ?? String(difference[side]);
  return text.length > SHOWN_VALUE_LENGTH ? `${text.slice(0, SHOWN_VALUE_LENGTH)}…` : text;
}
