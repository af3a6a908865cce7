import type { RuleProblem } from '../rules/problems.js';
import { readRuleProblems } from './rule-problems.js';
import { readReconcileStatus, type ReconcileStatus } from '../reconcile/ledger.js';
import { readPauses, type IntegrationPause } from '../actions/pause.js';
import { Queue, type Job, type JobType } from 'bullmq';
import { NotFoundError, StateConflictError } from '../errors.js';
import type { RedisConnection } from '../infra/redis.js';
import type { ActionJobData, ActionJobResult } from './action-job.js';
import { eventsOfJob, isDeliveryBatch, type EventsQueueJobData } from './event-intake.js';
import { FAILED_JOBS_KEPT_SECONDS, RETRY_WITH_FRESH_ATTEMPTS, buildEventJobOptions } from '../delivery/delivery-policy.js';
import { ACTIONS_QUEUE, EVENTS_QUEUE, EVENT_JOB_NAME, bridgeKeys, buildReplayJobId } from './names.js';
import { listPlanFailures, readPlanFailure } from './plan-failures.js';
import { readEventTrace, type EventTrace } from './trace.js';
import { readRecentEventSummaries, searchRecentEvents, type CompiledEventSearch, type EventSearchResult, type EventSummary } from './event-search.js';

/** Why an event id finds nothing: the one sentence the CLI, the API and the page all show. */
export function describeMissingEvent(eventId: string): string {
  return `No stored event ${eventId} (unknown id, not processed yet, or older than DEDUP_TTL)`;
}

/**
 * What `actions retry` answers for an action that could not be planned: retrying cannot help, the
 * rule must change first.
 */
export function describeUnretryablePlanFailure(id: string, eventId: string, error: string): string {
  return `Action ${id} could not be planned (${error}): retrying it cannot succeed as is. Fix the rule, then run: affiliate-bridge events replay ${eventId}`;
}

/** The status of a job that completed as a dry-run: its integration had no credentials, so nothing was sent. */
export const DRY_RUN_STATUS = 'dry-run';

/**
 * An action job's status as operators read it: its BullMQ state, except that a job that completed
 * as a dry-run (the actions worker's result `outcome: 'dry_run'`) is {@link DRY_RUN_STATUS}, not
 * `completed`: nothing reached Slack or HubSpot.
 */
export function describeActionStatus(state: string, result: Pick<ActionJobResult, 'outcome'> | null): string {
  return state === 'completed' && result?.outcome === 'dry_run' ? DRY_RUN_STATUS : state;
}

/** What `events trace` answers when a bare provider id matches events of several sources. */
export function describeAmbiguousProviderId(providerId: string, eventIds: readonly string[]): string[] {
  return [
    `Provider id ${providerId} matches ${eventIds.length} stored events:`,
    ...eventIds.map((id) => `  ${id}`),
    'Name one: affiliate-bridge events trace <event id>',
  ];
}

/** One entry of the dead-letter list. */
export interface FailedAction {
  /** `action`: a job that failed; `plan`: an action that could not be planned (no job; fixed by a replay). */
  readonly kind: 'action' | 'plan';
  /** The action job's id; for a plan failure, the id the job would have had. */
  readonly jobId: string;
  readonly action: string;
  readonly ruleId: string;
  readonly eventId: string;
  readonly error: string;
  readonly attemptsMade: number;
  readonly failedAt: string | null;
  readonly params: Record<string, unknown>;
  /** One line per failed attempt: when and why. */
  readonly history: string[];
}

/** An event job that used all its attempts (`events failed`). */
export interface FailedEvent {
  readonly jobId: string;
  readonly eventId: string;
  readonly type: string;
  /** 0: the first delivery; else the replay it was. */
  readonly replayGeneration: number;
  readonly error: string;
  readonly attemptsMade: number;
  readonly failedAt: string | null;
}

/** One action of an event, as the trace shows it. */
export interface ActionStatus {
  /** `plan`: a job queued by older versions for an action that could not be planned (it never runs); else `action`. */
  readonly kind: 'action' | 'plan';
  readonly jobId: string;
  readonly action: string;
  readonly ruleId: string;
  /** The job's BullMQ state (`completed`, `failed`, `delayed`…, or `removed`). */
  readonly state: string;
  /** What an operator reads: the state, except `dry-run` for a job that completed without sending (see {@link describeActionStatus}). */
  readonly status: string;
  readonly params: Record<string, unknown>;
  readonly attemptsMade: number;
  readonly error: string | null;
  readonly result: ActionJobResult | null;
  readonly history: string[];
}

export interface QuarantinedEvent {
  readonly eventId: string;
  readonly type: string;
  readonly receivedAt: string;
  readonly validationErrors: readonly string[];
}

/** A rule that failed on real events: how often, and the latest error with its event. */
export interface RuleErrorSummary {
  readonly ruleId: string;
  readonly count: number;
  readonly latest: { readonly error: string; readonly eventId: string; readonly at: string } | null;
}

/**
 * What operators do by hand, shared by the command line and the dashboard: the dead-letter list,
 * retries, replays, the quarantine list and event traces.
 */
export class BridgeOperations {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #events: Queue<EventsQueueJobData>;
  readonly #actions: Queue<ActionJobData, ActionJobResult>;

  constructor(redis: RedisConnection, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#events = new Queue<EventsQueueJobData>(EVENTS_QUEUE, { connection: redis, prefix });
    this.#actions = new Queue<ActionJobData, ActionJobResult>(ACTIONS_QUEUE, { connection: redis, prefix });
    // A queue re-emits its connection's errors, which the connection's owner reports; without a
    // listener BullMQ prints every one of them (one stack trace per queue per retry).
    for (const queue of [this.#events, this.#actions]) queue.on('error', () => undefined);
  }

  /** Each integration's pause (null: running), as the actions workers recorded it. */
  async getIntegrationPauses(integrations: readonly string[]): Promise<Map<string, IntegrationPause | null>> {
    return readPauses(this.#redis, this.#prefix, integrations);
  }

  /** When each of `sources` was last reconciled successfully (null: never). */
  getReconcileStatus(sources: readonly string[]): Promise<ReconcileStatus[]> {
    return readReconcileStatus(this.#redis, this.#prefix, sources);
  }

  /** The dead-letter list, newest first: failed action jobs and actions that could not be planned. */
  async listFailedActions(limit = 100): Promise<FailedAction[]> {
    const [jobs, planFailures] = await Promise.all([this.#actions.getFailed(0, limit - 1), listPlanFailures(this.#redis, this.#prefix, limit)]);
    const failedJobs = await Promise.all(
      jobs.map(async (job): Promise<FailedAction> => ({
        kind: isLegacyPlanFailure(job) ? 'plan' : 'action',
        jobId: job.id!,
        action: job.data.action,
        ruleId: job.data.provenance.ruleId,
        eventId: job.data.provenance.eventId,
        error: job.failedReason,
        attemptsMade: job.attemptsMade,
        failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
        params: job.data.params,
        history: (await this.#actions.getJobLogs(job.id!)).logs,
      })),
    );
    const unplanned = planFailures.map((failure): FailedAction => ({
      kind: 'plan',
      jobId: failure.id,
      action: failure.action,
      ruleId: failure.ruleId,
      eventId: failure.eventId,
      error: `plan_error: ${failure.error}`,
      // Planned once, failed once: like the action job it replaces, it was never retried.
      attemptsMade: 1,
      failedAt: failure.failedAt,
      params: {},
      history: [`plan ${failure.failedAt}: plan_error: ${failure.error}`],
    }));
    return [...failedJobs, ...unplanned]
      .sort((a, b) => (b.failedAt ?? '').localeCompare(a.failedAt ?? ''))
      .slice(0, limit);
  }

  /**
   * Sends a failed action again, with a full set of attempts.
   * @throws NotFoundError when the job does not exist; StateConflictError when it has not failed,
   * or when it could not be planned (only a rule fix and `events replay` help then).
   */
  async retryAction(jobId: string): Promise<void> {
    const job = await this.#actions.getJob(jobId);
    if (!job) {
      const planFailure = await readPlanFailure(this.#redis, this.#prefix, jobId);
      if (planFailure) {
        throw new StateConflictError('plan_failure_not_retryable', describeUnretryablePlanFailure(jobId, planFailure.eventId, planFailure.error));
      }
      throw new NotFoundError('job_not_found', `No action job ${jobId}`);
    }
    if (isLegacyPlanFailure(job)) {
      throw new StateConflictError('plan_failure_not_retryable', describeUnretryablePlanFailure(jobId, job.data.provenance.eventId, legacyPlanError(job)));
    }
    const state = await job.getState();
    if (state !== 'failed') {
      throw new StateConflictError('job_not_failed', `Action job ${jobId} is ${state}, not failed: only failed actions can be retried`);
    }
    await job.retry('failed', RETRY_WITH_FRESH_ATTEMPTS);
  }

  /**
   * Retries each action job that is failed now, once; returns how many. Plan failures stay listed:
   * they need a replay.
   *
   * The ids are read once, first: a job that fails again at once re-enters the failed list, and
   * paging that list until it is empty would retry it for ever.
   */
  async retryAllFailedActions(): Promise<number> {
    return retryFailedSnapshot(this.#actions as Queue, (job) => !isLegacyPlanFailure(job as Job<ActionJobData, ActionJobResult>));
  }

  /**
   * Event jobs that used all their attempts, newest first: one entry per event, so a job of
   * deliveries stored together lists each of its events (with the job's id: a retry runs them all).
   */
  async listFailedEvents(limit = 100): Promise<FailedEvent[]> {
    const jobs = await this.#events.getFailed(0, limit - 1);
    return jobs.flatMap((job) =>
      eventsOfJob(job.data).map((event) => ({
        jobId: job.id!,
        eventId: event.id,
        type: event.type,
        replayGeneration: isDeliveryBatch(job.data) ? 0 : (job.data.replayGeneration ?? 0),
        error: job.failedReason,
        attemptsMade: job.attemptsMade,
        failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
      })),
    );
  }

  /**
   * Plans a failed event job again, with a full set of attempts.
   * @throws NotFoundError when the job does not exist; StateConflictError when it has not failed.
   */
  async retryEvent(jobId: string): Promise<void> {
    const job = await this.#events.getJob(jobId);
    if (!job) throw new NotFoundError('job_not_found', `No event job ${jobId}`);
    const state = await job.getState();
    if (state !== 'failed') {
      throw new StateConflictError('job_not_failed', `Event job ${jobId} is ${state}, not failed: only failed event jobs can be retried`);
    }
    await job.retry('failed', RETRY_WITH_FRESH_ATTEMPTS);
  }

  /** Retries each event job that is failed now, once (a snapshot of ids, as for actions); returns how many. */
  async retryAllFailedEvents(): Promise<number> {
    return retryFailedSnapshot(this.#events as Queue, () => true);
  }

  /** The ids of the conflicting duplicates stored for `eventId` (same id, another body), oldest first. */
  async listConflictingDuplicates(eventId: string): Promise<string[]> {
    return this.#redis.zrange(bridgeKeys(this.#prefix).conflicts(eventId), 0, -1);
  }

  /** The rule files' problems of the workers' last (re)load (see rule-problems.ts); empty while they load. */
  async listRuleProblems(): Promise<RuleProblem[]> {
    return readRuleProblems(this.#redis, this.#prefix);
  }

  async getEventTrace(eventId: string): Promise<EventTrace | null> {
    return readEventTrace(this.#redis, this.#prefix, eventId);
  }

  /**
   * The stored events whose provider id is `providerId`, as the provider shows it (`22736304` for
   * `firstpromoter-22736304`): one exact lookup per source of `sources`, in one round trip. A
   * reconciled event's provider id (`reconciled.referral.2429153.converted`) is found the same way.
   * @returns their event ids, in the order of `sources`; empty when none is stored.
   */
  async findEventIdsByProviderId(providerId: string, sources: readonly string[]): Promise<string[]> {
    const candidates = sources.map((source) => `${source}-${providerId}`);
    const keys = bridgeKeys(this.#prefix);
    const pipeline = this.#redis.pipeline();
    for (const candidate of candidates) pipeline.exists(keys.trace(candidate));
    const answers = (await pipeline.exec()) ?? [];
    return candidates.filter((_candidate, i) => {
      const [error, found] = answers[i] ?? [null, 0];
      if (error) throw error;
      return found === 1;
    });
  }

  /** Every action job the event's runs planned, with its current state; a digest that carried one of its actions too. */
  async getActionStatuses(trace: EventTrace): Promise<ActionStatus[]> {
    const jobIds = trace.runs.flatMap((run) => [...run.actionJobIds, ...(run.grouped ?? []).map((entry) => entry.digest)]);
    return Promise.all(
      jobIds.map(async (jobId) => {
        const job = await this.#actions.getJob(jobId);
        if (!job) {
          return { kind: 'action' as const, jobId, action: '?', ruleId: '?', state: 'removed', status: 'removed', params: {}, attemptsMade: 0, error: null, result: null, history: [] };
        }
        const state = await job.getState();
        const result = job.returnvalue ?? null;
        return {
          kind: isLegacyPlanFailure(job) ? ('plan' as const) : ('action' as const),
          jobId,
          action: job.data.action,
          ruleId: job.data.provenance.ruleId,
          state,
          status: describeActionStatus(state, result),
          params: job.data.params,
          attemptsMade: job.attemptsMade,
          error: job.failedReason ?? null,
          result,
          history: (await this.#actions.getJobLogs(jobId)).logs,
        };
      }),
    );
  }

  /**
   * Plans and runs a stored event again with the current rules, quarantined or not. Its actions
   * get new job ids (a new generation), so they are sent again even if they succeeded before.
   * @returns the replay's generation number.
   * @throws NotFoundError when no trace of the event is kept (unknown id, or older than DEDUP_TTL).
   */
  async replayEvent(eventId: string): Promise<number> {
    const trace = await this.getEventTrace(eventId);
    if (!trace) throw new NotFoundError('event_not_found', describeMissingEvent(eventId));
    const counter = bridgeKeys(this.#prefix).replayGeneration(eventId);
    // Until the replay's run renews it with the trace, the counter lives as long as a failed replay
    // job would be listed: never unbounded, never shorter than the job that uses its number.
    const [[incrError, generation]] = (await this.#redis.multi().incr(counter).pexpire(counter, FAILED_JOBS_KEPT_SECONDS * 1000).exec())!;
    if (incrError) throw incrError;
    await this.#events.add(EVENT_JOB_NAME, { event: trace.event, replayGeneration: generation as number }, buildEventJobOptions(buildReplayJobId(eventId, generation as number)));
    return generation as number;
  }

  async listQuarantinedEvents(limit = 100): Promise<QuarantinedEvent[]> {
    const ids = await this.#redis.zrevrange(bridgeKeys(this.#prefix).quarantined, 0, limit - 1);
    const traces = await Promise.all(ids.map((id) => this.getEventTrace(id)));
    return traces
      .filter((trace): trace is EventTrace => trace !== null)
      .map(({ event }) => ({
        eventId: event.id,
        type: event.type,
        receivedAt: event.receivedAt,
        validationErrors: event.validationErrors ?? [],
      }));
  }

  /** Rules whose condition or actions failed on real events, most errors first (see bridge_rule_errors_total). */
  async listRuleErrors(limit = 100): Promise<RuleErrorSummary[]> {
    const keys = bridgeKeys(this.#prefix);
    const [counts, latest] = await Promise.all([this.#redis.hgetall(keys.ruleErrorCounts), this.#redis.hgetall(keys.ruleErrorLatest)]);
    return Object.entries(counts)
      .map(([ruleId, count]) => ({ ruleId, count: Number(count), latest: parseLatestRuleError(latest[ruleId]) }))
      .sort((a, b) => b.count - a.count || (a.ruleId < b.ruleId ? -1 : 1))
      .slice(0, limit);
  }

  /** The most recent event ids, newest first. */
  async listRecentEventIds(limit = 50): Promise<string[]> {
    return this.#redis.zrevrange(bridgeKeys(this.#prefix).recentEvents, 0, limit - 1);
  }

  /** The newest events, newest first, each summarized from its trace (matched rules, lead, promoter). */
  async listRecentEvents(limit = 50): Promise<EventSummary[]> {
    return readRecentEventSummaries(this.#redis, this.#prefix, 0, limit);
  }

  /**
   * The newest events that match `search`, newest first: reads the recent-events index (the newest
   * 10,000 ids) in pages until `cap` matches (see searchRecentEvents).
   */
  async searchEvents(search: CompiledEventSearch, cap?: number): Promise<EventSearchResult> {
    return searchRecentEvents(this.#redis, this.#prefix, search, cap);
  }

  /**
   * How many events were received since `sinceMs` (ms since the epoch), read from the recent-events
   * index. That index keeps the newest 10,000 ids, so the count saturates there.
   */
  async countRecentEvents(sinceMs: number): Promise<number> {
    return this.#redis.zcount(bridgeKeys(this.#prefix).recentEvents, sinceMs, '+inf');
  }

  /** Jobs per queue and state (`waiting`, `active`, `delayed`, `failed`, `completed` by default). */
  async getQueueCounts(
    states: readonly JobType[] = ['waiting', 'active', 'delayed', 'failed', 'completed'],
  ): Promise<Record<string, Record<string, number>>> {
    return {
      [EVENTS_QUEUE]: await this.#events.getJobCounts(...states),
      [ACTIONS_QUEUE]: await this.#actions.getJobCounts(...states),
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.#events.close(), this.#actions.close()]);
  }
}

/** Failed jobs are read in pages of this many ids. */
const RETRY_PAGE_SIZE = 500;

/**
 * Retries the jobs of `queue` that are failed when it is called, each once, and those `isRetryable`
 * accepts; returns how many. A job that left the failed list meanwhile (retried elsewhere, removed)
 * is skipped.
 */
async function retryFailedSnapshot(queue: Queue, isRetryable: (job: Job) => boolean): Promise<number> {
  const ids = await queue.getRanges(['failed'], 0, -1);
  let retried = 0;
  for (let start = 0; start < ids.length; start += RETRY_PAGE_SIZE) {
    const jobs = await Promise.all(ids.slice(start, start + RETRY_PAGE_SIZE).map((id) => queue.getJob(id)));
    for (const job of jobs) {
      if (!job || !isRetryable(job)) continue;
      try {
        await job.retry('failed', RETRY_WITH_FRESH_ATTEMPTS);
        retried += 1;
      } catch (error) {
        // BullMQ refuses to retry a job no longer in the failed list: someone else got to it first.
        if (!(await job.isFailed().catch(() => false))) continue;
        throw error;
      }
    }
  }
  return retried;
}

/**
 * Jobs enqueued by versions that queued plan failures as action jobs (data `planError`) stay in
 * the failed list for up to 30 days after an upgrade. They must never run: their params are empty.
 */
function isLegacyPlanFailure(job: Job<ActionJobData, ActionJobResult>): boolean {
  return typeof legacyPlanError(job) === 'string';
}

function legacyPlanError(job: Job<ActionJobData, ActionJobResult>): string {
  return (job.data as ActionJobData & { planError?: string }).planError as string;
}

function parseLatestRuleError(text: string | undefined): RuleErrorSummary['latest'] {
  if (text === undefined) return null;
  try {
    const value = JSON.parse(text) as { error?: unknown; eventId?: unknown; at?: unknown };
    return typeof value.error === 'string' && typeof value.eventId === 'string' && typeof value.at === 'string'
      ? { error: value.error, eventId: value.eventId, at: value.at }
      : null;
  } catch {
    return null;
  }
}
