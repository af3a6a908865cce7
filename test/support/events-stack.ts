import { Queue, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { actionRegistry } from '../../src/actions/registry.js';
import { fastRetriesForTests } from '../../src/delivery/delivery-policy.js';
import { BridgeMetrics } from '../../src/observability/metrics.js';
import type { ActionJobData } from '../../src/queue/action-job.js';
import type { EventsQueueJobData } from '../../src/queue/event-intake.js';
import { startEventsWorker, type EventsWorkerOptions } from '../../src/queue/events-worker.js';
import { ACTIONS_QUEUE, EVENTS_QUEUE } from '../../src/queue/names.js';
import { BridgeOperations } from '../../src/queue/operations.js';
import { compileRuleFiles } from '../../src/rules/compile-rules.js';
import { planActions } from '../../src/rules/plan.js';
import type { RuleSet } from '../../src/rules/rule-set.js';
import { sourceRegistry } from '../../src/sources/registry.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL } from './redis.js';

/** What a spec's own events worker cannot do without: its connections, prefix, actions queue and rules. */
export interface EventsWorkerBase {
  readonly connection: EventsWorkerOptions['connection'];
  readonly state: EventsWorkerOptions['state'];
  readonly prefix: string;
  readonly actionsQueue: EventsWorkerOptions['actionsQueue'];
  readonly ruleSet: RuleSet;
}

/**
 * The events worker's options as a spec wants them unless it says otherwise: planning `ruleSet`
 * like the bridge (templates not strict), the shipped sources' schema checks, fast retries, traces
 * kept a minute, a silent logger and its own metrics. `overrides` replaces any of them.
 */
export function eventsWorkerOptionsForTests(base: EventsWorkerBase, overrides: Partial<EventsWorkerOptions> = {}): EventsWorkerOptions {
  const { ruleSet, ...connections } = base;
  return {
    ...connections,
    plan: (event) => planActions(ruleSet, event, { strictTemplates: false }),
    checkSchema: (event) => sourceRegistry[event.source].checkSchema(event),
    retryPolicy: fastRetriesForTests,
    traceTtlMs: 60_000,
    logger: pino({ level: 'silent' }),
    metrics: new BridgeMetrics(),
    ...overrides,
  };
}

export interface EventsStackOptions {
  /** The prefix's label, for telling test keys apart in Redis. */
  readonly label: string;
  /** One rule file, compiled with the shipped actions. */
  readonly rules: { readonly file: string; readonly content: string };
  readonly traceTtlMs: number;
  /** The worker's clock. @defaultValue Date.now */
  readonly now?: () => number;
  /** The queues' prefix, for a spec that stores jobs before the worker starts. @defaultValue a random one for `label` */
  readonly prefix?: string;
  /** More of the worker's options, given the stack's events queue. @defaultValue none */
  readonly workerOptions?: (events: Queue<EventsQueueJobData>) => Partial<EventsWorkerOptions>;
}

/**
 * The real events worker on real Redis under a fresh prefix, with its queues and operations: what
 * a queue spec needs to store events and read what planning wrote. `stop()` closes everything and
 * deletes the prefix's keys.
 */
export function startEventsStack(options: EventsStackOptions) {
  const loaded = compileRuleFiles([options.rules], { actions: actionRegistry });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const ruleSet = loaded.ruleSet;
  const prefix = options.prefix ?? randomPrefix(options.label);
  const redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
  const workerConnection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
  const events = new Queue<EventsQueueJobData>(EVENTS_QUEUE, { connection: redis, prefix });
  const actions = new Queue<ActionJobData>(ACTIONS_QUEUE, { connection: redis, prefix });
  const operations = new BridgeOperations(redis, prefix);
  const worker: Worker = startEventsWorker(
    eventsWorkerOptionsForTests(
      { connection: workerConnection, state: redis, prefix, actionsQueue: actions, ruleSet },
      { traceTtlMs: options.traceTtlMs, ...(options.now ? { now: options.now } : {}), ...options.workerOptions?.(events) },
    ),
  );
  return {
    prefix,
    redis,
    events,
    actions,
    operations,
    worker,
    async stop(): Promise<void> {
      await worker.close();
      await Promise.all([events.close(), actions.close(), operations.close()]);
      await deleteKeys(redis, prefix);
      redis.disconnect();
      workerConnection.disconnect();
    },
  };
}

export type EventsStack = ReturnType<typeof startEventsStack>;

/**
 * Whether an event job has been planned: the events worker removes a completed event job at once
 * (its trace is the record), so the job is gone; `completed` counts too, for queues that keep them.
 * Call it only for a job already added (an id never added is gone too).
 */
export async function isEventJobDone(events: Queue, jobId: string): Promise<boolean> {
  const state = await events.getJobState(jobId);
  return state === 'unknown' || state === 'completed';
}
