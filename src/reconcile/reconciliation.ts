import type { BridgeEvent } from '../events/event.js';
import type { ProviderApiClient } from './provider-api.js';

/*
 * What a source declares so that the bridge can fetch, from the provider's REST API, the events its
 * webhooks never delivered (`affiliate-bridge reconcile`, and the scheduled run). The declaration is
 * data plus pure functions; the HTTP client, Redis and the queue live in the shells around it
 * (provider-api.ts, ledger.ts, run-reconciliation.ts).
 *
 * The model: every provider object (a referral, a commission, a promoter or affiliate, a payout)
 * passes through *milestones* (`created`, `converted`, `paid`…), and each milestone is what one
 * webhook event announces (`referral.converted`). The ledger remembers which milestones of which
 * objects the bridge has seen in an event; reconciliation lists the objects of a window, asks each
 * which milestones it has reached, and synthesizes the event of every milestone the ledger lacks.
 */

/** One milestone an object has reached, and the webhook event that announces it. */
export interface Milestone {
  /** The milestone's name in the ledger and in synthesized event ids: `created`, `converted`. */
  readonly state: string;
  /** The provider type of the webhook event that announces it: `referral.converted`. */
  readonly providerType: string;
  /**
   * When it happened (ISO 8601), when the object says so; null when it does not (the object was
   * listed because it changed in the window, so the milestone counts as inside it).
   */
  readonly at: string | null;
}

/** What an event records in the ledger: one milestone of one object. */
export interface LedgerEntry {
  /** The object's kind: `referral`, `commission`, `promoter`, `affiliate`, `payout`. */
  readonly kind: string;
  /** The provider's id of the object, as a string. */
  readonly objectId: string;
  /** The milestone the event announces (see {@link Milestone.state}). */
  readonly state: string;
}

/** The time span a reconciliation run covers: objects created or changed in `[since, until]`. */
export interface ReconcileWindow {
  readonly since: Date;
  readonly until: Date;
}

/** One kind of provider object: how to list it and which milestones an object has reached. */
export interface ObjectKind<Api> {
  /** `referral`, `commission`, `promoter`, `affiliate`, `payout`. */
  readonly kind: string;
  /**
   * Every object created or changed in the window, as far as the provider's list endpoint can tell
   * (its filters and sort order); objects outside the window may come too, they are filtered by
   * their milestones' times. Pages are fetched lazily, so a failed page stops the listing there.
   */
  list(api: Api, window: ReconcileWindow): AsyncIterable<Record<string, unknown>>;
  /** The object's id (integer or UUID), as a string; null when unusable (the object is skipped). */
  idOf(object: Record<string, unknown>): string | null;
  /** The milestones the object has reached, oldest first. Pure. */
  milestones(object: Record<string, unknown>): Milestone[];
}

/** Settings of a source's API client, read from its variables, with the runtime the shell passes. */
export interface ApiClientRuntime {
  /** Waits (the real clock in the bridge, a fast one in tests). */
  readonly sleep: (ms: number) => Promise<void>;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** Timeout of each request, in ms. */
  readonly timeoutMs: number;
  /** Told of every retry: the bridge logs it. */
  readonly onRetry?: (retry: { status: number | null; attempt: number; delayMs: number; path: string }) => void;
  /** Retry settings; tests pass fast ones. @defaultValue PROVIDER_API_RETRY */
  readonly retry?: { readonly attempts: number; readonly baseDelayMs: number; readonly maxDelayMs: number };
}

/**
 * A source's reconciliation: declared by its descriptor (`reconciliation` in
 * sources/<provider>/index.ts), so the registry stays the only list of sources.
 */
export interface SourceReconciliation<Api = ProviderApiClient> {
  /** The variables that must all be set for reconciliation to run (the API credentials). */
  readonly credentials: readonly string[];
  /** Builds the API client from the source's settings (its variables, secrets wrapped). */
  connect(settings: Readonly<Record<string, unknown>>, runtime: ApiClientRuntime): Api;
  /** The object kinds, in the order they are listed. */
  readonly kinds: readonly ObjectKind<Api>[];
  /** The ledger entry an event of this source records; null for an event that announces no milestone. */
  ledgerEntryOf(event: BridgeEvent): LedgerEntry | null;
  /**
   * The delivery body the provider's webhook would have carried for this milestone, with
   * `providerEventId` as its event id; the source's own `normalize` turns it into the event.
   */
  synthesizeDelivery(kind: string, object: Record<string, unknown>, milestone: Milestone, providerEventId: string): Record<string, unknown>;
}

/** One milestone the ledger lacks: the event to synthesize. */
export interface Gap {
  readonly kind: string;
  readonly objectId: string;
  readonly object: Record<string, unknown>;
  readonly milestone: Milestone;
  /** The provider event id of the synthesized event (see {@link buildReconciledEventId}). */
  readonly providerEventId: string;
}

/**
 * The provider event id of a synthesized event: `reconciled.<kind>.<object id>.<milestone>`.
 * Derived from the object and its milestone only, so reconciling twice synthesizes the same id
 * (which intake deduplication then refuses). It cannot collide with a webhook's id: FirstPromoter's
 * are integers or UUIDs (`test-…` for test deliveries), Rewardful's UUIDs, and none starts with
 * `reconciled.`.
 */
export function buildReconciledEventId(kind: string, objectId: string, state: string): string {
  return `reconciled.${kind}.${objectId}.${state}`;
}

/** Object ids become part of event ids and job ids: integers and UUIDs pass. */
const SAFE_OBJECT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** An API object's id as a string usable in event ids, or null. */
export function readObjectId(value: unknown): string | null {
  if (Number.isSafeInteger(value) && (value as number) >= 0) return String(value);
  return typeof value === 'string' && SAFE_OBJECT_ID.test(value) ? value : null;
}

/**
 * The milestones of `objects` that the ledger lacks and that happened in the window (a milestone
 * with no time counts as inside it). Pure: `seen` holds, per object id, the milestones the ledger has.
 */
export function findGaps(
  kind: ObjectKind<unknown>,
  objects: readonly Record<string, unknown>[],
  seen: ReadonlyMap<string, ReadonlySet<string>>,
  window: ReconcileWindow,
): Gap[] {
  const gaps: Gap[] = [];
  for (const object of objects) {
    const objectId = kind.idOf(object);
    if (objectId === null) continue;
    const known = seen.get(objectId);
    for (const milestone of kind.milestones(object)) {
      if (known?.has(milestone.state)) continue;
      if (!isInWindow(milestone.at, window)) continue;
      gaps.push({ kind: kind.kind, objectId, object, milestone, providerEventId: buildReconciledEventId(kind.kind, objectId, milestone.state) });
    }
  }
  return gaps;
}

function isInWindow(at: string | null, window: ReconcileWindow): boolean {
  if (at === null) return true;
  const time = Date.parse(at);
  // An unreadable time is treated like a missing one: the object was listed for this window.
  if (Number.isNaN(time)) return true;
  return time >= window.since.getTime() && time <= window.until.getTime();
}

/** Reads an ISO time field of an API object; null when absent or not a string. */
export function readTime(object: Record<string, unknown>, field: string): string | null {
  const value = object[field];
  return typeof value === 'string' && value !== '' ? value : null;
}
