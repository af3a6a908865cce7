import { DelayedError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { BridgeEvent } from '../events/event.js';
import {
  ACTION_FAILED_ERROR_LENGTH,
  ACTION_FAILED_TYPE,
  buildInternalEvent,
  formatActionFailedEventId,
  isInternalEventType,
  type ActionFailedData,
  type ActionFailureStage,
} from '../events/internal-events.js';
import type { BridgeMetrics } from '../observability/metrics.js';
import type { SecretScrubber } from '../sources/scrub-secrets.js';
import type { ActionJobData, ActionJobResult } from './action-job.js';
import type { StoreOutcome } from './event-intake.js';
import type { PlanFailureRecord } from './plan-failures.js';

/*
 * `bridge.action.failed`: the bridge tells rules about its own failures, so one rule can route them
 * to an ops channel (rules/README.md, "When an action fails"). An action failed for good when its
 * job is dead-lettered (a permanent error, or its last attempt failed: stage `run`) or when it could
 * not be planned (stage `plan`). The event goes through the normal intake: stored durably in the
 * events queue, deduplicated by its id, traced, counted and planned like a provider's.
 *
 * Ordering, so that no failure is lost: the report is stored BEFORE the failure is final. The
 * actions worker reports, then throws the error that makes BullMQ dead-letter the job; the events
 * worker reports before its job completes. A crash in between runs the job again, which reports
 * again (at least once). A report that cannot be stored keeps the failure from becoming final: the
 * action job waits (attempt unspent) and runs again; the event job fails and is retried.
 *
 * Dedup: the event id is `bridge-<dead-letter id>.<run stamp>`, the run stamp being when the
 * BullMQ job whose run found the failure started (its `processedOn`). Each failing run reports
 * once, whatever retries the store needed; a dead letter retried with `actions retry` that fails
 * again is a new run, hence a new report. The id alone fixes the body, so a second store is always
 * a plain duplicate.
 *
 * No loops: an action planned from a bridge event (an ops rule posting to a channel that is gone)
 * that fails is not reported as another event: it is logged and counted
 * (`bridge_failure_events_total{outcome="loop_suppressed"}`), and stays in the dead-letter list.
 */

/** One action that failed for good, as the worker that found it knows it. */
export interface ActionFailure {
  readonly stage: ActionFailureStage;
  readonly ruleId: string;
  readonly ruleFile: string;
  readonly action: string;
  /** `code: message`, as the dead-letter list shows it (scrubbed and shortened when the event is built). */
  readonly error: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly attempts: number;
  /** Milliseconds since the epoch. */
  readonly failedAtMs: number;
  /** The action job's id (for `plan`: the id it would have had). */
  readonly jobId: string;
  /** The id the dead-letter list (`actions failed`) shows it under. */
  readonly deadLetterId: string;
  /** When the run that found the failure started (the BullMQ job's `processedOn`): one report per failing run. */
  readonly runStartedAtMs: number;
}

/** How a report ended. */
export type FailureReportOutcome = 'emitted' | 'duplicate' | 'loop_suppressed';

/** The command that sends a dead-lettered action again, or replays the event of one that could not be planned. */
export function describeRetryCommand(stage: ActionFailureStage, deadLetterId: string, eventId: string): string {
  // A plan failure cannot be retried as is (operations.ts, describeUnretryablePlanFailure): the rule is fixed, then the event replayed.
  return stage === 'run' ? `affiliate-bridge actions retry ${deadLetterId}` : `affiliate-bridge events replay ${eventId}`;
}


/**
 * The `bridge.action.failed` event reporting `failure`: pure. The error text is scrubbed of every
 * configured secret (the same scrubber the intake applies to payloads) and shortened.
 */
export function buildActionFailedEvent(failure: ActionFailure, options: { readonly receivedAtMs: number; readonly secretScrubber?: SecretScrubber | null }): BridgeEvent {
  const scrubbed = options.secretScrubber ? options.secretScrubber.scrub(failure.error) : failure.error;
  const error = scrubbed.length > ACTION_FAILED_ERROR_LENGTH ? `${scrubbed.slice(0, ACTION_FAILED_ERROR_LENGTH - 1)}…` : scrubbed;
  const failedAt = new Date(failure.failedAtMs).toISOString();
  const data = {
    stage: failure.stage,
    rule_id: failure.ruleId,
    rule_file: failure.ruleFile,
    action: failure.action,
    error,
    event_id: failure.eventId,
    event_type: failure.eventType,
    source: failure.eventType.slice(0, Math.max(0, failure.eventType.indexOf('.'))),
    attempts: failure.attempts,
    failed_at: failedAt,
    job_id: failure.jobId,
    dead_letter_id: failure.deadLetterId,
    retry_command: describeRetryCommand(failure.stage, failure.deadLetterId, failure.eventId),
  } satisfies ActionFailedData;
  return buildInternalEvent(ACTION_FAILED_TYPE, data, { id: formatActionFailedEventId(failure.deadLetterId, failure.runStartedAtMs), receivedAtMs: options.receivedAtMs });
}

export interface FailureReporterOptions {
  /** Where reports are stored: the events queue's intake, the one webhooks and reconciliation use. */
  readonly intake: { store(event: BridgeEvent): Promise<StoreOutcome> };
  /**
   * Replaces every configured secret in the error text (sources' and integrations' secrets).
   * @defaultValue none: errors are stored as the dead-letter list shows them
   */
  readonly secretScrubber?: SecretScrubber | null;
  /** Where each report is logged (info), one that could not be stored (warn), and one suppressed by the loop guard (error). */
  readonly logger: Logger;
  /** Where `bridge_failure_events_total` is counted. */
  readonly metrics: BridgeMetrics;
  /** Milliseconds since the epoch. @defaultValue Date.now */
  readonly now?: () => number;
}

/** Stores `bridge.action.failed` events through the intake; shared by the actions and events workers. */
export class FailureReporter {
  readonly #options: FailureReporterOptions;

  constructor(options: FailureReporterOptions) {
    if (!options.intake) throw new TypeError('FailureReporter needs an intake');
    this.#options = options;
  }

  /**
   * Stores the report of `failure`, unless its action was planned from a bridge event (no loops).
   * @throws StorageUnavailableError (the intake's) when it could not be stored: the caller keeps
   * the failure from becoming final, so it is reported again.
   */
  async report(failure: ActionFailure): Promise<FailureReportOutcome> {
    const { metrics, logger } = this.#options;
    const context = { stage: failure.stage, ruleId: failure.ruleId, action: failure.action, eventId: failure.eventId, deadLetterId: failure.deadLetterId };
    if (isInternalEventType(failure.eventType)) {
      metrics.failureEvents.inc({ stage: failure.stage, outcome: 'loop_suppressed' });
      logger.error(context, `an action of a ${failure.eventType} event failed: not reported as ${ACTION_FAILED_TYPE} again, so a failing ops rule cannot loop; see actions failed`);
      return 'loop_suppressed';
    }
    const event = buildActionFailedEvent(failure, { receivedAtMs: (this.#options.now ?? Date.now)(), secretScrubber: this.#options.secretScrubber });
    let stored: StoreOutcome;
    try {
      stored = await this.#options.intake.store(event);
    } catch (error) {
      metrics.failureEvents.inc({ stage: failure.stage, outcome: 'unavailable' });
      logger.warn({ ...context, err: { message: error instanceof Error ? error.message : String(error) } }, `${ACTION_FAILED_TYPE} could not be stored: reported again when the job runs again`);
      throw error;
    }
    // The id fixes the body (see above): any second store is a plain duplicate.
    const outcome: FailureReportOutcome = stored === 'stored' ? 'emitted' : 'duplicate';
    metrics.failureEvents.inc({ stage: failure.stage, outcome });
    logger.info({ ...context, reportId: event.id, outcome }, `${ACTION_FAILED_TYPE} stored`);
    return outcome;
  }
}

/** How long an action job whose failure could not be reported waits before it runs (and reports) again. */
export const UNREPORTED_FAILURE_DELAY_MS = 5_000;

/**
 * The actions worker's hook, called when a job has failed for good and before BullMQ is told so.
 * When the report cannot be stored, the job is not allowed to become a silent dead letter: it is
 * delayed, its attempt unspent, and runs again (a permanent error fails again and reports then).
 * @throws DelayedError in that case, which the processor lets through to BullMQ.
 */
export async function reportFailedActionJob(
  reporter: FailureReporter,
  job: Job<ActionJobData, ActionJobResult>,
  token: string | undefined,
  failure: { readonly error: string; readonly attempts: number; readonly nowMs: number },
): Promise<void> {
  try {
    await reporter.report(describeActionJobFailure(job, failure));
  } catch {
    // Logged and counted by the reporter.
    await job.moveToDelayed(failure.nowMs + UNREPORTED_FAILURE_DELAY_MS, token);
    throw new DelayedError();
  }
}

/**
 * The report of an action job's failure for good: what `bridge.action.failed` carries. Also for a
 * job BullMQ itself failed without the processor (the stalled check's deferred failure), which the
 * actions worker's `failed` listener reports.
 */
export function describeActionJobFailure(
  job: Job<ActionJobData, ActionJobResult>,
  failure: { readonly error: string; readonly attempts: number; readonly nowMs: number },
): ActionFailure {
  const { provenance } = job.data;
  return {
    stage: 'run',
    ruleId: provenance.ruleId,
    ruleFile: provenance.ruleFile,
    action: job.data.action,
    error: failure.error,
    eventId: provenance.eventId,
    eventType: job.data.eventType,
    attempts: failure.attempts,
    failedAtMs: failure.nowMs,
    jobId: job.id!,
    deadLetterId: job.id!,
    runStartedAtMs: job.processedOn ?? failure.nowMs,
  };
}

/**
 * The events worker's hook: reports each action of `event` that could not be planned, before the
 * event job completes (a failure to store fails the job, and its retry reports again).
 */
export async function reportPlanFailures(
  reporter: FailureReporter,
  failures: readonly PlanFailureRecord[],
  runStartedAtMs: number,
): Promise<void> {
  for (const failure of failures) {
    await reporter.report({
      stage: 'plan',
      ruleId: failure.ruleId,
      ruleFile: failure.ruleFile,
      action: failure.action,
      // As the dead-letter list shows it (operations.ts).
      error: `plan_error: ${failure.error}`,
      eventId: failure.eventId,
      eventType: failure.eventType,
      attempts: 0,
      failedAtMs: Date.parse(failure.failedAt),
      jobId: failure.id,
      deadLetterId: failure.id,
      runStartedAtMs,
    });
  }
}
