import type { ChainableCommander } from 'ioredis';
import type { BridgeEvent } from '../events/event.js';
import type { Plan } from '../rules/plan.js';
import { bridgeKeys } from './names.js';
import type { RedisConnection } from '../infra/redis.js';

/** An action of a matching rule that could not be planned, as a trace run keeps it. */
export interface TraceFailure {
  readonly ruleId: string;
  readonly action: string;
  readonly error: string;
  /** Its id in the dead-letter list (`actions failed`); absent in traces written before plan failures were stored. */
  readonly id?: string;
}

/** An action not enqueued because its `once_per` key is held by an earlier event. */
export interface TraceSuppressed {
  readonly ruleId: string;
  readonly action: string;
  /** Position in the rule's `do` list (0-based). */
  readonly actionIndex: number;
  /** The rendered once_per key. */
  readonly key: string;
  /** The event that holds the key: the one whose run sent the action. */
  readonly heldBy: string;
}

/** An action added to a digest (Slack's `group:`) instead of being enqueued on its own. */
export interface TraceGrouped {
  readonly ruleId: string;
  readonly action: string;
  /** Position in the rule's `do` list (0-based). */
  readonly actionIndex: number;
  /** The digest that carries it: also the digest's job id in the actions queue. */
  readonly digest: string;
}

/** One planning run of an event, as kept in its trace. */
export interface TraceRun {
  readonly at: string;
  readonly generation: number;
  readonly quarantined: boolean;
  readonly matched: ReadonlyArray<{ readonly ruleId: string; readonly file: string }>;
  readonly unmatched: Plan['unmatched'];
  readonly failures: readonly TraceFailure[];
  readonly warnings: readonly string[];
  /** The action jobs this run enqueued (plan failures are not jobs: see `failures`). */
  readonly actionJobIds: readonly string[];
  /** Actions not enqueued because their once_per key was held; absent in traces written before once_per. */
  readonly suppressed?: readonly TraceSuppressed[];
  /**
   * Set when nothing was planned because another event already announced the same milestone of the
   * same provider object (a webhook and the reconciled event that recovered it): that event's id.
   */
  readonly duplicateOf?: string;
  /** Actions added to a digest, each with the digest that carries it; absent when none was. */
  readonly grouped?: readonly TraceGrouped[];
}

/** The stored record of an event: the event (secrets stripped) and every planning run of it. */
export interface EventTrace {
  readonly event: BridgeEvent;
  readonly runs: TraceRun[];
}

/** Keeps the recent-events index to this many ids. */
const RECENT_EVENTS_KEPT = 10_000;

export async function readEventTrace(redis: RedisConnection, prefix: string, eventId: string): Promise<EventTrace | null> {
  const stored = await redis.get(bridgeKeys(prefix).trace(eventId));
  return stored ? (JSON.parse(stored) as EventTrace) : null;
}

/** Options of {@link appendTraceRun}. */
export interface AppendTraceRunOptions {
  /** The connection for the bridge's own keys (traces, the recent-events index). */
  readonly state: RedisConnection;
  /** The queue prefix (QUEUE_PREFIX) the trace keys start with. */
  readonly prefix: string;
  /** How long the trace is kept, in ms (the dedup window). */
  readonly ttlMs: number;
  /** Sorts the event into the recent-events index (ms since the epoch). */
  readonly receivedAtMs: number;
  /** More writes for the same MULTI (quarantine list, plan failures). @defaultValue none: only the trace and the recent-events index are written */
  readonly extra?: (multi: ChainableCommander, previousRuns: readonly TraceRun[]) => void;
}

/**
 * Adds `run` to the event's trace, in one MULTI with `extra`'s writes. A run of a generation the
 * trace already has (the same job run again after a stall or a crash before its ack) replaces it.
 * @returns whether the trace already had a run of this generation.
 */
export async function appendTraceRun(event: BridgeEvent, run: TraceRun, options: AppendTraceRunOptions): Promise<{ readonly isRerun: boolean }> {
  const keys = bridgeKeys(options.prefix);
  const existing = await readEventTrace(options.state, options.prefix, event.id);
  const previousRuns = existing?.runs ?? [];
  const runs = previousRuns.filter((previous) => previous.generation !== run.generation);
  const multi = options.state
    .multi()
    .set(keys.trace(event.id), JSON.stringify({ event, runs: [...runs, run] }), 'PX', options.ttlMs)
    .zadd(keys.recentEvents, options.receivedAtMs, event.id)
    .zremrangebyrank(keys.recentEvents, 0, -RECENT_EVENTS_KEPT - 1);
  options.extra?.(multi, runs);
  await multi.exec();
  return { isRerun: runs.length !== previousRuns.length };
}
