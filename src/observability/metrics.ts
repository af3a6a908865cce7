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

/**
 * The bridge's metrics, named as the contract in DESIGN.md fixes them. One instance per process,
 * with its own registry so tests can build as many as they like.
 */
export class BridgeMetrics {
  readonly registry = new Registry();

  readonly webhooks = new Counter({
    name: 'bridge_webhooks_total',
    help: 'Webhook deliveries by source and outcome.',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly events = new Counter({
    name: 'bridge_events_total',
    help: 'Events processed by the events worker, by type and outcome (planned, quarantined, failed).',
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

  readonly #pauseReasons = new Map<string, string>();

  /** Sets `bridge_integration_paused` for one integration: `reason` while paused, null while it runs (one series each). */
  setIntegrationPause(integration: string, reason: string | null): void {
    const label = reason ?? '';
    const previous = this.#pauseReasons.get(integration);
    if (previous !== undefined && previous !== label) this.integrationPaused.remove({ integration, reason: previous });
    this.#pauseReasons.set(integration, label);
    this.integrationPaused.set({ integration, reason: label }, reason === null ? 0 : 1);
  }

  constructor(options: { collectProcessMetrics?: boolean } = {}) {
    if (options.collectProcessMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
