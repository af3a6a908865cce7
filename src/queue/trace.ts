import type { ChainableCommander } from 'ioredis';
import type { BridgeEvent } from '../events/event.js';
import type { Plan } from '../rules/plan.js';
import { describeAffiliateEvent } from '../sources/source.js';
import { sourceRegistry, type SourceRegistry } from '../sources/registry.js';
import { bridgeKeys } from './names.js';
import type { RedisConnection } from '../infra/redis.js';
import { autoPipelined, throwFirstError } from '../infra/auto-pipeline.js';

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

/** Keeps the recent-events index to this many ids (give or take one trim interval's worth). */
export const RECENT_EVENTS_KEPT = 10_000;

/**
 * The recent-events index is trimmed on one trace write in this many (per process), not on every
 * one: a trim per event is a Redis command per event for a cap that only needs to hold roughly.
 */
export const RECENT_EVENTS_TRIM_INTERVAL = 100;

let writesSinceTrim = 0;

export async function readEventTrace(redis: RedisConnection, prefix: string, eventId: string): Promise<EventTrace | null> {
  const stored = await redis.get(bridgeKeys(prefix).trace(eventId));
  return stored ? decodeStoredTrace(stored) : null;
}

/**
 * The `format` of a trace stored compact by {@link encodeStoredTrace}. The full form (every trace
 * written before it, and a trace the compact form cannot give back exactly) has no `format`.
 */
export const COMPACT_TRACE_FORMAT = 2;

/** The lists every run has; the compact form leaves them out when empty. In {@link TraceRun}'s order. */
const RUN_LISTS = ['matched', 'unmatched', 'failures', 'warnings', 'actionJobIds', 'suppressed'] as const;
/** The keys {@link expandRun} writes first, in its order. */
const EXPANDED_RUN_HEAD = ['at', 'generation', 'quarantined', ...RUN_LISTS];

/**
 * The JSON kept under an event's trace key: readable JSON, compact where that loses nothing.
 *
 * The compact form, `{ "format": 2, "event", "runs" }`, keeps the payload and the runs and leaves
 * out what the decoder gives back: the event's `affiliate` and `canonicalTypes`, which its source's
 * affiliate normalizer derives from the payload again, and each run's empty lists and
 * `quarantined: false`. For a 3.7 KB payload that is the difference between jemalloc's 5,120 and
 * 4,096-byte size classes.
 *
 * It is exact by construction: the compact form is kept only when {@link decodeStoredTrace} gives
 * back the very same JSON (the same fields, values and order), else the full form `{ event, runs }`
 * is, as before. So an event whose stored affiliate fields are not what its payload derives (a
 * conflicting duplicate, an event stored before the affiliate model or without it), or that would
 * read back in another order (a schema-quarantined event, whose quarantine fields follow its
 * payload), or whose runs predate a list (no `suppressed` before once_per) keeps everything as is,
 * without a rule per case to keep in step with the sources. The fields are derived by the running
 * version's normalizer: after an upgrade that changes it, a compact trace reads with the new
 * description, as an event stored without the fields already did.
 *
 * The check costs one parse of the event as written, not a serialization of the whole trace: JSON
 * text parsed and written again is the same text, so the payload and every value of a run read back
 * as they were written, and what can differ is only around them: the event's other fields (its
 * derived ones from the normalizer, which runs on the parsed event as the decoder's does, and the
 * payload's place among them), and each run's keys (see {@link runReadsBackExactly}). With a
 * thousand rules considered per event a run lists a thousand unmatched rules, which the check used
 * to serialise three times and parse once per event.
 * @param registry the sources whose normalizers derive the affiliate fields: the shipped ones.
 */
export function encodeStoredTrace(trace: EventTrace, registry: SourceRegistry = sourceRegistry): string {
  const { affiliate: _affiliate, canonicalTypes: _canonicalTypes, ...payloadEvent } = trace.event;
  const eventJson = JSON.stringify(payloadEvent);
  if (!trace.runs.every(runReadsBackExactly) || !eventReadsBackExactly(trace.event, eventJson, registry)) return JSON.stringify(trace);
  // What JSON.stringify({ format, event: payloadEvent, runs }) writes, without serialising the payload again.
  return `{"format":${COMPACT_TRACE_FORMAT},"event":${eventJson},"runs":${JSON.stringify(trace.runs.map(compactRun))}}`;
}

/**
 * Whether the decoder makes of `eventJson` (the event without its derived fields, as written) an
 * event that writes as `event` does. The payload is left out of the comparison (a placeholder keeps
 * its place): it reads back as written.
 */
function eventReadsBackExactly(event: BridgeEvent, eventJson: string, registry: SourceRegistry): boolean {
  const decoded = decodeEvent(JSON.parse(eventJson) as BridgeEvent, registry);
  return JSON.stringify({ ...decoded, data: 0 }) === JSON.stringify({ ...event, data: 0 });
}

/**
 * Whether {@link expandRun} gives back the JSON `run` writes from its compact form: it writes
 * `at`, `generation`, `quarantined` and the lists in {@link TraceRun}'s order, then the rest as
 * stored, so the run's own written keys must start in that order, with `quarantined` a boolean and
 * every list present.
 */
function runReadsBackExactly(run: TraceRun): boolean {
  const fields = run as unknown as Record<string, unknown>;
  const written = Object.keys(fields).filter((key) => fields[key] !== undefined);
  return typeof run.quarantined === 'boolean' && EXPANDED_RUN_HEAD.every((key, index) => written[index] === key) && RUN_LISTS.every((list) => Array.isArray(fields[list]));
}

/**
 * The trace a stored JSON holds, in the compact form ({@link encodeStoredTrace}) or the full one.
 * Every reader of a trace key goes through it.
 * @throws SyntaxError when `stored` is not JSON.
 */
export function decodeStoredTrace(stored: string, registry: SourceRegistry = sourceRegistry): EventTrace {
  const trace = JSON.parse(stored) as EventTrace & { readonly format?: number };
  if (trace.format !== COMPACT_TRACE_FORMAT) return trace;
  return { event: decodeEvent(trace.event, registry), runs: trace.runs.map(expandRun) };
}

/** A compact trace's event with the fields its source's normalizer derives from the payload. */
function decodeEvent(event: BridgeEvent, registry: SourceRegistry): BridgeEvent {
  const source = Object.hasOwn(registry, event.source) ? registry[event.source] : undefined;
  return describeAffiliateEvent(event, source?.normalizeAffiliate);
}

function compactRun(run: TraceRun): Partial<TraceRun> {
  const compact: Record<string, unknown> = { ...run };
  for (const list of RUN_LISTS) if (compact[list] !== undefined && (compact[list] as readonly unknown[]).length === 0) delete compact[list];
  if (run.quarantined === false) delete compact.quarantined;
  return compact;
}

function expandRun(stored: Partial<TraceRun>): TraceRun {
  const { at, generation, quarantined = false, ...rest } = stored as TraceRun;
  // Written in TraceRun's order, then what the run has, so the JSON reads as the events worker wrote it.
  const lists = Object.fromEntries(RUN_LISTS.map((list) => [list, []]));
  return { at, generation, quarantined, ...lists, ...rest } as TraceRun;
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
  /**
   * More writes for the same round trip (quarantine list, plan failures). They must be idempotent
   * (or, like rule-error counts, accept being counted again when a job runs again): a first run's
   * writes are sent with the trace before Redis says whether a run was already kept.
   * @defaultValue none: only the trace and the recent-events index are written
   */
  readonly extra?: (multi: ChainableCommander, previousRuns: readonly TraceRun[]) => void;
}

/**
 * Adds `run` to the event's trace. A run of a generation the trace already has (the same job run
 * again after a stall or a crash before its ack) replaces it.
 *
 * The trace is the one stored copy of the event (the event job is removed once planned), kept as
 * readable JSON `{ event, runs }`, compact where that loses nothing ({@link encodeStoredTrace}).
 *
 * Redis work: an event's first run (generation 0) is written with `SET … NX` beside the index and
 * `extra`'s writes, on the connection's auto-pipeline (no MULTI; see autoPipelined) and without
 * reading the trace first: almost always there is none. Every write there is idempotent, so when
 * one fails the job fails and its next attempt writes them all again. When a trace exists (the job
 * ran before), the runs are merged and written again in one MULTI. A replay reads the earlier runs
 * first, since its `extra` needs them.
 * @returns whether the trace already had a run of this generation.
 */
export async function appendTraceRun(event: BridgeEvent, run: TraceRun, options: AppendTraceRunOptions): Promise<{ readonly isRerun: boolean }> {
  const keys = bridgeKeys(options.prefix);
  const traceKey = keys.trace(event.id);
  if (run.generation === 0) {
    // On the auto-pipeline: the traces of the events planned in the same turn share one write.
    const pipeline = autoPipelined(options.state).set(traceKey, encodeStoredTrace({ event, runs: [run] }), 'PX', options.ttlMs, 'NX');
    queueRecentEventWrites(pipeline, keys.recentEvents, event.id, options.receivedAtMs);
    options.extra?.(pipeline, []);
    const results = throwFirstError(await pipeline.exec());
    if (results[0]?.[1] === 'OK') return { isRerun: false };
    // A trace exists: merge this run into it (extra's writes are done already).
    return writeMergedTrace(event, run, options, () => undefined);
  }
  return writeMergedTrace(event, run, options, options.extra);
}

async function writeMergedTrace(
  event: BridgeEvent,
  run: TraceRun,
  options: AppendTraceRunOptions,
  extra: AppendTraceRunOptions['extra'],
): Promise<{ readonly isRerun: boolean }> {
  const keys = bridgeKeys(options.prefix);
  const existing = await readEventTrace(options.state, options.prefix, event.id);
  const previousRuns = existing?.runs ?? [];
  const runs = previousRuns.filter((previous) => previous.generation !== run.generation);
  const multi = options.state.multi().set(keys.trace(event.id), encodeStoredTrace({ event, runs: [...runs, run] }), 'PX', options.ttlMs);
  queueRecentEventWrites(multi, keys.recentEvents, event.id, options.receivedAtMs);
  extra?.(multi, runs);
  throwFirstError(await multi.exec());
  return { isRerun: runs.length !== previousRuns.length };
}

function queueRecentEventWrites(multi: ChainableCommander, key: string, eventId: string, receivedAtMs: number): void {
  multi.zadd(key, receivedAtMs, eventId);
  writesSinceTrim += 1;
  if (writesSinceTrim >= RECENT_EVENTS_TRIM_INTERVAL) {
    writesSinceTrim = 0;
    multi.zremrangebyrank(key, 0, -RECENT_EVENTS_KEPT - 1);
  }
}
