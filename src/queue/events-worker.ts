import { Worker, type Job, type Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import type { RedisConnection } from './redis.js';
import type { Logger } from 'pino';
import type { ActionName } from '../actions/action.js';
import type { BridgeEvent } from '../events/event.js';
import type { BridgeMetrics } from '../observability/metrics.js';
import type { ActionProvenance, Plan } from '../rules/plan.js';
import { applySchemaCheck } from '../sources/check-event.js';
import type { ActionJobData } from './action-job.js';
import type { EventJobData } from './event-intake.js';
import { EVENTS_QUEUE, bridgeKeys, buildActionJobId } from './names.js';
import { ACTION_BACKOFF_TYPE, type RetryPolicy } from './retry-policy.js';

/** Plans an event against the live rules; pure. `includeQuarantined` is set on replays. */
export type EventPlanner = (event: BridgeEvent, options: { includeQuarantined: boolean }) => Plan;

/** One planning run of an event, as kept in its trace. */
export interface TraceRun {
  readonly at: string;
  readonly generation: number;
  readonly quarantined: boolean;
  readonly matched: ReadonlyArray<{ readonly ruleId: string; readonly file: string }>;
  readonly unmatched: Plan['unmatched'];
  readonly failures: ReadonlyArray<{ readonly ruleId: string; readonly action: string; readonly error: string }>;
  readonly warnings: readonly string[];
  readonly actionJobIds: readonly string[];
}

/** The stored record of an event: the event (secrets stripped) and every planning run of it. */
export interface EventTrace {
  readonly event: BridgeEvent;
  readonly runs: TraceRun[];
}

export interface EventsWorkerOptions {
  readonly connection: RedisConnection;
  /** A connection for the bridge's own keys (traces, quarantine list). */
  readonly state: RedisConnection;
  readonly prefix: string;
  readonly actionsQueue: Queue<ActionJobData>;
  readonly plan: EventPlanner;
  /**
   * The payload's schema check (sources' `checkSchema`), run here rather than at intake because
   * it is the costly part of validation; an event that fails it is quarantined, not planned.
   */
  readonly checkSchema: (event: BridgeEvent) => string[];
  readonly retryPolicy: RetryPolicy;
  /** How long traces are kept, in ms (the dedup window). */
  readonly traceTtlMs: number;
  readonly logger: Logger;
  readonly metrics: BridgeMetrics;
  /** @defaultValue 20 */
  readonly concurrency?: number;
}

/** Keeps the recent-events index to this many ids. */
const RECENT_EVENTS_KEPT = 10_000;

/**
 * Turns one stored event into action jobs. Re-running it (a stalled job, a crash before the ack)
 * enqueues the same deterministic job ids, which BullMQ ignores, so no action is duplicated.
 */
export async function processEventJob(job: Job<EventJobData>, options: EventsWorkerOptions): Promise<TraceRun> {
  const { replayGeneration = 0 } = job.data;
  const keys = bridgeKeys(options.prefix);
  const isReplay = replayGeneration > 0;
  // A replay plans the event as stored, even if quarantined: the operator asked for it.
  const event = isReplay ? job.data.event : applySchemaCheck({ checkSchema: options.checkSchema }, job.data.event);
  const log = options.logger.child({ eventId: event.id, eventType: event.type, jobId: job.id });
  // Outside a replay a quarantined event plans nothing (planActions skips it) and joins the
  // quarantine list; a replay takes it off that list.
  const isQuarantinedNow = event.status === 'quarantined' && !isReplay;

  const plan = options.plan(event, { includeQuarantined: isReplay });
  const jobs = [
    ...plan.actions.map((planned) => ({
      name: planned.action,
      data: actionJobData(event, planned.action, planned.params, planned.provenance, planned.retry?.backoffMs ?? options.retryPolicy.baseDelayMs),
      opts: {
        jobId: buildActionJobId(event.id, planned.provenance.ruleId, planned.provenance.actionIndex, replayGeneration),
        attempts: planned.retry?.attempts ?? options.retryPolicy.attempts,
        backoff: { type: ACTION_BACKOFF_TYPE },
      },
    })),
    ...plan.failures.map((failure) => ({
      name: failure.action,
      data: { ...actionJobData(event, failure.action, {}, failure.provenance, options.retryPolicy.baseDelayMs), planError: failure.error },
      opts: {
        jobId: buildActionJobId(event.id, failure.provenance.ruleId, failure.provenance.actionIndex, replayGeneration),
        attempts: 1,
      },
    })),
  ];
  if (jobs.length > 0) await options.actionsQueue.addBulk(jobs);

  const run: TraceRun = {
    at: new Date().toISOString(),
    generation: replayGeneration,
    quarantined: event.status === 'quarantined',
    matched: plan.matched.map(({ ruleId, file }) => ({ ruleId, file })),
    unmatched: plan.unmatched,
    failures: plan.failures.map((f) => ({ ruleId: f.ruleId, action: f.action, error: f.error })),
    warnings: plan.warnings,
    actionJobIds: jobs.map((j) => j.opts.jobId),
  };
  const receivedAtMs = Date.parse(event.receivedAt) || Date.now();
  await appendTraceRun(options, event, receivedAtMs, run, (multi) => {
    if (isQuarantinedNow) multi.zadd(keys.quarantined, receivedAtMs, event.id);
    else if (isReplay) multi.zrem(keys.quarantined, event.id);
  });

  options.metrics.events.inc({ type: event.type, outcome: isReplay ? 'replayed' : isQuarantinedNow ? 'quarantined' : 'planned' });
  if (isQuarantinedNow) {
    log.warn({ validationErrors: event.validationErrors }, 'event quarantined: not matched until replayed');
    return run;
  }
  for (const rule of plan.matched) options.metrics.ruleMatches.inc({ rule: rule.ruleId });
  for (const warning of plan.warnings) log.warn({ warning }, 'template warning');
  for (const failure of plan.failures) log.error({ ruleId: failure.ruleId, error: failure.error }, 'action could not be planned');
  for (const rule of plan.unmatched) {
    if (rule.reason === 'condition_error') log.warn({ ruleId: rule.ruleId, error: rule.error }, 'rule condition failed on this event: not matched');
  }
  log.info(
    { matched: plan.matched.map((m) => m.ruleId), actionJobIds: run.actionJobIds, generation: replayGeneration },
    'event planned',
  );
  return run;
}

function actionJobData(
  event: BridgeEvent,
  action: ActionName,
  params: Record<string, unknown>,
  provenance: ActionProvenance,
  backoffBaseMs: number,
): ActionJobData {
  return { action, params, provenance, eventType: event.type, eventReceivedAt: event.receivedAt, backoffBaseMs };
}

async function appendTraceRun(
  options: EventsWorkerOptions,
  event: BridgeEvent,
  receivedAtMs: number,
  run: TraceRun,
  extra: (multi: ChainableCommander) => void,
): Promise<void> {
  const keys = bridgeKeys(options.prefix);
  const existing = await options.state.get(keys.trace(event.id));
  const trace: EventTrace = existing ? (JSON.parse(existing) as EventTrace) : { event, runs: [] };
  // A re-run of the same job (stall, crash before ack) must not add a second identical run.
  const runs = trace.runs.filter((previous) => previous.generation !== run.generation);
  const multi = options.state
    .multi()
    .set(keys.trace(event.id), JSON.stringify({ event, runs: [...runs, run] }), 'PX', options.traceTtlMs)
    .zadd(keys.recentEvents, receivedAtMs, event.id)
    .zremrangebyrank(keys.recentEvents, 0, -RECENT_EVENTS_KEPT - 1);
  extra(multi);
  await multi.exec();
}

/** Starts the events worker. The caller closes it. */
export function startEventsWorker(options: EventsWorkerOptions): Worker<EventJobData, TraceRun> {
  const worker = new Worker<EventJobData, TraceRun>(EVENTS_QUEUE, (job) => processEventJob(job, options), {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency ?? 20,
    removeOnComplete: { age: Math.ceil(options.traceTtlMs / 1000), count: 50_000 },
    removeOnFail: { age: 30 * 24 * 3600 },
  });
  worker.on('failed', (job, error) => {
    options.metrics.events.inc({ type: job?.data.event.type ?? 'unknown', outcome: 'failed' });
    options.logger.error({ err: error, jobId: job?.id, eventId: job?.data.event.id }, 'event job failed');
  });
  worker.on('error', (error) => options.logger.error({ err: error }, 'events worker error'));
  return worker;
}
