import { stringify } from 'yaml';
import { DEFAULT_EVENT_ORIGIN } from '../../events/affiliate.js';
import type { BridgeEvent } from '../../events/event.js';
import { describeFalseParts } from '../condition-explanation.js';
import type { Plan, PlannedAction } from '../plan.js';
import { displayPath } from '../problems.js';

/** What `simulate` prints (and, with --json, prints as JSON). */
export interface SimulationReport {
  readonly event: {
    readonly id: string;
    readonly type: string;
    readonly source: string;
    readonly status: string;
    /** `webhook`, or `reconciled` for an event `reconcile` synthesized. */
    readonly origin: string;
    /** The canonical types rules may name for this event (`affiliate.lead.created`); may be empty. */
    readonly canonicalTypes: readonly string[];
    readonly validationErrors?: readonly string[];
  };
  /** Each planned action may carry `notes`: what its action would do beyond sending the params. */
  readonly matched: ReadonlyArray<Plan['matched'][number] & { readonly actions: ReadonlyArray<PlannedAction & { readonly notes?: readonly string[] }> }>;
  readonly unmatched: Plan['unmatched'];
  readonly failures: Plan['failures'];
  readonly warnings: Plan['warnings'];
}

/**
 * Pairs an event with its plan for printing. Pure.
 * @param explain an action's notes on its rendered params (the Action's `explain`); none by default.
 */
export function buildSimulationReport(event: BridgeEvent, plan: Plan, explain?: (action: PlannedAction) => readonly string[]): SimulationReport {
  return {
    event: {
      id: event.id,
      type: event.type,
      source: event.source,
      status: event.status,
      origin: event.origin ?? DEFAULT_EVENT_ORIGIN,
      canonicalTypes: event.canonicalTypes ?? [],
      ...(event.validationErrors ? { validationErrors: event.validationErrors } : {}),
    },
    matched: explain
      ? plan.matched.map((rule) => ({
          ...rule,
          actions: rule.actions.map((action) => {
            const notes = explain(action);
            return notes.length > 0 ? { ...action, notes } : action;
          }),
        }))
      : plan.matched,
    unmatched: plan.unmatched,
    failures: plan.failures,
    warnings: plan.warnings,
  };
}

/**
 * The human-readable form: the event, each matched rule with its rendered actions (params as
 * YAML), each rule for this type that did not match and why, failures and warnings.
 */
export function formatSimulationReport(report: SimulationReport): string[] {
  const lines: string[] = [];
  lines.push(`event ${report.event.type} ${report.event.id} (${report.event.status})`);
  if (report.event.canonicalTypes.length > 0) lines.push(`  canonical types (rules may name these too): ${report.event.canonicalTypes.join(', ')}`);
  if (report.event.origin !== DEFAULT_EVENT_ORIGIN) lines.push(`  origin: ${report.event.origin}`);
  for (const error of report.event.validationErrors ?? []) lines.push(`  quarantined: ${error}`);
  if (report.matched.length === 0 && report.unmatched.length === 0 && report.failures.length === 0) {
    lines.push('no rule is written for this event type');
  }
  for (const rule of report.matched) {
    lines.push(`✓ ${rule.ruleId} (${displayPath(rule.file)}) matched`);
    for (const action of rule.actions) {
      const retry = action.retry ? ` (retry: ${action.retry.attempts} attempts, backoff ${action.retry.backoffMs} ms)` : '';
      lines.push(`    ${action.action}${retry}`);
      for (const line of stringify(action.params, { lineWidth: 0 }).trimEnd().split('\n')) lines.push(`      ${line}`);
      if (action.oncePer) lines.push(`      ${describeOncePer(action.oncePer)}`);
      if (action.group) lines.push(`      ${describeGroup(action.group)}`);
      for (const note of action.notes ?? []) lines.push(`      note: ${note}`);
    }
  }
  for (const rule of report.unmatched) {
    lines.push(
      rule.reason === 'condition_false'
        ? `✗ ${rule.ruleId} (${displayPath(rule.file)}) not matched: condition false${rule.falseParts && rule.falseParts.length > 0 ? `: ${describeFalseParts(rule.falseParts)}` : ''}`
        : `✗ ${rule.ruleId} (${displayPath(rule.file)}) not matched: condition error: ${rule.error}`,
    );
  }
  for (const failure of report.failures) {
    lines.push(`! ${failure.ruleId} action ${failure.actionIndex + 1} (${failure.action}) could not be planned: ${failure.error}`);
  }
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  const actionCount = report.matched.reduce((count, rule) => count + rule.actions.length, 0);
  lines.push(`${report.matched.length} rule${report.matched.length === 1 ? '' : 's'} matched, ${actionCount} action${actionCount === 1 ? '' : 's'} planned (nothing sent)`);
  return lines;
}

/**
 * The throttle line of an action (`throttle` or its shorthand `once_per`: one wording). Simulate
 * reads no Redis, so it can only say which key the action claims, not whether an earlier event
 * already holds it.
 */
function describeOncePer(oncePer: NonNullable<PlannedAction['oncePer']>): string {
  const window = oncePer.windowMs === undefined ? 'DEDUP_TTL' : formatDurationMs(oncePer.windowMs);
  return `throttle key ${JSON.stringify(oncePer.key)} (held for ${window}): sent only if no earlier event holds this key, which simulate cannot know (it reads no Redis)`;
}

/**
 * The digest line of a grouped action: simulate reads no Redis, so it says which group the
 * message joins and when that group is posted, not what else is in it.
 */
function describeGroup(group: NonNullable<PlannedAction['group']>): string {
  return `grouped (wait ${formatDurationMs(group.waitMs)}, max ${group.max}): joins the digest of this rule, channel and group.by, posted as one message rendered by digest_text; simulate reads no Redis, so it cannot show the rest of the digest`;
}

/** 86400000 → `1d`, 90000 → `90s`: the largest unit that divides it exactly. */
function formatDurationMs(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
