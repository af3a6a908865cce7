import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Outcomes of a webhook delivery, as labelled on `bridge_webhooks_total`. */
export type WebhookOutcome =
  | 'accepted'
  | 'duplicate'
  | 'conflicting_duplicate'
  | 'unauthorized'
  | 'invalid'
  | 'quarantined'
  | 'unavailable'
  | 'too_large';

/** Outcomes of one action attempt, as labelled on `bridge_actions_total`. */
export type ActionOutcome = 'succeeded' | 'failed' | 'retried' | 'rate_limited' | 'paused' | 'dry_run';

/** Options of {@link BridgeMetrics}. */
export interface BridgeMetricsOptions {
  /** Add prom-client's process metrics (CPU, memory, event loop lag). @defaultValue false */
  readonly collectProcessMetrics?: boolean;
  /**
   * The shortest time between two renderings of `/metrics`, in ms: scrapes within it get the same
   * text, so ten clients polling in a loop cost one rendering per interval, not one each.
   * @defaultValue 0 (every scrape renders: tests read their counts at once)
   */
  readonly minRenderIntervalMs?: number;
  /** Milliseconds since the epoch, for the render interval. @defaultValue Date.now */
  readonly now?: () => number;
}

/**
 * The shortest time between two renderings of `/metrics` in the running bridge (1 s): a scrape
 * rate above one per second costs no more than one per second.
 */
export const METRICS_MIN_RENDER_INTERVAL_MS = 1_000;

/**
 * The bridge's metrics, named as the contract in DESIGN.md fixes them. One instance per process,
 * with its own registry so tests can build as many as they like.
 */
export class BridgeMetrics {
  readonly registry = new Registry();
  readonly #minRenderIntervalMs: number;
  readonly #now: () => number;
  #lastRender: { readonly at: number; readonly text: Promise<string> } | null = null;

  readonly webhooks = new Counter({
    name: 'bridge_webhooks_total',
    help: 'Webhook deliveries by source and outcome.',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly events = new Counter({
    name: 'bridge_events_total',
    help: 'Events processed by the events worker, by type (unknown for a type no source declares) and outcome (planned, quarantined, replayed, failed).',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly ruleMatches = new Counter({
    name: 'bridge_rule_matches_total',
    help: 'Times each rule matched an event.',
    labelNames: ['rule'] as const,
    registers: [this.registry],
  });

  readonly actions = new Counter({
    name: 'bridge_actions_total',
    help: 'Action attempts by action and outcome.',
    labelNames: ['action', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly actionDuration = new Histogram({
    name: 'bridge_action_duration_seconds',
    help: 'Duration of one action call.',
    labelNames: ['action'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly eventToAction = new Histogram({
    name: 'bridge_event_to_action_seconds',
    help: 'Time from webhook received to action done.',
    labelNames: ['action'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    registers: [this.registry],
  });

  readonly queueJobs = new Gauge({
    name: 'bridge_queue_jobs',
    help: 'Jobs per queue and state (waiting, active, delayed, failed).',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
  });

  readonly rulesLoaded = new Gauge({
    name: 'bridge_rules_loaded',
    help: 'Rules in the live rule set.',
    registers: [this.registry],
  });

  /**
   * A rule's condition or template that failed on a real event: the condition could not be
   * evaluated (counted as not matched) or an action could not be planned. Load-time checks catch
   * most mistakes; this counts what still slips through, so it never fails silently.
   */
  readonly ruleErrors = new Counter({
    name: 'bridge_rule_errors_total',
    help: 'Rule conditions that failed to evaluate and actions that could not be planned, on real events, by rule.',
    labelNames: ['rule'] as const,
    registers: [this.registry],
  });

  readonly rulesReloadErrors = new Counter({
    name: 'bridge_rules_reload_errors_total',
    help: 'Rule reloads that failed validation (the last good rules stay live).',
    registers: [this.registry],
  });

  /**
   * 1 while an integration is paused (its credentials refused: Slack `invalid_auth`, HubSpot 401),
   * labelled with the reason; 0 with `reason=""` while it runs. Alert on `== 1`: its actions are not
   * going out. Read from Redis by every role, so an API-only process shows it too.
   */
  readonly integrationPaused = new Gauge({
    name: 'bridge_integration_paused',
    help: 'Whether an integration is paused (1, with the reason) or running (0, reason ""); paused: its actions wait.',
    labelNames: ['integration', 'reason'] as const,
    registers: [this.registry],
  });

  /** Events synthesized from a provider's API for webhooks the bridge never received. */
  readonly reconciledEvents = new Counter({
    name: 'bridge_reconciled_events_total',
    help: 'Events synthesized by reconciliation from a provider API, by source and event type.',
    labelNames: ['source', 'type'] as const,
    registers: [this.registry],
  });

  /** Reconciliation runs by source and outcome: succeeded, failed, skipped (another run held the source). */
  readonly reconcileRuns = new Counter({
    name: 'bridge_reconcile_runs_total',
    help: 'Reconciliation runs by source and outcome (succeeded, failed, skipped).',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });

  /**
   * The bridge's reports of its own failures (`bridge.action.failed`, queue/failure-events.ts), by
   * stage (`run`, `plan`) and outcome: `emitted` (stored as an event), `duplicate` (stored before),
   * `loop_suppressed` (an action of a bridge event failed: not reported, to never loop),
   * `unavailable` (could not be stored: the job waits and reports again).
   */
  readonly failureEvents = new Counter({
    name: 'bridge_failure_events_total',
    help: 'bridge.action.failed events by stage (run, plan) and outcome (emitted, duplicate, loop_suppressed, unavailable).',
    labelNames: ['stage', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly #pauseReasons = new Map<string, string>();

  /** Sets `bridge_integration_paused` for one integration: `reason` while paused, null while it runs (one series each). */
  setIntegrationPause(integration: string, reason: string | null): void {
    const label = reason ?? '';
    const previous = this.#pauseReasons.get(integration);
    if (previous !== undefined && previous !== label) this.integrationPaused.remove({ integration, reason: previous });
    this.#pauseReasons.set(integration, label);
    this.integrationPaused.set({ integration, reason: label }, reason === null ? 0 : 1);
  }

  constructor(options: BridgeMetricsOptions = {}) {
    if (options.collectProcessMetrics) collectDefaultMetrics({ register: this.registry });
    this.#minRenderIntervalMs = options.minRenderIntervalMs ?? 0;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The Prometheus text of every metric. Within `minRenderIntervalMs` of the last rendering, that
   * rendering is returned again (concurrent scrapes share one). Nothing here reads Redis: the queue
   * and pause gauges are refreshed by a timer (start-http.ts), whatever the scrape rate.
   */
  render(): Promise<string> {
    const now = this.#now();
    const last = this.#lastRender;
    if (last !== null && now - last.at < this.#minRenderIntervalMs) return last.text;
    const text = this.registry.metrics();
    const render = { at: now, text };
    this.#lastRender = render;
    // A failed rendering is not kept: the next scrape tries again.
    text.catch(() => {
      if (this.#lastRender === render) this.#lastRender = null;
    });
    return text;
  }
}
