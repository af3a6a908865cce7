/**
 * The delivery policy, owned here and nowhere else: the named retry policies and which one runs,
 * the environment's and a rule's overrides of it, the BullMQ options and backoff of action jobs,
 * how long finished jobs are kept, worker concurrency, and whether an event is planned or
 * quarantined.
 *
 * Pure: no Redis, no BullMQ at run time (its types only), so the rule tooling (`test`,
 * `simulate`) can take the same decisions as the workers without a queue.
 */
import type { BackoffStrategy, JobsOptions, KeepJobs } from 'bullmq';
import type { BridgeEvent } from '../events/event.js';
import type { Plan } from '../rules/plan.js';

/** The BullMQ backoff type of action jobs; {@link createActionBackoffStrategy} computes it. */
export const ACTION_BACKOFF_TYPE = 'jittered-exponential';

/**
 * Exponential backoff with "equal jitter" (half the delay fixed, half random), so retries after an
 * outage spread out instead of arriving together.
 */
export interface RetryPolicy {
  /** Total tries including the first. */
  readonly attempts: number;
  /** Delay before the first retry, in ms; each further retry doubles it. */
  readonly baseDelayMs: number;
  /** No single wait is longer than this, in ms. */
  readonly maxDelayMs: number;
}

/**
 * The default: 12 tries. Retry waits double from 15 s; with jitter the last try comes between
 * about 4 and 8¼ hours after the first failure, which rides out a multi-hour Slack or HubSpot outage.
 */
export const twelveAttemptsOverEightHours: RetryPolicy = {
  attempts: 12,
  baseDelayMs: 15_000,
  maxDelayMs: 4 * 60 * 60 * 1000,
};

/** For tests and local trials: the same shape, in milliseconds. */
export const fastRetriesForTests: RetryPolicy = { attempts: 4, baseDelayMs: 50, maxDelayMs: 500 };

/**
 * The policy that runs unless ACTION_ATTEMPTS or ACTION_BACKOFF_BASE override it. The config takes
 * its defaults from here, so editing the named policy changes what runs.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = twelveAttemptsOverEightHours;

/** Events worker concurrency per process, unless EVENTS_CONCURRENCY says otherwise. */
export const DEFAULT_EVENTS_CONCURRENCY = 20;

/** Actions worker concurrency per process, unless ACTIONS_CONCURRENCY says otherwise. */
export const DEFAULT_ACTIONS_CONCURRENCY = 50;

/**
 * How often both workers look for stalled jobs (a dead worker's), in ms. A job's lock outlives a
 * dead worker by up to its lockDuration (30 s, renewed every 15 s), and the first check after that
 * hands the job to a live worker: a killed worker's events and actions come back within 15–45 s.
 * BullMQ's default (30 s) would make that up to 60 s.
 */
export const STALLED_CHECK_INTERVAL_MS = 15_000;

/** The environment's overrides of the default policy (ACTION_ATTEMPTS, ACTION_BACKOFF_BASE). */
export interface RetryOverrides {
  /** @defaultValue the base policy's attempts */
  readonly actionAttempts?: number;
  /** @defaultValue the base policy's baseDelayMs */
  readonly actionBackoffBaseMs?: number;
}

/** The retry policy that runs: `base` with the environment's overrides applied (maxDelayMs is the base's). */
export function resolveRetryPolicy(overrides: RetryOverrides, base: RetryPolicy = DEFAULT_RETRY_POLICY): RetryPolicy {
  return {
    ...base,
    ...(overrides.actionAttempts === undefined ? {} : { attempts: overrides.actionAttempts }),
    ...(overrides.actionBackoffBaseMs === undefined ? {} : { baseDelayMs: overrides.actionBackoffBaseMs }),
  };
}

/** A rule's `retry: { attempts, backoff }` on one action. */
export interface RuleRetryOverride {
  readonly attempts: number;
  readonly backoffMs: number;
}

/** How one action job retries: the rule's override where it set one, else the running policy. */
export interface ActionRetry {
  readonly attempts: number;
  readonly baseDelayMs: number;
}

/** Applies a rule's per-action override to the running policy. */
export function resolveActionRetry(policy: RetryPolicy, override: RuleRetryOverride | undefined): ActionRetry {
  return override ? { attempts: override.attempts, baseDelayMs: override.backoffMs } : { attempts: policy.attempts, baseDelayMs: policy.baseDelayMs };
}

/**
 * Lines of history kept per action job (one per attempt, and one per delay while its integration is
 * paused): a job retried by hand again and again, or delayed through a long pause, keeps its newest
 * lines only, so its log key stays bounded.
 */
export const ACTION_JOB_LOGS_KEPT = 50;

/** The BullMQ options of one action job. Its backoff base travels in the job data (`backoffBaseMs`). */
export function buildActionJobOptions(jobId: string, retry: ActionRetry): JobsOptions & { jobId: string } {
  return { jobId, attempts: retry.attempts, backoff: { type: ACTION_BACKOFF_TYPE }, keepLogs: ACTION_JOB_LOGS_KEPT };
}

/**
 * Event jobs: 8 tries, waits doubling from 1 s (BullMQ's `exponential` backoff with half of each
 * wait random), so the last try comes between about 1 and 2 minutes after the first failure.
 * Planning an event talks only to Redis, so what fails it is Redis trouble (a failover, a command
 * timeout, a restart): minutes, not the hours Slack or HubSpot outages take. Re-running an event
 * job is safe: it enqueues the same deterministic action job ids. `maxDelayMs` is what the attempts
 * imply (BullMQ's built-in backoff has no cap of its own).
 */
export const eightAttemptsOverTwoMinutes: RetryPolicy = { attempts: 8, baseDelayMs: 1_000, maxDelayMs: 64_000 };

/** The policy of every event job (first deliveries and replays). */
export const EVENT_RETRY_POLICY: RetryPolicy = eightAttemptsOverTwoMinutes;

/**
 * The BullMQ options of one event job: a few attempts with jittered exponential backoff, so a
 * transient Redis error while it is planned does not fail it for good. An event job that used them
 * all is listed by `events failed` and sent again by `events retry`.
 */
export function buildEventJobOptions(jobId: string, policy: RetryPolicy = EVENT_RETRY_POLICY): JobsOptions & { jobId: string } {
  return { jobId, attempts: policy.attempts, backoff: { type: 'exponential', delay: policy.baseDelayMs, jitter: 0.5 } };
}

/**
 * The wait before retry number `attemptsMade` (1 after the first failure). A `retryAfterMs` the
 * remote side gave is a floor.
 */
export function computeRetryDelay(
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>,
  attemptsMade: number,
  random: () => number = Math.random,
  retryAfterMs?: number,
): number {
  const exponential = Math.min(policy.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1), policy.maxDelayMs);
  const jittered = Math.round(exponential / 2 + (random() * exponential) / 2);
  return Math.max(jittered, retryAfterMs ?? 0);
}

/**
 * The actions worker's `settings.backoffStrategy`: each job's own backoff base (a rule may override
 * it), the policy's cap, and the remote side's `retryAfterMs` (read by `retryAfterOf`) as a floor.
 */
export function createActionBackoffStrategy(
  policy: RetryPolicy,
  retryAfterOf: (error: Error | undefined) => number | undefined,
  random: () => number = Math.random,
): BackoffStrategy {
  return (attemptsMade, _type, error, job) =>
    computeRetryDelay(
      { baseDelayMs: (job?.data as { backoffBaseMs?: number } | undefined)?.backoffBaseMs ?? policy.baseDelayMs, maxDelayMs: policy.maxDelayMs },
      attemptsMade,
      random,
      retryAfterOf(error),
    );
}

/** A retried action gets the whole of its retry policy again, not what its last run left. */
export const RETRY_WITH_FRESH_ATTEMPTS = { resetAttemptsMade: true, resetAttemptsStarted: true } as const;

/** Failed jobs stay this long (the actions' dead-letter list, the events' failed list), in seconds. */
export const FAILED_JOBS_KEPT_SECONDS = 30 * 24 * 3600;

/** Completed action jobs kept at most (the newest), whatever their age, unless COMPLETED_ACTIONS_KEPT says otherwise. */
export const COMPLETED_ACTION_JOBS_KEPT = 100_000;

/** How long finished jobs stay: completed ones (action jobs), failed ones (both queues), and the cap on completed action jobs. */
export interface JobRetentionSettings {
  /** How long a completed action job stays, in ms (the dedup window: as long as its completion record). */
  readonly completedMs: number;
  /** How long a failed job stays, in ms (FAILED_JOBS_TTL). @defaultValue FAILED_JOBS_KEPT_SECONDS (30 days) */
  readonly failedMs?: number;
  /** Completed action jobs kept at most (COMPLETED_ACTIONS_KEPT). @defaultValue COMPLETED_ACTION_JOBS_KEPT (100,000) */
  readonly completedActionsKept?: number;
}

/**
 * How long finished jobs of a queue stay in Redis.
 *
 * A completed event job is removed at once: by then its trace holds the event (the one stored copy
 * of its payload) and what every run of it planned, so the job would be a second copy. Its dedup
 * key is BullMQ's own key with its own TTL and outlives the job. Completed action jobs stay as long
 * as the records that go with them (completion records: the dedup window), capped in number.
 * Failed jobs of both queues stay 30 days by default, until retried: the dead-letter list and
 * `events failed`.
 */
export function jobRetention(queue: 'events' | 'actions', settings: JobRetentionSettings): { removeOnComplete: KeepJobs; removeOnFail: KeepJobs } {
  return {
    removeOnComplete:
      queue === 'events' ? { count: 0 } : { age: Math.ceil(settings.completedMs / 1000), count: settings.completedActionsKept ?? COMPLETED_ACTION_JOBS_KEPT },
    removeOnFail: { age: settings.failedMs === undefined ? FAILED_JOBS_KEPT_SECONDS : Math.ceil(settings.failedMs / 1000) },
  };
}

/** Whether an event is handled as first delivered (schema checked, quarantine applies) or replayed. */
export type DeliveryKind = 'first' | 'replay';

/** What happens to an event: planned against the rules, or quarantined (stored, nothing runs). */
export type EventDisposition =
  | { readonly kind: 'plan' }
  | { readonly kind: 'quarantine'; readonly warning: string };

/**
 * The one plan-or-quarantine decision. A quarantined event (schema failed, unknown type) is not
 * planned on its first delivery; a replay plans it anyway, since the operator asked for it after a
 * fix (and `simulate`, which shows what a replay would do). A conflicting duplicate (an event id
 * delivered again with another body) is quarantined and planned: only rules on its own type,
 * `<source>.conflicting_duplicate`, can match it, and they exist to alert on it.
 */
export function decideEventDisposition(event: BridgeEvent, delivery: DeliveryKind): EventDisposition {
  if (event.status !== 'quarantined' || delivery === 'replay' || event.conflict !== undefined) return { kind: 'plan' };
  return { kind: 'quarantine', warning: `event ${event.id} is quarantined, so no rules ran: replay it once its schema problem is fixed` };
}

/**
 * Plans `event` with `plan` when {@link decideEventDisposition} says so; a quarantined event gets an
 * empty plan whose one warning says why nothing ran.
 */
export function planUnlessQuarantined(
  event: BridgeEvent,
  delivery: DeliveryKind,
  plan: (event: BridgeEvent) => Plan,
): { readonly isQuarantined: boolean; readonly plan: Plan } {
  const disposition = decideEventDisposition(event, delivery);
  if (disposition.kind === 'plan') return { isQuarantined: false, plan: plan(event) };
  return { isQuarantined: true, plan: { matched: [], unmatched: [], actions: [], failures: [], warnings: [disposition.warning] } };
}
