import * as yup from 'yup';
import type { ActionName, GroupPlacement } from '../actions/action.js';
import type { BridgeEvent } from '../events/event.js';
import type { FalseConditionPart } from './condition-explanation.js';
import type { Rule, RuleAction } from './rule.js';
import { readRuleScope } from './rule-scopes.js';
import type { RuleSet } from './rule-set.js';
import { renderTemplateValue, TemplateRenderError } from './templates.js';

/** Where a planned action came from; it travels with the action job. */
export interface ActionProvenance {
  readonly eventId: string;
  readonly ruleId: string;
  readonly ruleFile: string;
  /** SHA-256 (hex) of the rule file's bytes when the rule was loaded. */
  readonly ruleFileHash: string;
  /** Position in the rule's `do` list (0-based). */
  readonly actionIndex: number;
}

/** One action to run: params rendered and valid for the action. */
export interface PlannedAction {
  readonly action: ActionName;
  readonly params: Record<string, unknown>;
  /** The rule's override of the action's default retry policy, when it set one. */
  readonly retry?: { readonly attempts: number; readonly backoffMs: number };
  /**
   * The rule's `once_per`, its key rendered: the events worker runs the action only when this
   * event is the first to claim the key (per rule and action) within the window.
   */
  readonly oncePer?: PlannedOncePer;
  /**
   * Where the action's digest group is (Slack's `group:`), from the action's own grouping hooks:
   * the events worker adds the action to that group instead of enqueueing it.
   */
  readonly group?: GroupPlacement;
  readonly provenance: ActionProvenance;
}

/** A planned action's `once_per`, rendered. */
export interface PlannedOncePer {
  /** The rendered key (never empty: an empty one is a plan failure). */
  readonly key: string;
  /** How long the first event holds the key, in ms. @defaultValue the dedup window (DEDUP_TTL) */
  readonly windowMs?: number;
}

/** An action of a matching rule that could not be planned (render error, params invalid once rendered). */
export interface PlanFailure {
  readonly ruleId: string;
  readonly file: string;
  readonly action: ActionName;
  readonly actionIndex: number;
  readonly error: string;
  readonly provenance: ActionProvenance;
  /** Always true today: the same event and rules would fail the same way, so retrying is pointless. */
  readonly isPermanent: true;
}

export interface MatchedRule {
  readonly ruleId: string;
  readonly file: string;
  readonly actions: readonly PlannedAction[];
}

export interface UnmatchedRule {
  readonly ruleId: string;
  readonly file: string;
  readonly reason: 'condition_false' | 'condition_error';
  /** The evaluation error, for `condition_error`. */
  readonly error?: string;
  /**
   * For `condition_false`: the parts that were false (rules/condition-explanation.ts): the first
   * false conjunct of an `&&`, every disjunct of an `||`, else the whole condition; each with the
   * fields it reads. Absent in traces written before it existed.
   */
  readonly falseParts?: readonly FalseConditionPart[];
}

/** What a set of rules does with one event. */
export interface Plan {
  /** Rules whose `on` and `if` matched, in rule order. */
  readonly matched: readonly MatchedRule[];
  /** Rules for this event type whose condition was false or failed. */
  readonly unmatched: readonly UnmatchedRule[];
  /** Every planned action of every matched rule, in order. */
  readonly actions: readonly PlannedAction[];
  readonly failures: readonly PlanFailure[];
  /** Missing fields rendered as empty text, a skipped quarantined event. */
  readonly warnings: readonly string[];
}

export interface PlanOptions {
  /** A missing template variable fails the action (as `test` wants) instead of rendering empty. @defaultValue false */
  readonly strictTemplates?: boolean;
  /**
   * Records which part of each false condition was false (`falseParts`): a few more evaluations
   * per rule that does not match. Off for tools that plan many stored events and never show why
   * (`diff`, `coverage`). @defaultValue true
   */
  readonly explainFalseConditions?: boolean;
}

/**
 * Decides what `ruleSet` does with `event`. Pure and synchronous; never throws for rule or
 * payload problems: a condition that fails to evaluate counts as not matched (reported in
 * `unmatched`), and an action that fails to render is reported in `failures` while the others
 * are still planned.
 */
export function planActions(ruleSet: RuleSet, event: BridgeEvent, options: PlanOptions = {}): Plan {
  const matched: MatchedRule[] = [];
  const unmatched: UnmatchedRule[] = [];
  const actions: PlannedAction[] = [];
  const failures: PlanFailure[] = [];
  const warnings: string[] = [];
  // Whether a quarantined event is planned at all is the delivery policy's decision (delivery/delivery-policy.ts).
  const rules = ruleSet.rulesForEvent(event);
  if (rules.length === 0) return { matched, unmatched, actions, failures, warnings };

  // One scope per event, shared by every condition and template of every rule.
  const scope = readRuleScope(event);
  const isStrict = options.strictTemplates === true;
  const isExplaining = options.explainFalseConditions !== false;
  for (let r = 0; r < rules.length; r += 1) {
    const rule = rules[r];
    if (rule.condition) {
      const outcome = rule.condition.evaluate(scope);
      if (outcome !== true) {
        // Over its evaluation budget, the condition neither matched nor failed to apply: the rule's
        // actions fail as plan errors, so they reach the dead-letter list and a replay after a fix.
        if (outcome !== false && outcome.isBudgetExceeded) {
          for (const ruleAction of rule.actions) failures.push(planFailure(rule, ruleAction, provenanceOf(rule, ruleAction, event), `if: ${outcome.error}`));
        }
        unmatched.push(
          outcome === false
            ? isExplaining
              ? { ruleId: rule.id, file: rule.file, reason: 'condition_false', falseParts: rule.condition.explainFalse(scope) }
              : { ruleId: rule.id, file: rule.file, reason: 'condition_false' }
            : { ruleId: rule.id, file: rule.file, reason: 'condition_error', error: outcome.error },
        );
        continue;
      }
    }
    const ruleActions: PlannedAction[] = [];
    for (let a = 0; a < rule.actions.length; a += 1) {
      const planned = planAction(rule, rule.actions[a], event, scope, isStrict, warnings);
      if (isPlanFailure(planned)) failures.push(planned);
      else {
        ruleActions.push(planned);
        actions.push(planned);
      }
    }
    matched.push({ ruleId: rule.id, file: rule.file, actions: ruleActions });
  }
  return { matched, unmatched, actions, failures, warnings };
}

function isPlanFailure(planned: PlannedAction | PlanFailure): planned is PlanFailure {
  return (planned as PlanFailure).isPermanent === true;
}

function planAction(
  rule: Rule,
  ruleAction: RuleAction,
  event: BridgeEvent,
  scope: Record<string, unknown>,
  isStrict: boolean,
  warnings: string[],
): PlannedAction | PlanFailure {
  const provenance = provenanceOf(rule, ruleAction, event);
  // Render warnings go straight onto the plan's list and get their label afterwards: most actions
  // have none, and then no label string and no array are built.
  const firstWarning = warnings.length;
  let params: Record<string, unknown>;
  try {
    params = renderTemplateValue(ruleAction.params, scope, isStrict, warnings) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TemplateRenderError) {
      warnings.length = firstWarning;
      return planFailure(rule, ruleAction, provenance, error.message);
    }
    throw error;
  }
  if (warnings.length > firstWarning) {
    const label = `rule ${rule.id} action ${ruleAction.index + 1} (${ruleAction.name})`;
    for (let i = firstWarning; i < warnings.length; i += 1) warnings[i] = `${label}: ${warnings[i]}`;
  }
  // Rendered params can still break a rule (an email rendered empty): the action's own schema
  // decides. Params with no template are the very value validated at load, so they are not
  // validated again.
  const problems = ruleAction.params.kind === 'static' ? null : validateRenderedParams(ruleAction.action.params, params);
  if (problems !== null) return planFailure(rule, ruleAction, provenance, `params invalid once rendered: ${problems.join('; ')}`);
  const group = ruleAction.action.grouping?.placementOf(params);
  if (ruleAction.oncePer === undefined) {
    const planned: PlannedAction = ruleAction.retry
      ? { action: ruleAction.name, params, retry: ruleAction.retry, provenance }
      : { action: ruleAction.name, params, provenance };
    return group ? { ...planned, group } : planned;
  }
  const afterParams = warnings.length;
  const rendered = renderOncePerKey(ruleAction.oncePer, scope, isStrict, warnings);
  if (warnings.length > afterParams) {
    const label = `rule ${rule.id} action ${ruleAction.index + 1} (${ruleAction.name})`;
    for (let i = afterParams; i < warnings.length; i += 1) warnings[i] = `${label}: ${ruleAction.oncePer.form}: ${warnings[i]}`;
  }
  if ('error' in rendered) return planFailure(rule, ruleAction, provenance, rendered.error);
  const oncePer: PlannedOncePer =
    ruleAction.oncePer.windowMs === undefined ? { key: rendered.key } : { key: rendered.key, windowMs: ruleAction.oncePer.windowMs };
  const planned: PlannedAction = ruleAction.retry
    ? { action: ruleAction.name, params, retry: ruleAction.retry, oncePer, provenance }
    : { action: ruleAction.name, params, oncePer, provenance };
  return group ? { ...planned, group } : planned;
}

function provenanceOf(rule: Rule, ruleAction: RuleAction, event: BridgeEvent): ActionProvenance {
  return { eventId: event.id, ruleId: rule.id, ruleFile: rule.file, ruleFileHash: rule.fileHash, actionIndex: ruleAction.index };
}

/**
 * The rendered `once_per` key. A key that renders empty (or only spaces) is an error naming the
 * key: with no key there is nothing to run once per, and running the action every time (or never)
 * would silently change what the rule says.
 */
function renderOncePerKey(
  oncePer: NonNullable<RuleAction['oncePer']>,
  scope: Record<string, unknown>,
  isStrict: boolean,
  warnings: string[],
): { readonly key: string } | { readonly error: string } {
  const firstWarning = warnings.length;
  let key: string;
  try {
    key = String(renderTemplateValue(oncePer.key, scope, isStrict, warnings));
  } catch (error) {
    if (error instanceof TemplateRenderError) {
      warnings.length = firstWarning;
      return { error: `${oncePer.form}: ${error.message}` };
    }
    throw error;
  }
  if (key.trim() === '') return { error: `${oncePer.form} ${JSON.stringify(oncePer.source)} rendered empty: the action needs a key to run once per` };
  return { key };
}

/** The action's yup schema on rendered params, every problem at once; null when they are valid. */
function validateRenderedParams(schema: yup.Schema<unknown>, params: Record<string, unknown>): string[] | null {
  try {
    // The schemas are strict (no casting): rendered params go to the job exactly as checked.
    schema.validateSync(params, { abortEarly: false });
    return null;
  } catch (error) {
    if (error instanceof yup.ValidationError) return error.errors;
    throw error;
  }
}

function planFailure(rule: Rule, ruleAction: RuleAction, provenance: ActionProvenance, error: string): PlanFailure {
  return {
    ruleId: rule.id,
    file: rule.file,
    action: ruleAction.name,
    actionIndex: ruleAction.index,
    error,
    provenance,
    isPermanent: true,
  };
}
