import { planUnlessQuarantined } from '../../delivery/delivery-policy.js';
import type { BridgeEvent } from '../../events/event.js';
import { planActions } from '../plan.js';
import type { RuleSet } from '../rule-set.js';

/** Which received event types no rule handles, and which rules never matched. */
export interface CoverageReport {
  /** How many stored events the window held. */
  readonly events: number;
  /** Types of the window's events that no rule's `on` names, most frequent first. */
  readonly unhandledTypes: ReadonlyArray<{ readonly type: string; readonly count: number }>;
  /** Rules that matched none of the window's events, in rule order, with how many events of their `on` types arrived. */
  readonly silentRules: ReadonlyArray<{ readonly id: string; readonly eventsOfItsTypes: number }>;
}

/**
 * Plans events with `ruleSet` as the events worker does on a first run (quarantined events match
 * nothing) and counts the types no rule handles and the rules that never matched. A rule whose
 * condition failed on every event (a typo, a type error) is silent too: that is the point. Events
 * are added one at a time, in any order. Pure: reads and sends nothing.
 */
export class RuleCoverageCounter {
  readonly #ruleSet: RuleSet;
  readonly #unhandled = new Map<string, number>();
  readonly #eventsOfTypes = new Map<string, number>();
  readonly #matched = new Set<string>();
  #events = 0;

  constructor(ruleSet: RuleSet) {
    this.#ruleSet = ruleSet;
  }

  add(event: BridgeEvent): void {
    this.#events += 1;
    const rules = this.#ruleSet.rulesFor(event.type);
    if (rules.length === 0) {
      this.#unhandled.set(event.type, (this.#unhandled.get(event.type) ?? 0) + 1);
      return;
    }
    for (const rule of rules) this.#eventsOfTypes.set(rule.id, (this.#eventsOfTypes.get(rule.id) ?? 0) + 1);
    const { plan } = planUnlessQuarantined(event, 'first', (planned) => planActions(this.#ruleSet, planned, { strictTemplates: false, explainFalseConditions: false }));
    for (const rule of plan.matched) this.#matched.add(rule.ruleId);
  }

  result(): CoverageReport {
    return {
      events: this.#events,
      unhandledTypes: [...this.#unhandled]
        .map(([type, count]) => ({ type, count }))
        .sort((a, b) => b.count - a.count || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0)),
      silentRules: this.#ruleSet.rules
        .filter((rule) => !this.#matched.has(rule.id))
        .map((rule) => ({ id: rule.id, eventsOfItsTypes: this.#eventsOfTypes.get(rule.id) ?? 0 })),
    };
  }
}

/** {@link RuleCoverageCounter} over a list of events. */
export function measureRuleCoverage(ruleSet: RuleSet, events: Iterable<BridgeEvent>): CoverageReport {
  const counter = new RuleCoverageCounter(ruleSet);
  for (const event of events) counter.add(event);
  return counter.result();
}

/** The `--json` form: exactly `{ unhandledTypes: [{ type, count }], silentRules: [{ id, eventsOfItsTypes }] }`. */
export function toCoverageJson(report: CoverageReport): unknown {
  return {
    unhandledTypes: report.unhandledTypes.map(({ type, count }) => ({ type, count })),
    silentRules: report.silentRules.map(({ id, eventsOfItsTypes }) => ({ id, eventsOfItsTypes })),
  };
}

/** The human form: both lists, each entry with its count, and a last line of totals. */
export function formatCoverageReport(report: CoverageReport): string[] {
  const lines: string[] = [];
  if (report.unhandledTypes.length > 0) {
    lines.push('Event types no rule handles:');
    for (const { type, count } of report.unhandledTypes) lines.push(`  ${type}  ${count} event${count === 1 ? '' : 's'}`);
  }
  if (report.silentRules.length > 0) {
    lines.push('Rules that never matched:');
    for (const { id, eventsOfItsTypes } of report.silentRules) {
      lines.push(`  ${id}  ${eventsOfItsTypes === 0 ? 'no event of its types arrived' : `${eventsOfItsTypes} event${eventsOfItsTypes === 1 ? '' : 's'} of its types arrived, none matched`}`);
    }
  }
  const unhandledEvents = report.unhandledTypes.reduce((sum, entry) => sum + entry.count, 0);
  lines.push(
    `${report.events} stored event${report.events === 1 ? '' : 's'}: ${report.unhandledTypes.length} unhandled type${report.unhandledTypes.length === 1 ? '' : 's'} (${unhandledEvents} event${unhandledEvents === 1 ? '' : 's'}), ${report.silentRules.length} silent rule${report.silentRules.length === 1 ? '' : 's'}`,
  );
  return lines;
}
