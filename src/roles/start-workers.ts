import { Queue } from 'bullmq';
import type { ActionName, ActionRunner } from '../actions/action.js';
import type { ActionJobData } from '../queue/action-job.js';
import { startActionsWorker } from '../queue/actions-worker.js';
import { startEventsWorker } from '../queue/events-worker.js';
import { ACTIONS_QUEUE } from '../queue/names.js';
import { planActions } from '../rules/plan.js';
import { RuleStore } from '../rules/rule-store.js';
import { checkSchemaOf } from '../sources/registry.js';
import type { BridgeDeps, WorkersRole } from './deps.js';

/**
 * The workers role: loads and watches the rules, connects one runner per registered action, and
 * starts the events and actions workers. Everything opened is tracked by `deps.lifecycle`.
 * @throws RuleLoadError when the rule files do not load.
 */
export async function startWorkers(deps: BridgeDeps): Promise<WorkersRole> {
  const { config, logger, metrics, lifecycle, state } = deps;
  const store = new RuleStore({ dir: config.rulesDir, logger, actions: deps.actions, sources: Object.keys(deps.sources) });
  lifecycle.onStop(() => store.stop());
  await store.start();
  metrics.rulesLoaded.set(store.current.size);
  store.on('reloaded', () => metrics.rulesLoaded.set(store.current.size));
  store.on('reload_failed', () => metrics.rulesReloadErrors.inc());

  const actionsQueue = lifecycle.trackQueue(new Queue<ActionJobData>(ACTIONS_QUEUE, { connection: state, prefix: config.queuePrefix }));
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

  lifecycle.trackWorker(
    startEventsWorker({
      connection: deps.connect('worker'),
      state,
      prefix: config.queuePrefix,
      actionsQueue,
      plan: (event) => planActions(store.current, event, { strictTemplates: false }),
      checkSchema: (event) => checkSchemaOf(deps.sources, event),
      retryPolicy: deps.retryPolicy,
      traceTtlMs: config.dedupTtlMs,
      logger,
      metrics,
      now: deps.now,
      concurrency: config.eventsConcurrency,
    }),
  );
  lifecycle.trackWorker(
    startActionsWorker({
      connection: deps.connect('worker'),
      state,
      prefix: config.queuePrefix,
      runners,
      retryPolicy: deps.retryPolicy,
      actionTimeoutMs: config.actionTimeoutMs,
      completionTtlMs: config.dedupTtlMs,
      logger,
      metrics,
      now: deps.now,
      concurrency: config.actionsConcurrency,
    }),
  );
  return {
    readinessChecks: [
      async () => (store.isCurrent ? null : `rules not current: the last edit has ${store.problems.length} problem(s); the last good rules stay live`),
    ],
  };
}
