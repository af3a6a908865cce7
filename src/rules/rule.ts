import type { Action, ActionName } from '../actions/action.js';
import type { Condition } from './conditions.js';
import type { EventPattern } from './event-patterns.js';
import type { TemplateTree } from './templates.js';

/** A per-action override of the default retry policy, from `retry: { attempts, backoff }`. */
export interface RetryOverride {
  /** 1..50. */
  readonly attempts: number;
  /** The base backoff delay in milliseconds (the worker applies its backoff strategy to it). */
  readonly backoffMs: number;
}

/**
 * A per-action throttle, from `throttle: { key, window }` or its shorthand `once_per`: the action
 * runs at most once per rendered key within a window; the events of the same key after the first
 * are traced as suppressed instead. One setting and one claim for both spellings.
 */
export interface OncePerRule {
  /** How the rule wrote it, for messages: `throttle`, or the shorthand `once_per`. */
  readonly form: 'throttle' | 'once_per';
  /** The key, compiled as a plain-text template (no escaping: it is never shown to Slack). */
  readonly key: TemplateTree;
  /** The key as written in the rule file, for messages. */
  readonly source: string;
  /** How long the first event holds a key, in ms. @defaultValue the dedup window (DEDUP_TTL) */
  readonly windowMs?: number;
}

/** One `do` item, compiled. */
export interface RuleAction {
  readonly name: ActionName;
  readonly action: Action<unknown>;
  /** Params with every string compiled as a template. */
  readonly params: TemplateTree;
  readonly retry?: RetryOverride;
  /** From `throttle:` or `once_per:`: run at most once per rendered key within the window. */
  readonly oncePer?: OncePerRule;
  /** Position in the rule's `do` list (0-based): part of provenance and of job ids. */
  readonly index: number;
}

/** One rule, compiled and validated. */
export interface Rule {
  readonly id: string;
  readonly description?: string;
  /** The rule file, as given to the loader. */
  readonly file: string;
  /** SHA-256 (hex) of the rule file's bytes. */
  readonly fileHash: string;
  /** 1-based position of the rule in its file. */
  readonly line: number;
  readonly column: number;
  readonly patterns: readonly EventPattern[];
  readonly condition: Condition | null;
  readonly actions: readonly RuleAction[];
  /** Load order across all files (files sorted by name): rules fire in this order. */
  readonly order: number;
}

/** One loaded rule file. */
export interface RuleFileInfo {
  readonly file: string;
  /** SHA-256 (hex) of the file's bytes. */
  readonly hash: string;
  readonly ruleIds: readonly string[];
}
