import { Worker, type Job, type Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import type { RedisConnection } from '../infra/redis.js';
import type { Logger } from 'pino';
import type { BridgeEvent } from '../events/event.js';
import type { BridgeMetrics } from '../observability/metrics.js';
import { isPlannedDespiteHolder, type LedgerClaim } from '../reconcile/ledger.js';
import type { Plan, PlannedAction } from '../rules/plan.js';
import { applySchemaCheck, recheckForReplay } from '../sources/check-event.js';
import { labelEventType } from '../sources/registry.js';
import type { ActionJobData } from './action-job.js';
import {
  DEFAULT_EVENTS_CONCURRENCY,
  STALLED_CHECK_INTERVAL_MS,
  EVENT_RETRY_POLICY,
  buildActionJobOptions,
  buildEventJobOptions,
  jobRetention,
  planUnlessQuarantined,
  resolveActionRetry,
  type RetryPolicy,
} from '../delivery/delivery-policy.js';
import { claimActions } from './action-claims.js';
import { addToDigests } from './digests.js';
import { eventsOfJob, isDeliveryBatch, type DeliveryBatchJobData, type EventJobData, type EventsQueueJobData } from './event-intake.js';
import { reportPlanFailures, type FailureReporter } from './failure-events.js';
import { EVENT_JOB_NAME, EVENTS_QUEUE, bridgeKeys, buildActionJobId } from './names.js';
import { queuePlanFailureWrites, type PlanFailureRecord } from './plan-failures.js';
import { appendTraceRun, type TraceRun, type TraceSuppressed } from './trace.js';
import { isRedisConnectionError } from '../infra/redis-health.js';

/** Plans an event against the live rules; pure. Whether it is planned at all is the delivery policy's call. */
export type EventPlanner = (event: BridgeEvent) => Plan;

export interface EventsWorkerOptions {
  /** The worker's own BullMQ connection (role `worker`: blocking commands, no retry limit). */
  readonly connection: RedisConnection;
  /** A connection for the bridge's own keys (traces, quarantine list, plan failures). */
  readonly state: RedisConnection;
  /** The BullMQ prefix (QUEUE_PREFIX), also of the bridge's own keys. */
  readonly prefix: string;
  /** Where the planned action jobs are added (on an auto-pipelining connection, as every role's is). */
  readonly actionsQueue: Queue<ActionJobData>;
  /** Plans an event against the live rules (in the bridge: the rule store's current set). */
  readonly plan: EventPlanner;
  /**
   * The payload's schema check (sources' `checkSchema`), run here rather than at intake because
   * it is the costly part of validation; an event that fails it is quarantined, not planned.
   */
  readonly checkSchema: (event: BridgeEvent) => string[];
  /** The running retry policy: each action job's attempts and backoff base, unless its rule overrides them. */
  readonly retryPolicy: RetryPolicy;
  /** How long traces and plan failures are kept, in ms (the dedup window); also how long a `once_per` key is held when its rule sets no window. */
  readonly traceTtlMs: number;
  /** Where each event's plan, quarantine, template warnings and plan failures are logged. */
  readonly logger: Logger;
  /**
   * Where `bridge_events_total`, `bridge_rule_matches_total`, plan failures
   * (`bridge_actions_total{outcome="failed"}`), throttle suppressions (`outcome="suppressed"`) and
   * actions added to a digest (`outcome="grouped"`) are counted.
   */
  readonly metrics: BridgeMetrics;
  /**
   * Records the provider object's milestone an event announces in the entity ledger, and says which
   * event announced it first (null for an event that announces none). An event whose milestone
   * another event holds may be left unplanned (see `isPlannedDespiteHolder`): a webhook and the
   * reconciled event that recovered it run once between them.
   * @defaultValue none: no ledger, every event is planned
   */
  readonly recordMilestone?: (event: BridgeEvent) => Promise<LedgerClaim | null>;
  /** Milliseconds since the epoch. @defaultValue Date.now */
  readonly now?: () => number;
  /**
   * The `type` label an event is counted under: the type when a source declares it, else `unknown`
   * (types come from payloads; labels must stay bounded).
   * @defaultValue labelEventType over the shipped sources
   */
  readonly labelEventType?: (type: string) => string;
  /** @defaultValue DEFAULT_EVENTS_CONCURRENCY (20) */
  readonly concurrency?: number;
  /**
   * Reports each action that could not be planned as a `bridge.action.failed` event before the
   * event job completes (queue/failure-events.ts).
   * @defaultValue none: plan failures are only recorded, logged and counted
   */
  readonly failureReporter?: FailureReporter;
  /** How long a failed event job stays in `events failed`, in ms (FAILED_JOBS_TTL). @defaultValue FAILED_JOBS_KEPT_SECONDS (30 days) */
  readonly failedJobsTtlMs?: number;
  /**
   * Where an event of a job of deliveries that failed is added as its own event job, so it is
   * retried alone and the others are done.
   * @defaultValue none: the whole job of deliveries fails and is run again (re-planning an event is safe)
   */
  readonly eventsQueue?: Queue<EventsQueueJobData>;
  /** Attempts and backoff of an event job split off a job of deliveries. @defaultValue EVENT_RETRY_POLICY */
  readonly eventRetryPolicy?: RetryPolicy;
}

/** What processing reads of a BullMQ job: its id, data and start time. */
type JobView<T> = Pick<Job<T>, 'id' | 'data' | 'processedOn'>;

/** What planning one event reads of its job: a job of its own, or one delivery of a job of deliveries. */
export type EventJobInput = JobView<EventJobData>;

/**
 * Turns one stored event into action jobs. Re-running it (a stalled job, a crash before the ack)
 * enqueues the same deterministic job ids, which BullMQ ignores, so no action is duplicated.
 * Actions that cannot be planned fail here: recorded in the trace and the dead-letter list, never
 * enqueued. An action with `once_per` is enqueued only when this event holds its key; otherwise it
 * is recorded in the trace as suppressed, with the event that holds the key. A replay ignores
 * `once_per` (the operator asked for the event to run again) and neither claims nor suppresses.
 */
export async function processEventJob(job: EventJobInput, options: EventsWorkerOptions): Promise<TraceRun> {
  const { replayGeneration = 0 } = job.data;
  const now = options.now ?? Date.now;
  const keys = bridgeKeys(options.prefix);
  const isReplay = replayGeneration > 0;
  // A replay checks a schema-quarantined payload again (a fixed schema makes it valid), and plans
  // the event even when it is still invalid: the operator asked for it, schema problems and all.
  const event = (isReplay ? recheckForReplay : applySchemaCheck)({ checkSchema: options.checkSchema }, job.data.event);
  const log = options.logger.child({ eventId: event.id, eventType: event.type, jobId: job.id });
  // A replay is the operator's explicit request: it never consults the ledger.
  const claim = isReplay || !options.recordMilestone ? null : await options.recordMilestone(event);
  const duplicateOf = claim !== null && !isPlannedDespiteHolder(event, claim) ? claim.heldBy.eventId : undefined;
  const { isQuarantined, plan } = planUnlessQuarantined(
    event,
    isReplay ? 'replay' : 'first',
    duplicateOf === undefined ? options.plan : () => ({ matched: [], unmatched: [], actions: [], failures: [], warnings: [] }),
  );

  // Claim before enqueueing: a crash in between leaves the claim held by this event, and the
  // re-run finds it its own and enqueues the same job ids.
  const { toEnqueue, suppressed } = isReplay
    ? { toEnqueue: plan.actions, suppressed: [] }
    : await applyOncePer(plan.actions, event.id, options);
  // Grouped actions (Slack's `group:`) join their digest instead; the digest is its own job.
  const jobs = toEnqueue.filter((planned) => planned.group === undefined).map((planned) => buildActionJob(event, planned, replayGeneration, options.retryPolicy));
  // One add per job rather than addBulk: each add is a script call on the queue's auto-pipelining
  // connection, so the adds of the events planned in the same turn (a job of deliveries) share one
  // socket write, where each event's addBulk pipeline was a write of its own. Neither is atomic.
  if (jobs.length > 0) await Promise.all(jobs.map((job) => options.actionsQueue.add(job.name, job.data, job.opts)));
  const toGroup = toEnqueue.filter((planned) => planned.group !== undefined);
  const grouped =
    toGroup.length === 0
      ? []
      : await addToDigests(event, toGroup, replayGeneration, {
          state: options.state,
          prefix: options.prefix,
          actionsQueue: options.actionsQueue,
          ttlMs: options.traceTtlMs,
          nowMs: now(),
          buildJob: (planned) => buildActionJob(event, planned, replayGeneration, options.retryPolicy),
        });

  const nowMs = now();
  const at = new Date(nowMs).toISOString();
  const failures: PlanFailureRecord[] = plan.failures.map((failure) => ({
    id: buildActionJobId(event.id, failure.provenance.ruleId, failure.provenance.actionIndex, replayGeneration),
    action: failure.action,
    ruleId: failure.ruleId,
    ruleFile: failure.file,
    eventId: event.id,
    eventType: event.type,
    generation: replayGeneration,
    error: failure.error,
    failedAt: at,
  }));
  const run: TraceRun = {
    at,
    generation: replayGeneration,
    quarantined: event.status === 'quarantined',
    matched: plan.matched.map(({ ruleId, file }) => ({ ruleId, file })),
    unmatched: plan.unmatched,
    failures: failures.map(({ ruleId, action, error, id }) => ({ ruleId, action, error, id })),
    warnings: plan.warnings,
    actionJobIds: jobs.map((j) => j.opts.jobId),
    suppressed,
    ...(duplicateOf === undefined ? {} : { duplicateOf }),
    ...(grouped.length > 0 ? { grouped } : {}),
  };
  const receivedAtMs = Date.parse(event.receivedAt) || nowMs;
  const { isRerun } = await appendTraceRun(event, run, {
    state: options.state,
    prefix: options.prefix,
    ttlMs: options.traceTtlMs,
    receivedAtMs,
    extra: (multi, earlierRuns) => {
      // Listed while quarantined: a first delivery that was, and a replay of an event still invalid
      // (planned anyway, at the operator's request); a replay that found it valid takes it off.
      if (event.status === 'quarantined') queueQuarantineWrites(multi, options.prefix, event.id, { receivedAtMs, nowMs, ttlMs: options.traceTtlMs });
      else if (isReplay) multi.zrem(keys.quarantined, event.id);
      queueRuleErrorWrites(multi, keys, ruleErrorsOf(plan), event.id, nowMs);
      if (event.conflict !== undefined) queueConflictWrites(multi, options.prefix, event.conflict.eventId, event.id, { receivedAtMs, nowMs, ttlMs: options.traceTtlMs });
      // The generation counter lives as long as the trace it numbers the runs of.
      if (isReplay) multi.pexpire(keys.replayGeneration(event.id), options.traceTtlMs);
      queuePlanFailureWrites(multi, options.prefix, failures, {
        ttlMs: options.traceTtlMs,
        nowMs,
        supersededIds: isReplay ? earlierRuns.flatMap((earlier) => earlier.failures.flatMap((failure) => (failure.id ? [failure.id] : []))) : [],
      });
    },
  });

  // Reported after the trace names the failures and before the job completes: a crash in between runs the job, and reports, again.
  if (options.failureReporter && failures.length > 0) await reportPlanFailures(options.failureReporter, failures, job.processedOn ?? nowMs);

  options.metrics.events.inc({
    type: (options.labelEventType ?? labelEventType)(event.type),
    outcome: isReplay ? 'replayed' : isQuarantined ? 'quarantined' : duplicateOf !== undefined ? 'duplicate' : 'planned',
  });
  if (duplicateOf !== undefined) {
    log.info({ duplicateOf, origin: event.origin ?? 'webhook' }, 'event not planned: its provider object\'s milestone was already announced by another event');
    return run;
  }
  if (isQuarantined) {
    log.warn({ validationErrors: event.validationErrors }, 'event quarantined: not matched until replayed');
    return run;
  }
  for (const rule of plan.matched) options.metrics.ruleMatches.inc({ rule: rule.ruleId });
  for (const warning of plan.warnings) log.warn({ warning }, 'template warning');
  for (const failure of failures) {
    // Counted once per failure, as an action that failed: a re-run of the same job found it already.
    if (!isRerun) options.metrics.actions.inc({ action: failure.action, outcome: 'failed' });
    log.error({ ruleId: failure.ruleId, action: failure.action, failureId: failure.id, error: failure.error }, 'action could not be planned');
  }
  for (const entry of suppressed) {
    // Counted once, like a plan failure: a re-run of the same job suppresses it again.
    if (!isRerun) options.metrics.actions.inc({ action: entry.action, outcome: 'suppressed' });
    log.info({ ruleId: entry.ruleId, action: entry.action, actionIndex: entry.actionIndex, throttleKey: entry.key, heldBy: entry.heldBy }, 'action suppressed: its throttle key is held by an earlier event');
  }
  for (const entry of grouped) {
    // Counted once per event, as `suppressed` is; the digest itself counts as the action that ran.
    if (!isRerun) options.metrics.actions.inc({ action: entry.action, outcome: 'grouped' });
  }
  for (const rule of plan.unmatched) {
    if (rule.reason === 'condition_error') log.warn({ ruleId: rule.ruleId, error: rule.error }, 'rule condition failed on this event: not matched');
  }
  // Counted once per event, like a plan failure: a re-run of the same job finds the same errors.
  if (!isRerun) for (const { ruleId } of ruleErrorsOf(plan)) options.metrics.ruleErrors.inc({ rule: ruleId });
  log.info(
    { matched: plan.matched.map((m) => m.ruleId), actionJobIds: run.actionJobIds, digests: grouped.map((entry) => entry.digest), generation: replayGeneration },
    'event planned',
  );
  return run;
}

/** The rule errors of a plan: each failed condition and each action that could not be planned. */
function ruleErrorsOf(plan: Plan): { readonly ruleId: string; readonly error: string }[] {
  const errors: { ruleId: string; error: string }[] = [];
  for (const rule of plan.unmatched) if (rule.reason === 'condition_error') errors.push({ ruleId: rule.ruleId, error: `condition: ${rule.error ?? 'failed'}` });
  for (const failure of plan.failures) errors.push({ ruleId: failure.ruleId, error: `${failure.action}: ${failure.error}` });
  return errors;
}

/**
 * Adds the rule errors to the trace's transaction: a count per rule and the latest error with its
 * event. A job run again after a crash before its ack counts its errors again (rare, and an error
 * it is).
 */
function queueRuleErrorWrites(
  multi: ReturnType<RedisConnection['multi']>,
  keys: ReturnType<typeof bridgeKeys>,
  errors: readonly { readonly ruleId: string; readonly error: string }[],
  eventId: string,
  nowMs: number,
): void {
  for (const { ruleId, error } of errors) {
    multi.hincrby(keys.ruleErrorCounts, ruleId, 1);
    multi.hset(keys.ruleErrorLatest, ruleId, JSON.stringify({ error, eventId, at: new Date(nowMs).toISOString() }));
  }
}

/** The quarantine list keeps this many ids; older ones drop off (their traces expire anyway). */
export const QUARANTINED_EVENTS_KEPT = 10_000;

/** Conflicting duplicates listed per event id; more are still stored and quarantined, just not listed in its trace. */
export const CONFLICTS_LISTED_PER_EVENT = 100;

interface WindowTimes {
  readonly receivedAtMs: number;
  readonly nowMs: number;
  readonly ttlMs: number;
}

/** Lists `eventId` as quarantined; the list is capped and pruned of ids whose trace has expired. */
function queueQuarantineWrites(multi: ChainableCommander, prefix: string, eventId: string, times: WindowTimes): void {
  const { quarantined } = bridgeKeys(prefix);
  multi
    .zadd(quarantined, times.receivedAtMs, eventId)
    .zremrangebyscore(quarantined, '-inf', times.nowMs - times.ttlMs)
    .zremrangebyrank(quarantined, 0, -QUARANTINED_EVENTS_KEPT - 1)
    .pexpire(quarantined, times.ttlMs);
}

/** Records conflicting duplicate `conflictId` under the event id it claimed, for that event's trace. */
function queueConflictWrites(multi: ChainableCommander, prefix: string, eventId: string, conflictId: string, times: WindowTimes): void {
  const key = bridgeKeys(prefix).conflicts(eventId);
  multi
    .zadd(key, times.receivedAtMs, conflictId)
    .zremrangebyrank(key, 0, -CONFLICTS_LISTED_PER_EVENT - 1)
    .pexpire(key, times.ttlMs);
}

/** Splits the planned actions into those to enqueue and those whose once_per key another event holds. */
async function applyOncePer(
  actions: readonly PlannedAction[],
  eventId: string,
  options: EventsWorkerOptions,
): Promise<{ toEnqueue: PlannedAction[]; suppressed: TraceSuppressed[] }> {
  const limited = actions.filter((planned) => planned.oncePer !== undefined);
  if (limited.length === 0) return { toEnqueue: [...actions], suppressed: [] };
  const claims = await claimActions(
    options.state,
    options.prefix,
    eventId,
    limited.map((planned) => ({
      ruleId: planned.provenance.ruleId,
      actionIndex: planned.provenance.actionIndex,
      key: planned.oncePer!.key,
      windowMs: planned.oncePer!.windowMs ?? options.traceTtlMs,
    })),
  );
  const notHeld = new Map<PlannedAction, string>();
  limited.forEach((planned, i) => {
    if (!claims[i].isHeld) notHeld.set(planned, claims[i].heldBy);
  });
  const toEnqueue: PlannedAction[] = [];
  const suppressed: TraceSuppressed[] = [];
  for (const planned of actions) {
    const heldBy = notHeld.get(planned);
    if (heldBy === undefined) toEnqueue.push(planned);
    else {
      suppressed.push({
        ruleId: planned.provenance.ruleId,
        action: planned.action,
        actionIndex: planned.provenance.actionIndex,
        key: planned.oncePer!.key,
        heldBy,
      });
    }
  }
  return { toEnqueue, suppressed };
}

function buildActionJob(event: BridgeEvent, planned: PlannedAction, generation: number, policy: RetryPolicy) {
  const retry = resolveActionRetry(policy, planned.retry);
  const data: ActionJobData = {
    action: planned.action,
    params: planned.params,
    provenance: planned.provenance,
    eventType: event.type,
    eventReceivedAt: event.receivedAt,
    backoffBaseMs: retry.baseDelayMs,
  };
  const jobId = buildActionJobId(event.id, planned.provenance.ruleId, planned.provenance.actionIndex, generation);
  return { name: planned.action, data, opts: buildActionJobOptions(jobId, retry) };
}

/**
 * Plans each event of a job of deliveries stored together (event-job-store.ts) as its own event
 * job would be, up to `concurrency` at a time. An event that fails is added as its own event job,
 * under the job id its dedup key holds and with the usual attempts, so it is retried (and, when
 * its attempts run out, listed by `events failed`) alone, and the others are done. Only when that
 * add fails too (Redis is away) does this job fail, and BullMQ runs it again: re-planning an event
 * enqueues the same action job ids and replaces its trace run, so nothing is sent twice.
 */
export async function processDeliveryBatch(job: JobView<DeliveryBatchJobData>, options: EventsWorkerOptions): Promise<void> {
  const { deliveries } = job.data;
  const inParallel = options.concurrency ?? DEFAULT_EVENTS_CONCURRENCY;
  const failed: { readonly delivery: (typeof deliveries)[number]; readonly error: unknown }[] = [];
  for (let start = 0; start < deliveries.length; start += inParallel) {
    await Promise.all(
      deliveries.slice(start, start + inParallel).map(async (delivery) => {
        try {
          await processEventJob({ id: delivery.jobId, data: { event: delivery.event }, processedOn: job.processedOn }, options);
        } catch (error) {
          failed.push({ delivery, error });
        }
      }),
    );
  }
  if (failed.length === 0) return;
  if (!options.eventsQueue) throw failed[0].error;
  for (const { delivery, error } of failed) {
    options.logger.warn({ err: error, eventId: delivery.event.id, jobId: delivery.jobId, batchJobId: job.id }, 'event of a batch could not be planned: retried as its own event job');
  }
  // An id already added (this job run again after a crash) is ignored by BullMQ: added once.
  await options.eventsQueue.addBulk(
    failed.map(({ delivery }) => ({
      name: EVENT_JOB_NAME,
      data: { event: delivery.event },
      opts: buildEventJobOptions(delivery.jobId, options.eventRetryPolicy ?? EVENT_RETRY_POLICY),
    })),
  );
}

/** Starts the events worker. The caller closes it. */
export function startEventsWorker(options: EventsWorkerOptions): Worker<EventsQueueJobData, void> {
  // The run is kept in the trace: returned to BullMQ it would be copied into the job and its
  // `completed` stream entry for nothing (the job is removed once completed).
  const worker = new Worker<EventsQueueJobData, void>(
    EVENTS_QUEUE,
    async (job) => {
      const { data } = job;
      if (isDeliveryBatch(data)) await processDeliveryBatch({ id: job.id, data, processedOn: job.processedOn }, options);
      else await processEventJob({ id: job.id, data, processedOn: job.processedOn }, options);
    },
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? DEFAULT_EVENTS_CONCURRENCY,
      // A dead worker's events come back as its actions do (see STALLED_CHECK_INTERVAL_MS).
      stalledInterval: STALLED_CHECK_INTERVAL_MS,
      ...jobRetention('events', { completedMs: options.traceTtlMs, failedMs: options.failedJobsTtlMs }),
    },
  );
  worker.on('failed', (job, error) => {
    const label = options.labelEventType ?? labelEventType;
    const events = job ? eventsOfJob(job.data) : [];
    // Counted per event, as planned events are.
    for (const event of events) options.metrics.events.inc({ type: label(event.type), outcome: 'failed' });
    if (!job) options.metrics.events.inc({ type: label(''), outcome: 'failed' });
    options.logger.error({ err: error, jobId: job?.id, ...(events.length > 1 ? { eventIds: events.map((event) => event.id) } : { eventId: events[0]?.id }) }, 'event job failed');
  });
  // Redis being unreachable is logged once per outage by RedisHealth (src/infra/redis-health.ts), not per retry.
  worker.on('error', (error) => {
    if (!isRedisConnectionError(error)) options.logger.error({ err: error }, 'events worker error');
  });
  return worker;
}
