import type * as yup from 'yup';
import type { RedisConnection } from '../queue/redis.js';
import type { Logger } from 'pino';
import type { BridgeConfig } from '../config/config.js';

/** `<integration>.<verb_object>`, e.g. `slack.post_message`. */
export type ActionName = `${string}.${string}`;

/**
 * How string values interpolated into this action's params are escaped when templates render.
 * `slack_mrkdwn` escapes `&`, `<`, `>` so payload text cannot form mentions or links.
 */
export type RenderFormat = 'slack_mrkdwn' | 'plain';

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
  /** No credentials for the integration: `request` is exactly what would have been sent (no token). */
  | { readonly outcome: 'dry_run'; readonly request: Record<string, unknown> };

/**
 * The runtime half of an action, connected to its API client. `execute` throws
 * PermanentActionError or RetryableActionError; any other error counts as retryable.
 */
export interface ActionRunner<P> {
  execute(params: P, ctx: ActionContext): Promise<ActionResult>;
  close?(): Promise<void>;
}

/**
 * One kind of action. The params schema is checked when rules load, not when jobs run; `connect`
 * builds the runner once per process.
 */
export interface Action<P> {
  readonly name: ActionName;
  readonly params: yup.Schema<P>;
  readonly renderFormat: RenderFormat;
  /**
   * What executing these rendered params would do beyond sending them as they are (a property left
   * out, an email normalized), one human-readable line each; `simulate` prints them. Pure, no I/O.
   * @defaultValue none: the params go out as rendered
   */
  explain?(params: P): readonly string[];
  connect(deps: ActionDeps): ActionRunner<P>;
}
