import type { Logger } from 'pino';
import type { BridgeEvent } from '../events/event.js';
import type { BridgeMetrics } from '../observability/metrics.js';
import type { StoreOutcome } from '../queue/event-intake.js';
import type { NormalizeOptions, Source } from '../sources/source.js';
import type { EntityLedger } from './ledger.js';
import { findGaps, type Gap, type ReconcileWindow } from './reconciliation.js';

/** One synthesized event, as `reconcile --json` prints it. */
export interface SynthesizedEvent {
  readonly eventId: string;
  readonly type: string;
  readonly objectId: string;
}

/** What one run found for one source: `reconcile --json` prints exactly this. */
export interface ReconcileReport {
  readonly source: string;
  /** Provider objects listed and compared with the ledger. */
  readonly checked: number;
  /** Milestones the ledger lacked (events the bridge never saw). */
  readonly missing: number;
  /**
   * The events stored for them (a dry run: the events it would store). An event already stored by
   * an earlier run and not yet processed is missing but not synthesized again.
   */
  readonly synthesized: SynthesizedEvent[];
}

/** How one run treats what it finds. */
export type ReconcileMode =
  /** Synthesize and store an event for every gap. */
  | 'synthesize'
  /** Only list the gaps. */
  | 'dry-run'
  /**
   * The first scheduled run of a source: record every milestone the API lists as seen, synthesize
   * nothing, so that turning reconciliation on does not replay the whole window.
   */
  | 'baseline';

/** Options of {@link reconcileSource}. */
export interface ReconcileSourceOptions {
  /** The source, with its `reconciliation` declaration. */
  readonly source: Source;
  /** Its API client, built by `source.reconciliation.connect`. */
  readonly api: unknown;
  /** What the bridge has seen; read for each listed object. */
  readonly ledger: EntityLedger;
  /** Where synthesized events are stored: the webhooks' own intake (dedup by event id). */
  readonly intake: { store(event: BridgeEvent): Promise<StoreOutcome> };
  /** Objects created or changed in this span are compared. */
  readonly window: ReconcileWindow;
  /** Synthesize, only list (dry run), or record a baseline. */
  readonly mode: ReconcileMode;
  /** What the webhook router strips and scrubs from payloads (STRIPPED_FIELDS, the secrets). */
  readonly normalize: Pick<NormalizeOptions, 'strippedFields' | 'secretScrubber'>;
  /** One line per gap found. */
  readonly logger: Logger;
  /** Where `bridge_reconciled_events_total` is counted. @defaultValue none */
  readonly metrics?: BridgeMetrics;
  /** Milliseconds since the epoch: each synthesized event's `receivedAt`. */
  readonly now: () => number;
}

/** Ledger reads per round trip. */
const LEDGER_READ_CHUNK = 500;

/**
 * Lists the source's objects of the window, kind by kind, compares their milestones with the
 * ledger and, for each milestone never seen, synthesizes the webhook's delivery, normalizes it with
 * the source's own normalizer (secrets stripped and scrubbed as for a webhook), marks it
 * `origin: "reconciled"` and stores it through the webhook intake: the normal pipeline from there.
 * One log line per gap.
 * @throws the API client's errors (RetryableProviderApiError, PermanentProviderApiError): the run
 *   stops there, and what it stored so far stays stored (each event is stored once by its id).
 */
export async function reconcileSource(options: ReconcileSourceOptions): Promise<ReconcileReport> {
  const { source, ledger, window, mode, logger } = options;
  const declaration = source.reconciliation;
  if (!declaration) throw new TypeError(`source ${source.name} declares no reconciliation`);
  let checked = 0;
  let missing = 0;
  const synthesized: SynthesizedEvent[] = [];
  for (const kind of declaration.kinds) {
    const objects: Record<string, unknown>[] = [];
    for await (const object of kind.list(options.api, window)) objects.push(object);
    checked += objects.length;
    for (let start = 0; start < objects.length; start += LEDGER_READ_CHUNK) {
      const chunk = objects.slice(start, start + LEDGER_READ_CHUNK);
      const ids = chunk.map((object) => kind.idOf(object)).filter((id): id is string => id !== null);
      const seen = await ledger.readMilestones(source.name, kind.kind, ids);
      const gaps = findGaps(kind, chunk, seen, window);
      missing += gaps.length;
      for (const gap of gaps) {
        const event = synthesizeEvent(source, gap, options);
        if (mode === 'baseline') {
          await ledger.claim(source.name, { kind: gap.kind, objectId: gap.objectId, state: gap.milestone.state }, { id: event.id, origin: 'webhook' }, options.now());
          continue;
        }
        const entry = { eventId: event.id, type: event.type, objectId: gap.objectId };
        if (mode === 'dry-run') {
          synthesized.push(entry);
          continue;
        }
        const outcome = await options.intake.store(event);
        if (outcome === 'duplicate') continue;
        synthesized.push(entry);
        options.metrics?.reconciledEvents.inc({ source: source.name, type: event.type });
        logger.warn(
          { source: source.name, eventId: event.id, eventType: event.type, kind: gap.kind, objectId: gap.objectId, occurredAt: event.occurredAt },
          `${source.title} never delivered ${event.type} for ${gap.kind} ${gap.objectId}: synthesized ${event.id} from its API`,
        );
      }
    }
  }
  if (mode === 'baseline') {
    logger.info({ source: source.name, checked, recorded: missing }, `first reconciliation of ${source.title}: ${missing} milestone(s) its API lists recorded as seen, nothing synthesized`);
  }
  return { source: source.name, checked, missing, synthesized };
}

/** The event the webhook would have carried, through the source's own normalizer. */
function synthesizeEvent(source: Source, gap: Gap, options: ReconcileSourceOptions): BridgeEvent {
  const receivedAt = new Date(options.now());
  // A milestone the object dates nowhere happened in the window; the run's time stands in.
  const milestone = { ...gap.milestone, at: gap.milestone.at ?? receivedAt.toISOString() };
  const delivery = source.reconciliation!.synthesizeDelivery(gap.kind, gap.object, milestone, gap.providerEventId);
  const event = source.normalize(delivery, { receivedAt, ...options.normalize });
  return { ...event, origin: 'reconciled' };
}
