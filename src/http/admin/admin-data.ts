import { describePause } from '../../actions/pause.js';
import type { EventSummary } from '../../queue/event-search.js';
import type { ActionStatus, BridgeOperations, FailedAction, FailedEvent } from '../../queue/operations.js';
import type { RuleProblem } from '../../rules/problems.js';
import type { EventTrace } from '../../queue/trace.js';
import type { ReconcileStatus } from '../../reconcile/ledger.js';

/** Queue depths and recent throughput: the top of the dashboard and `GET /admin/api/overview`. */
export interface AdminOverview {
  /** Per queue (`events`, `actions`), jobs per state (waiting, active, delayed, failed, completed). */
  readonly queues: Record<string, Record<string, number>>;
  /** Events received in the last 5 and 60 minutes (the recent-events index caps both at 10,000). */
  readonly throughput: { readonly eventsLast5Minutes: number; readonly eventsLast60Minutes: number };
  /**
   * Per integration (`slack`, `hubspot`): `running`, or `paused` with the reason and since when
   * (its credentials were refused; its jobs wait until a probe succeeds).
   */
  readonly integrations: readonly IntegrationStatus[];
  /** Per source reconciled from its API: when its last reconciliation succeeded (null: never). */
  readonly reconciliation: readonly ReconcileStatus[];
  readonly generatedAt: string;
}

/** One integration's line of the overview. */
export interface IntegrationStatus {
  readonly integration: string;
  readonly state: 'running' | 'paused';
  /** `slack: paused (invalid_auth)`, or `slack: running`. */
  readonly summary: string;
  /** The pause's reason (`invalid_auth`), when paused. */
  readonly reason?: string;
  /** When the pause began (ISO 8601), when paused. */
  readonly pausedSince?: string;
}

/** One line of the recent-events list (and of a search's results): see EventSummary. */
export type RecentEventSummary = EventSummary;

/** The recent-events list on the page and in the live refresh: enough to find what just happened. */
export const RECENT_EVENTS_SHOWN = 25;

/** The parts of the page the dashboard's script refreshes in place (`GET /admin/api/live`). */
export interface LiveView {
  readonly overview: AdminOverview;
  readonly failed: readonly FailedAction[];
  readonly failedEvents: readonly FailedEvent[];
  readonly recent: readonly RecentEventSummary[];
  /** The problems of the rule files the live rules were last (re)loaded from; empty while they load. */
  readonly ruleProblems: readonly RuleProblem[];
}

/** Options of {@link loadLiveView}. */
export interface LiveViewOptions {
  /** The time the view is read at (the throughput windows end there). */
  readonly now: Date;
  /** @defaultValue none */
  readonly integrations?: readonly string[];
  /** @defaultValue none */
  readonly reconciledSources?: readonly string[];
}

/** An event's trace and the current state of every action its runs planned. */
export interface EventDetail {
  readonly trace: EventTrace;
  readonly actions: ActionStatus[];
  /** Deliveries of the same event id with another body, stored as their own events. @defaultValue none */
  readonly conflictingDuplicates?: readonly string[];
}

const MINUTE_MS = 60_000;

/**
 * Reads the overview; `now` is passed in so tests can pin the throughput windows.
 * @param integrations the integrations whose pause state is shown. @defaultValue none
 * @param reconciledSources the sources whose last reconciliation is shown. @defaultValue none
 */
export async function loadOverview(
  operations: BridgeOperations,
  now: Date,
  integrations: readonly string[] = [],
  reconciledSources: readonly string[] = [],
): Promise<AdminOverview> {
  const nowMs = now.getTime();
  const [queues, eventsLast5Minutes, eventsLast60Minutes, pauses, reconciliation] = await Promise.all([
    operations.getQueueCounts(),
    operations.countRecentEvents(nowMs - 5 * MINUTE_MS),
    operations.countRecentEvents(nowMs - 60 * MINUTE_MS),
    operations.getIntegrationPauses(integrations),
    operations.getReconcileStatus(reconciledSources),
  ]);
  const statuses = [...pauses].map(([integration, pause]): IntegrationStatus =>
    pause
      ? { integration, state: 'paused', summary: describePause(integration, pause), reason: pause.reason, pausedSince: new Date(pause.since).toISOString() }
      : { integration, state: 'running', summary: `${integration}: running` },
  );
  return { queues, throughput: { eventsLast5Minutes, eventsLast60Minutes }, integrations: statuses, reconciliation, generatedAt: now.toISOString() };
}

/** What the page's live parts show now: read for the page and for each refresh alike. */
export async function loadLiveView(operations: BridgeOperations, options: LiveViewOptions): Promise<LiveView> {
  const [overview, failed, failedEvents, recent, ruleProblems] = await Promise.all([
    loadOverview(operations, options.now, options.integrations, options.reconciledSources),
    operations.listFailedActions(100),
    operations.listFailedEvents(100),
    operations.listRecentEvents(RECENT_EVENTS_SHOWN),
    operations.listRuleProblems(),
  ]);
  return { overview, failed, failedEvents, recent, ruleProblems };
}

/** The trace of one event with its actions' states; `null` when no trace is kept. */
export async function loadEventDetail(operations: BridgeOperations, eventId: string): Promise<EventDetail | null> {
  const trace = await operations.getEventTrace(eventId);
  if (!trace) return null;
  const [actions, conflictingDuplicates] = await Promise.all([operations.getActionStatuses(trace), operations.listConflictingDuplicates(eventId)]);
  return { trace, actions, conflictingDuplicates };
}

/** Reads a `?limit=` query value, clamped to 1…max. */
export function parseLimit(value: unknown, fallback: number, max: number): number {
  const parsed = typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : fallback;
  return Math.min(Math.max(parsed, 1), max);
}
