import { DelayedError, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { RedisConnection } from '../infra/redis.js';
import type { Logger } from 'pino';
import type { ActionCatalog, ActionName, ActionRunner } from '../actions/action.js';
import { IntegrationPausedError, PermanentActionError, RetryableActionError } from '../errors.js';
import type { BridgeMetrics } from '../observability/metrics.js';
import type { ActionJobData, ActionJobResult } from './action-job.js';
import { forgetDigestItems, resolveDigest, type ResolvedDigest } from './digests.js';
import { describeActionJobFailure, reportFailedActionJob, type FailureReporter } from './failure-events.js';
import { ACTIONS_QUEUE, bridgeKeys } from './names.js';
import { startDeadline } from '../infra/deadline.js';
import { PauseGate } from './pause-gate.js';
import { DEFAULT_ACTIONS_CONCURRENCY, STALLED_CHECK_INTERVAL_MS, createActionBackoffStrategy, jobRetention, type RetryPolicy } from '../delivery/delivery-policy.js';
import { isRedisConnectionError } from '../infra/redis-health.js';

export interface ActionsWorkerOptions {
  /** The worker's own BullMQ connection (role `worker`: blocking commands, no retry limit). */
  readonly connection: RedisConnection;
  /** A connection for completion records. */
  readonly state: RedisConnection;
  /** The BullMQ prefix (QUEUE_PREFIX), also of the completion records' keys. */
  readonly prefix: string;
  /** One connected runner per action name (built from the registry in main.ts). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- runners of different params types, each checked at plan time
  readonly runners: Readonly<Record<ActionName, ActionRunner<any>>>;
  /**
   * The running retry policy: its maxDelayMs caps every wait, and its baseDelayMs is the backoff of
   * a job whose data carries none (each job's attempts were set when it was enqueued).
   */
  readonly retryPolicy: RetryPolicy;
  /** Timeout of every outbound call, in ms. */
  readonly actionTimeoutMs: number;
  /** How long completion records are kept, in ms. */
  readonly completionTtlMs: number;
  /** Where each attempt's outcome is logged, with the job, event, rule and action. */
  readonly logger: Logger;
  /** Where `bridge_actions_total`, `bridge_action_duration_seconds` and `bridge_event_to_action_seconds` are counted. */
  readonly metrics: BridgeMetrics;
  /**
   * The actions by name, for digest jobs (Slack's `group:`): their grouping hooks render the digest.
   * @defaultValue none: a digest job fails permanently (`digest_unsupported`)
   */
  readonly actions?: ActionCatalog;
  /** @defaultValue DEFAULT_ACTIONS_CONCURRENCY (50) */
  readonly concurrency?: number;
  /** How long a failed action job stays in the dead-letter list, in ms (FAILED_JOBS_TTL). @defaultValue FAILED_JOBS_KEPT_SECONDS (30 days) */
  readonly failedJobsTtlMs?: number;
  /** Completed action jobs kept at most (COMPLETED_ACTIONS_KEPT). @defaultValue COMPLETED_ACTION_JOBS_KEPT (100,000) */
  readonly completedJobsKept?: number;
  /** Milliseconds since the epoch. @defaultValue Date.now */
  readonly now?: () => number;
  /** Randomness for retry jitter. @defaultValue Math.random */
  readonly random?: () => number;
  /**
   * Least time between probes of a paused integration across all workers, in ms; also how long a
   * job of a paused integration waits before it is looked at again.
   * @defaultValue PAUSE_PROBE_INTERVAL_MS (30 s)
   */
  readonly pauseProbeIntervalMs?: number;
  /** Least time between "still paused" log lines of one integration across all workers, in ms. @defaultValue PAUSE_LOG_INTERVAL_MS (60 s) */
  readonly pauseLogIntervalMs?: number;
  /**
   * The pause gate shared by the worker's jobs.
   * @defaultValue one built from these options (startActionsWorker builds it once)
   */
  readonly pauseGate?: PauseGate;
  /**
   * Reports a job that fails for good (permanent error, last attempt) as a `bridge.action.failed`
   * event before it is dead-lettered (queue/failure-events.ts).
   * @defaultValue none: failures are only logged, counted and dead-lettered
   */
  readonly failureReporter?: FailureReporter;
}

/** The gate of these options: the one given, or one built from them. */
function pauseGateOf(options: ActionsWorkerOptions): PauseGate {
  return (
    options.pauseGate ??
    new PauseGate({
      redis: options.state,
      prefix: options.prefix,
      runners: options.runners,
      logger: options.logger,
      metrics: options.metrics,
      now: options.now ?? Date.now,
      probeTimeoutMs: options.actionTimeoutMs,
      probeIntervalMs: options.pauseProbeIntervalMs,
      logIntervalMs: options.pauseLogIntervalMs,
    })
  );
}

/** An error for BullMQ's failed reason and retry: code and message only (no SDK internals, no token). */
class ActionAttemptError extends Error {
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
    this.name = 'ActionAttemptError';
  }
}

/**
 * Lock time well above the outbound timeout: a slow call must never lose its lock and be run
 * again by a second worker while the first is still waiting for Slack.
 */
export function lockDurationFor(actionTimeoutMs: number): number {
  return Math.max(30_000, actionTimeoutMs * 3);
}

/**
 * Runs one action job: the only place that translates the actions' error types into BullMQ terms.
 *
 * Idempotency: a completion record keyed by the job id is written after the call succeeds and
 * before the job is acknowledged, and checked before every call. What remains is the window
 * between the remote side's answer and that one Redis write (a millisecond or so): a crash there
 * repeats the call once. HubSpot upserts are idempotent anyway; Slack has no idempotency key.
 */
export async function processActionJob(
  job: Job<ActionJobData, ActionJobResult>,
  token: string | undefined,
  options: ActionsWorkerOptions,
  shutdownSignal?: AbortSignal,
): Promise<ActionJobResult> {
  const { action, params, provenance } = job.data;
  const now = options.now ?? Date.now;
  const jobId = job.id!;
  const doneKey = bridgeKeys(options.prefix).actionDone(jobId);
  const log = options.logger.child({ jobId, eventId: provenance.eventId, ruleId: provenance.ruleId, action });
  const attempt = job.attemptsMade + 1;

  const runner = options.runners[action];
  const gate = pauseGateOf(options);
  // The completion record and the integration's pause are read in one round trip (issued together,
  // the state connection's auto-pipeline sends them in one write): a pause read for a job that
  // turns out done is simply not used.
  const [previous, pause] = await Promise.all([options.state.get(doneKey), runner ? gate.readPauseOf(action) : null]);
  if (previous) {
    log.info('action already done: not sent again');
    return { ...(JSON.parse(previous) as ActionJobResult), alreadyDone: true };
  }

  // A job queued by a version with an action this worker does not run: a dead letter at once, and
  // reported like any action failure (it would otherwise fail silently).
  if (!runner) return handleFailure(new PermanentActionError('unknown_action', `no action named ${action}`), job, token, attempt, options, log);

  // A paused integration (its token refused) runs no job until a probe succeeds: wait, unspent.
  const admission = await gate.check(action, pause);
  if (admission === 'wait') await delayWhilePaused(job, token, gate, options);

  const startedAt = performance.now();
  // The call ends at ACTION_TIMEOUT or at a shutdown that ran out of time, whichever comes first.
  const deadline = startDeadline(options.actionTimeoutMs, shutdownSignal);
  const { signal } = deadline;
  try {
    // A digest job closes its group and posts the digest through the same runner as any message.
    const digest = job.data.digest ? await resolveDigestOf(job.data, options) : undefined;
    const result = await runner.execute(digest ? digest.params : params, { jobId, eventId: provenance.eventId, ruleId: provenance.ruleId, attempt, logger: log, signal });
    const detail = digest ? { ...result.detail, digest: { count: digest.eventIds.length, events: digest.eventIds, ...(digest.warnings.length > 0 ? { warnings: digest.warnings } : {}) } } : result.detail;
    const record: ActionJobResult =
      result.outcome === 'dry_run'
        ? { outcome: 'dry_run', request: result.request, ...(detail ? { detail } : {}) }
        : { outcome: 'succeeded', detail };
    await options.state.set(doneKey, JSON.stringify(record), 'PX', options.completionTtlMs);
    if (digest) await forgetDigestItems(options.state, options.prefix, jobId).catch(() => undefined);
    if (admission === 'run_as_probe') await gate.resumeAfterProbeJob(action);

    const seconds = (performance.now() - startedAt) / 1000;
    options.metrics.actionDuration.observe({ action }, seconds);
    options.metrics.actions.inc({ action, outcome: record.outcome });
    const sinceReceived = (now() - Date.parse(job.data.eventReceivedAt)) / 1000;
    if (Number.isFinite(sinceReceived)) options.metrics.eventToAction.observe({ action }, sinceReceived);
    if (record.outcome === 'dry_run') {
      log.info({ request: record.request, detail: record.detail }, 'dry run: no credentials for this integration, nothing sent');
    } else {
      log.info({ attempt, durationMs: Math.round(seconds * 1000) }, 'action succeeded');
    }
    return record;
  } catch (error) {
    options.metrics.actionDuration.observe({ action }, (performance.now() - startedAt) / 1000);
    if (shutdownSignal?.aborted && !deadline.isTimedOut()) {
      // Shutdown ran out of time and aborted the call: hand the job back to the queue at once,
      // without spending an attempt, instead of leaving it locked until the lock expires and
      // another worker's stalled check finds it (15–45 s with the defaults).
      log.warn('shutdown aborted the call: job returned to the queue');
      await job.moveToWait(token);
      throw new WaitingError();
    }
    return handleFailure(error, job, token, attempt, options, log);
  } finally {
    deadline.release();
  }
}

/** The digest a digest job posts (see digests.ts). */
async function resolveDigestOf(data: ActionJobData, options: ActionsWorkerOptions): Promise<ResolvedDigest> {
  if (!options.actions) throw new PermanentActionError('digest_unsupported', 'this worker was started without the actions that render digests');
  return resolveDigest(options.state, options.prefix, options.actions, data);
}

/** Delays a job of a paused integration by one probe interval (plus jitter) without spending an attempt. */
async function delayWhilePaused(
  job: Job<ActionJobData, ActionJobResult>,
  token: string | undefined,
  gate: PauseGate,
  options: ActionsWorkerOptions,
): Promise<never> {
  // The jitter spreads a crowd of waiting jobs over a second instead of one instant.
  const delayMs = gate.waitMs + Math.round((options.random ?? Math.random)() * 1_000);
  options.metrics.actions.inc({ action: job.data.action, outcome: 'paused' });
  await job.moveToDelayed((options.now ?? Date.now)() + delayMs, token);
  throw new DelayedError();
}

async function handleFailure(
  error: unknown,
  job: Job<ActionJobData, ActionJobResult>,
  token: string | undefined,
  attempt: number,
  options: ActionsWorkerOptions,
  log: Logger,
): Promise<never> {
  const { action } = job.data;
  // Our errors carry a code; a stray Node or Redis error may carry one too (ECONNRESET).
  const code = error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : 'unexpected_error';
  const message = error instanceof Error ? error.message : String(error);
  const summary = `${code}: ${message}`;

  if (error instanceof RetryableActionError && error.isRateLimit && error.retryAfterMs !== undefined) {
    // A rate limit (or our own pacing) says when to come back: wait that long without
    // spending an attempt. A little jitter keeps a crowd of delayed jobs from returning at once.
    const delayMs = error.retryAfterMs + Math.round((options.random ?? Math.random)() * 250);
    options.metrics.actions.inc({ action, outcome: 'rate_limited' });
    log.info({ code, delayMs }, 'rate limited: delayed without spending an attempt');
    await job.moveToDelayed((options.now ?? Date.now)() + delayMs, token);
    throw new DelayedError();
  }

  if (error instanceof IntegrationPausedError) {
    // The token was refused: pause the whole integration (every worker sees it in Redis) and put
    // this job back, its attempt unspent. The gate logs; one line per minute, not one per job.
    await pauseGateOf(options).pause(action, error);
    await job.log(`attempt ${attempt} ${new Date((options.now ?? Date.now)()).toISOString()}: ${summary} (integration paused; attempt not counted)`);
    return delayWhilePaused(job, token, pauseGateOf(options), options);
  }

  await job.log(`attempt ${attempt} ${new Date((options.now ?? Date.now)()).toISOString()}: ${summary}`);
  const isLastAttempt = attempt >= (job.opts.attempts ?? 1);
  if (options.failureReporter && (error instanceof PermanentActionError || isLastAttempt)) {
    await reportFailedActionJob(options.failureReporter, job, token, { error: summary, attempts: attempt, nowMs: (options.now ?? Date.now)() });
  }
  if (error instanceof PermanentActionError) {
    options.metrics.actions.inc({ action, outcome: 'failed' });
    log.error({ code, attempt }, `action failed permanently: ${message}`);
    throw new UnrecoverableError(summary);
  }

  options.metrics.actions.inc({ action, outcome: isLastAttempt ? 'failed' : 'retried' });
  log.warn({ code, attempt, attempts: job.opts.attempts }, isLastAttempt ? `action failed after its last attempt: ${message}` : `action failed, will retry: ${message}`);
  throw new ActionAttemptError(summary, error instanceof RetryableActionError ? error.retryAfterMs : undefined);
}

/** See the `failed` listener in {@link startActionsWorker}. Never throws: it runs in an event listener. */
async function reportStalledJobFailure(job: Job<ActionJobData, ActionJobResult>, error: Error, options: ActionsWorkerOptions): Promise<void> {
  const { action, provenance } = job.data;
  const summary = `stalled: ${error.message} (the workers holding it stopped before it finished)`;
  options.metrics.actions.inc({ action, outcome: 'failed' });
  options.logger.error({ jobId: job.id, eventId: provenance.eventId, ruleId: provenance.ruleId, action, code: 'stalled' }, `action failed: ${summary}`);
  if (!options.failureReporter) return;
  try {
    await options.failureReporter.report(describeActionJobFailure(job, { error: summary, attempts: job.attemptsMade, nowMs: (options.now ?? Date.now)() }));
  } catch (reportError) {
    // The job is already a dead letter, so nothing can hold it back until the report is stored (as
    // reportFailedActionJob does): the reporter logged and counted it, and `actions failed` lists it.
    options.logger.error({ jobId: job.id, err: { message: reportError instanceof Error ? reportError.message : String(reportError) } }, 'a stalled job\'s failure could not be reported as bridge.action.failed: it stays in actions failed');
  }
}

/**
 * Starts the actions worker. The caller closes it (closing also stops its pause probe timer).
 * While an integration is paused, a timer probes it every `pauseProbeIntervalMs` (across all
 * workers), so the pause ends by itself once the token works, even with no job waiting.
 */
export function startActionsWorker(options: ActionsWorkerOptions): Worker<ActionJobData, ActionJobResult> {
  const gate = pauseGateOf(options);
  const withGate: ActionsWorkerOptions = { ...options, pauseGate: gate };
  const worker = new Worker<ActionJobData, ActionJobResult>(
    ACTIONS_QUEUE,
    // Three parameters: BullMQ passes an abort signal only to processors that declare it, and
    // `worker.cancelAllJobs()` at a shutdown deadline aborts it.
    (job, token, signal) => processActionJob(job, token, withGate, signal),
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? DEFAULT_ACTIONS_CONCURRENCY,
      lockDuration: lockDurationFor(options.actionTimeoutMs),
      // A live worker renews its locks every lockDuration / 2; a dead worker's jobs come back
      // after their lock expires and the next stalled check: 15–45 s with the defaults.
      stalledInterval: STALLED_CHECK_INTERVAL_MS,
      // Completed jobs are kept as long as their completion records; failed ones are the
      // dead-letter list and stay until retried or FAILED_JOBS_TTL old (30 days by default).
      ...jobRetention('actions', { completedMs: options.completionTtlMs, failedMs: options.failedJobsTtlMs, completedActionsKept: options.completedJobsKept }),
      settings: {
        backoffStrategy: createActionBackoffStrategy(
          options.retryPolicy,
          (error) => (error instanceof ActionAttemptError ? error.retryAfterMs : undefined),
          options.random,
        ),
      },
    },
  );
  // Redis being unreachable is logged once per outage by RedisHealth (src/infra/redis-health.ts), not per retry.
  worker.on('error', (error) => {
    if (!isRedisConnectionError(error)) options.logger.error({ err: error }, 'actions worker error');
  });
  // The one failure no processor code sees: a job whose workers died holding it more than BullMQ
  // allows. BullMQ's stalled check marks it (a deferred failure, `defa`) and puts it back; the next
  // worker to fetch it fails it at once, without calling the processor, and emits `failed`. It is
  // counted, logged and reported here like every other failure for good.
  worker.on('failed', (job, error) => {
    if (!job?.deferredFailure) return;
    void reportStalledJobFailure(job, error, withGate);
  });
  const probeTimer = setInterval(() => {
    gate.probeAll().catch((error: unknown) => options.logger.debug({ err: { message: String(error) } }, 'pause probe could not run'));
  }, gate.probeIntervalMs);
  probeTimer.unref();
  worker.on('closing', () => clearInterval(probeTimer));
  return worker;
}
