import type * as yup from 'yup';
import type { RedisConnection } from '../infra/redis.js';
import type { Logger } from 'pino';
import type { BridgeConfig } from '../config/config.js';

/** `<integration>.<verb_object>`, e.g. `slack.post_message`. */
export type ActionName = `${string}.${string}`;

/**
 * Escapes one interpolated value's text for an action's params (Slack mrkdwn: `&`, `<`, `>`).
 * Applied by the template engine to every `{{ }}` output that does not end in `| raw`, after
 * filters, never to the literal text a rule author wrote. Must be pure and deterministic: one
 * template engine is built and cached per escaper function.
 */
export type TextEscaper = (text: string) => string;

/** Shared, long-lived dependencies an action's runner is built from (built once in main.ts). */
export interface ActionDeps {
  readonly config: BridgeConfig;
  /** A Redis connection for pacing state shared by every worker process. */
  readonly redis: RedisConnection;
  /** Redis key prefix for the bridge's own keys (the queue prefix). */
  readonly keyPrefix: string;
  readonly logger: Logger;
  /** Milliseconds since the epoch; injected so pacing is testable. */
  readonly now: () => number;
}

/** Per-execution context, built by the actions worker for each job attempt. */
export interface ActionContext {
  /** The action job's id: stable across attempts, used for idempotency records. */
  readonly jobId: string;
  readonly eventId: string;
  readonly ruleId: string;
  /** 1 on the first try. */
  readonly attempt: number;
  readonly logger: Logger;
  /** Aborted when the outbound call must give up (timeout, shutdown). */
  readonly signal: AbortSignal;
}

export type ActionResult =
  | { readonly outcome: 'succeeded'; readonly detail?: Record<string, unknown> }
  /**
   * No credentials for the integration: `request` is exactly what would have been sent (no token);
   * `detail` what the action noted on the way (a property left out), as for a real send.
   */
  | { readonly outcome: 'dry_run'; readonly request: Record<string, unknown>; readonly detail?: Record<string, unknown> };

/**
 * The runtime half of an action, connected to its API client. `execute` throws
 * PermanentActionError, RetryableActionError or IntegrationPausedError (the credentials no longer
 * work: the worker pauses the integration); any other error counts as retryable.
 */
export interface ActionRunner<P> {
  execute(params: P, ctx: ActionContext): Promise<ActionResult>;
  /**
   * One cheap authenticated call (Slack `auth.test`) that tells whether a paused integration's
   * credentials work again: resolves when they do, throws (any error) when they do not. The worker
   * calls it at most every 30 s across all workers while the integration is paused, and resumes
   * the integration when it resolves.
   * @defaultValue none: a pause of this action's integration ends only when the next job succeeds
   */
  probe?(signal: AbortSignal): Promise<void>;
  /**
   * Runs once when a worker process starts: checks what the credentials allow beyond sending
   * (Slack: whether the token may read channel history) and logs once what is missing. Never
   * throws; the worker does not wait for it.
   * @defaultValue none: nothing to check
   */
  checkSetup?(signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}

/**
 * One kind of action. The params schema is checked when rules load, not when jobs run; `connect`
 * builds the runner once per process.
 */
export interface Action<P> {
  readonly name: ActionName;
  readonly params: yup.Schema<P>;
  /**
   * How text interpolated into this action's params is escaped when rule templates render, so
   * payload text cannot form markup of the target (a Slack `<!channel>` mention). The same
   * function object should be reused: templates are compiled once per escaper.
   * @defaultValue none: interpolated values are plain text
   */
  readonly escapeText?: TextEscaper;
  /**
   * The escaper for the strings of one mapping of the params and everything below it, when it
   * differs from `escapeText` (Slack: a Block Kit `plain_text` object, which shows `&amp;` as
   * written, so only mentions are defused there). Pure; return the same function objects.
   * @defaultValue none: `escapeText` everywhere
   */
  escapeTextIn?(mapping: Readonly<Record<string, unknown>>): TextEscaper | undefined;
  /**
   * What executing these rendered params would do beyond sending them as they are (a property left
   * out, an email normalized), one human-readable line each; `simulate` prints them. Pure, no I/O.
   * @defaultValue none: the params go out as rendered
   */
  explain?(params: P): readonly string[];
  /**
   * Warnings about params as written, for `check` (a warning, never a failure): `params` holds
   * only the fixed text of each template (what every render contains, whatever the event), e.g.
   * so Slack can warn that a section's fixed text alone exceeds its 3,000-character limit. Pure.
   * @defaultValue none: no warnings
   */
  lint?(params: P): readonly ParamsWarning[];
  /**
   * The param naming where the action sends (Slack's `channel`): `check` warns when two rules send
   * to the same place, written as plain text, for the same event type (the event goes out twice).
   * @defaultValue none: not linted
   */
  readonly destinationParam?: string;
  /**
   * Params that are templates over other variables than `event` and `data`, rendered later rather
   * than at plan time (Slack's `digest_text`, over `events` and `count`): checked when rules load
   * against these variables, carried into the job as written.
   * @defaultValue none: every string param is rendered at plan time
   */
  readonly deferredTemplates?: Readonly<Record<string, readonly string[]>>;
  /**
   * How rendered params ask to be grouped into digests (Slack's `group:`); the queue keeps the
   * groups in Redis and posts one digest per group through this action's own runner.
   * @defaultValue none: the action is never grouped
   */
  readonly grouping?: ActionGrouping<P>;
  connect(deps: ActionDeps): ActionRunner<P>;
}

/** Where a planned action's digest goes: one group per rule action and `key`. */
export interface GroupPlacement {
  /** What tells groups apart beyond the rule and the action: the rendered `by`, and the target (a channel). */
  readonly key: string;
  /** How long the group stays open after its first item, in ms. */
  readonly waitMs: number;
  /** The most items one digest carries: the max-th closes the group and posts it at once. */
  readonly max: number;
}

/** One grouped action, as a digest template sees it: the event, its data and the item's rendered text. */
export interface DigestItem {
  readonly event: Record<string, unknown>;
  readonly data: unknown;
  readonly text: string;
}

/** An action's grouping hooks (pure): the queue calls them, the templates module renders. */
export interface ActionGrouping<P> {
  /** Where these rendered params are grouped, or undefined when they ask for no grouping. */
  placementOf(params: P): GroupPlacement | undefined;
  /** The item's own rendered text, as the digest lists it. */
  itemTextOf(params: P): string;
  /** The digest template as written (a deferred template), or undefined for the action's default. */
  digestTemplateOf(params: P): string | undefined;
  /** The digest's default template, for a group of at most `max` items. */
  defaultDigestTemplate(max: number): string;
  /** The params of the digest itself: the first item's params carrying the rendered digest text. */
  digestParams(first: P, text: string): P;
}

/** One warning of {@link Action.lint}: where in the params, and an exact sentence. */
export interface ParamsWarning {
  /** Path in the params, e.g. `['blocks', 0, 'text', 'text']`; empty for the params as a whole. */
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/**
 * The actions rules may name, by name. `actions/registry.ts` builds the real one; rule loading
 * receives it as a parameter (tests pass toy actions), so `src/rules/` imports no integration.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a catalog holds actions of different params types
export type ActionCatalog = Readonly<Record<ActionName, Action<any>>>;
