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
 * Plans every event with `ruleSet` as the events worker does on a first run (quarantined events
 * match nothing) and reports the types no rule handles and the rules that never matched. A rule
 * whose condition failed on every event (a typo, a type error) is silent too: that is the point.
 * Pure: reads and sends nothing.
 */
export function measureRuleCoverage(ruleSet: RuleSet, events: readonly BridgeEvent[]): CoverageReport {
  const unhandled = new Map<string, number>();
  const eventsOfTypes = new Map<string, number>();
  const matched = new Set<string>();
  for (const event of events) {
    const rules = ruleSet.rulesFor(event.type);
    if (rules.length === 0) {
      unhandled.set(event.type, (unhandled.get(event.type) ?? 0) + 1);
      continue;
    }
    for (const rule of rules) eventsOfTypes.set(rule.id, (eventsOfTypes.get(rule.id) ?? 0) + 1);
    const { plan } = planUnlessQuarantined(event, 'first', (planned) => planActions(ruleSet, planned, { strictTemplates: false }));
    for (const rule of plan.matched) matched.add(rule.ruleId);
  }
  return {
    events: events.length,
    unhandledTypes: [...unhandled]
      .map(([type, count]) => ({ type, count }))
      .sort((a, b) => b.count - a.count || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0)),
    silentRules: ruleSet.rules.filter((rule) => !matched.has(rule.id)).map((rule) => ({ id: rule.id, eventsOfItsTypes: eventsOfTypes.get(rule.id) ?? 0 })),
  };
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
