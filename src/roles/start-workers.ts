import { shareRuleProblems } from '../queue/rule-problems.js';
import { Queue } from 'bullmq';
import type { ActionName, ActionRunner } from '../actions/action.js';
import type { ActionJobData } from '../queue/action-job.js';
import { startActionsWorker } from '../queue/actions-worker.js';
import { startEventsWorker } from '../queue/events-worker.js';
import { EventIntake, type EventsQueueJobData } from '../queue/event-intake.js';
import { FailureReporter } from '../queue/failure-events.js';
import { ACTIONS_QUEUE, EVENTS_QUEUE } from '../queue/names.js';
import { startReconcileScheduler } from '../reconcile/reconcile-scheduler.js';
import { buildReconciler, describePartialCredentials, recordMilestoneWith } from '../reconcile/reconciler.js';
import { planActions } from '../rules/plan.js';
import { RuleStore } from '../rules/rule-store.js';
import { formatProblem, type RuleProblem } from '../rules/problems.js';
import { checkSchemaOf, labelEventType } from '../sources/registry.js';
import { collectSourceSecrets, createSecretScrubber } from '../sources/scrub-secrets.js';
import type { BridgeDeps, WorkersRole } from './deps.js';

/**
 * The workers role: loads and watches the rules, connects one runner per registered action, and
 * starts the events and actions workers. Everything opened is tracked by `deps.lifecycle`.
 * @throws RuleLoadError when the rule files do not load.
 */
export async function startWorkers(deps: BridgeDeps): Promise<WorkersRole> {
  const { config, logger, metrics, lifecycle, state } = deps;
  const store = new RuleStore({ dir: config.rulesDir, logger, actions: deps.actions, sources: Object.keys(deps.sources), registry: deps.sources });
  lifecycle.onStop(() => store.stop());
  await store.start();
  metrics.rulesLoaded.set(store.current.size);
  store.on('reloaded', () => metrics.rulesLoaded.set(store.current.size));
  store.on('reload_failed', () => metrics.rulesReloadErrors.inc());
  // The dashboard (in the api process, which may load no rules) reads them from Redis.
  await shareRuleProblems(store, state, config.queuePrefix, logger);

  const actionsQueue = lifecycle.trackQueue(deps.redisHealth.watchQueue(new Queue<ActionJobData>(ACTIONS_QUEUE, { connection: state, prefix: config.queuePrefix }), ACTIONS_QUEUE));
  const runners = Object.fromEntries(
    Object.entries(deps.actions).map(([name, action]) => [
      name,
      action.connect({ config, redis: state, keyPrefix: config.queuePrefix, logger: logger.child({ integration: name }), now: deps.now }),
    ]),
  ) as Record<ActionName, ActionRunner<unknown>>;
  lifecycle.onStop(async () => Promise.all(Object.values(runners).map((runner) => runner.close?.())));
  // Start-up checks run in the background: a slow API must not hold the workers back.
  for (const runner of Object.values(runners)) {
    void runner.checkSetup?.(AbortSignal.timeout(config.actionTimeoutMs)).catch(() => undefined);
  }

  // Reconciled events and the bridge's own (bridge.action.failed) enter through the webhooks' own
  // intake: same queue, same dedup by event id.
  const eventsQueue = lifecycle.trackQueue(deps.redisHealth.watchQueue(new Queue<EventsQueueJobData>(EVENTS_QUEUE, { connection: state, prefix: config.queuePrefix }), EVENTS_QUEUE));
  const intake = new EventIntake({ queue: eventsQueue, dedupTtlMs: config.dedupTtlMs });
  const failureReporter = new FailureReporter({
    intake,
    // Every secret the sources and integrations declare: an error text may echo a token or a URL with one.
    secretScrubber: createSecretScrubber(collectSourceSecrets({ ...deps.sources, ...deps.actions }, config)),
    logger: logger.child({ role: 'failure-events' }),
    metrics,
    now: deps.now,
  });
  const { ledger, reconciler } = buildReconciler({
    config,
    sources: deps.sources,
    redis: state,
    intake,
    logger: logger.child({ role: 'reconcile' }),
    metrics,
    now: deps.now,
  });

  lifecycle.trackWorker(
    deps.redisHealth.watchWorker(startEventsWorker({
      connection: deps.connect('worker'),
      state,
      prefix: config.queuePrefix,
      actionsQueue,
      plan: (event) => planActions(store.current, event, { strictTemplates: false }),
      checkSchema: (event) => checkSchemaOf(deps.sources, event),
      labelEventType: (type) => labelEventType(type, deps.sources),
      // Every event of a source that can be reconciled is recorded, credentials set or not, so the
      // ledger already knows what was delivered when reconciliation is turned on.
      recordMilestone: recordMilestoneWith(ledger, deps.sources, deps.now),
      retryPolicy: deps.retryPolicy,
      traceTtlMs: config.dedupTtlMs,
      logger,
      metrics,
      now: deps.now,
      concurrency: config.eventsConcurrency,
      failureReporter,
      failedJobsTtlMs: config.failedJobsTtlMs,
      // An event of a job of deliveries that fails is split off as its own event job.
      eventsQueue,
    })),
  );
  lifecycle.trackWorker(
    deps.redisHealth.watchWorker(startActionsWorker({
      connection: deps.connect('worker'),
      state,
      prefix: config.queuePrefix,
      runners,
      actions: deps.actions,
      retryPolicy: deps.retryPolicy,
      actionTimeoutMs: config.actionTimeoutMs,
      completionTtlMs: config.dedupTtlMs,
      logger,
      metrics,
      now: deps.now,
      concurrency: config.actionsConcurrency,
      failureReporter,
      failedJobsTtlMs: config.failedJobsTtlMs,
      completedJobsKept: config.completedActionsKept,
    })),
  );
  for (const warning of describePartialCredentials(deps.sources, config.integrations)) logger.warn(warning);
  const reconciled = reconciler.configuredSources();
  if (reconciled.length > 0) {
    const scheduler = await startReconcileScheduler({
      connection: deps.connect('worker'),
      state,
      prefix: config.queuePrefix,
      intervalMs: config.reconcileIntervalMs,
      reconciler,
      logger,
    });
    lifecycle.trackQueue(deps.redisHealth.watchQueue(scheduler.queue, 'reconcile'));
    lifecycle.trackWorker(deps.redisHealth.watchWorker(scheduler.worker));
    logger.info({ sources: reconciled.map((source) => source.name), intervalMs: config.reconcileIntervalMs, windowMs: config.reconcileWindowMs }, 'reconciliation scheduled');
  }
  return {
    readinessChecks: [
      async () => (store.isCurrent ? null : describeStaleRules(store.problems)),
    ],
  };
}

/**
 * Why /readyz says the rules are not current: the first problem of the rejected edit as
 * `file:line:col: message`, so whoever looks knows where to fix it, and how many more there are.
 */
export function describeStaleRules(problems: readonly RuleProblem[]): string {
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length === 2 ? '' : 's'})` : '';
  const first = problems[0] ? formatProblem(problems[0]) : 'the last edit does not load';
  return `rules not current: ${first}${more}; the last good rules stay live`;
}
