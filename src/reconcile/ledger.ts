import type { BridgeEvent, EventOrigin } from '../events/event.js';
import type { RedisConnection } from '../infra/redis.js';
import type { LedgerEntry } from './reconciliation.js';
import { LuaScript } from '../infra/lua-script.js';

/**
 * Reconciliation's Redis keys, all under the bridge's prefix (and so its hash tag on Cluster):
 * defined once, here.
 */
export function reconcileKeys(prefix: string) {
  return {
    /**
     * One provider object the bridge has seen in an event: a hash of `m.<milestone>` →
     * `<origin> <event id>` (which event announced it first), `state` (the last milestone recorded)
     * and `seenAt`. Expires after the ledger's horizon.
     */
    ledgerObject: (source: string, kind: string, objectId: string) => `${prefix}:ledger:${source}:${kind}:${objectId}`,
    /** The end of the span the last successful run covered (ms since the epoch): where the next run resumes from. */
    watermark: (source: string) => `${prefix}:reconcile:watermark:${source}`,
    /** When the last run of a source succeeded (ms since the epoch), for the dashboard. */
    lastSuccess: (source: string) => `${prefix}:reconcile:last-success:${source}`,
    /** Held while a run of a source is under way, by every process: one run at a time. */
    runLock: (source: string) => `${prefix}:reconcile:lock:${source}`,
  };
}

/** One reconciled source's line on the dashboard. */
export interface ReconcileStatus {
  readonly source: string;
  /** When its last run succeeded (ISO 8601); null: never. */
  readonly lastSuccessAt: string | null;
}

/** The last success time of each of `sources` (null: never), read from Redis. */
export async function readReconcileStatus(redis: RedisConnection, prefix: string, sources: readonly string[]): Promise<ReconcileStatus[]> {
  if (sources.length === 0) return [];
  const keys = reconcileKeys(prefix);
  const values = await redis.mget(...sources.map((source) => keys.lastSuccess(source)));
  return sources.map((source, index) => {
    const value = values[index];
    return { source, lastSuccessAt: value ? new Date(Number(value)).toISOString() : null };
  });
}

/** What recording an event's milestone found. */
export interface LedgerClaim {
  /** This event announced the milestone first (or is the event that did, run again): plan it. */
  readonly isFirst: boolean;
  /** The event that announced it first, and where it came from. */
  readonly heldBy: { readonly eventId: string; readonly origin: EventOrigin };
}

// Records the milestone unless an event already did; always refreshes the object's expiry and
// last state. One script, so two workers recording the same milestone cannot both be first.
// Every event runs it: the first claim writes the milestone and the state in one HSET (three
// commands in all, not four).
// KEYS[1] object hash; ARGV: milestone, "<origin> <event id>", ttl ms, seen-at ms.
const CLAIM_SCRIPT = `
local field = 'm.' .. ARGV[1]
local holder = redis.call('HGET', KEYS[1], field)
if not holder then
  holder = ARGV[2]
  redis.call('HSET', KEYS[1], field, holder, 'state', ARGV[1], 'seenAt', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'state', ARGV[1], 'seenAt', ARGV[4])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return holder
`;

const CLAIM = new LuaScript(CLAIM_SCRIPT);

/** Options of {@link EntityLedger}. */
export interface EntityLedgerOptions {
  /** The connection for the bridge's own keys. */
  readonly redis: RedisConnection;
  /** QUEUE_PREFIX. */
  readonly prefix: string;
  /** How long an object is remembered after its last event, in ms: the reconciliation horizon. */
  readonly ttlMs: number;
}

/**
 * The entity ledger: every provider object the bridge has seen in an event (referral, commission,
 * promoter or affiliate, payout), with the milestones it has seen and its last known state, for
 * the reconciliation horizon. Written by the events worker for every event that announces a
 * milestone (webhook or reconciled), read by reconciliation to tell what it never saw.
 */
export class EntityLedger {
  readonly #options: EntityLedgerOptions;

  constructor(options: EntityLedgerOptions) {
    if (!options.redis) throw new TypeError('EntityLedger needs a Redis connection');
    this.#options = options;
  }

  /**
   * Records that `event` announced `entry`'s milestone, unless an event already did; says which
   * event holds it. The same event recorded again (a re-run job) finds itself holding it.
   */
  async claim(source: string, entry: LedgerEntry, event: Pick<BridgeEvent, 'id' | 'origin'>, nowMs: number): Promise<LedgerClaim> {
    const { redis, prefix, ttlMs } = this.#options;
    const own = `${event.origin ?? 'webhook'} ${event.id}`;
    const holder = (await CLAIM.run(
      redis,
      [reconcileKeys(prefix).ledgerObject(source, entry.kind, entry.objectId)],
      [entry.state, own, String(ttlMs), String(nowMs)],
    )) as string;
    const [origin, eventId] = splitHolder(holder);
    return { isFirst: holder === own, heldBy: { eventId, origin } };
  }

  /** The milestones the ledger holds for each of `objectIds` of one kind (an unknown object: an empty set). */
  async readMilestones(source: string, kind: string, objectIds: readonly string[]): Promise<Map<string, Set<string>>> {
    const { redis, prefix } = this.#options;
    const keys = reconcileKeys(prefix);
    const seen = new Map<string, Set<string>>();
    if (objectIds.length === 0) return seen;
    const pipeline = redis.pipeline();
    for (const objectId of objectIds) pipeline.hkeys(keys.ledgerObject(source, kind, objectId));
    const results = (await pipeline.exec()) ?? [];
    objectIds.forEach((objectId, index) => {
      const [error, fields] = results[index] ?? [null, []];
      if (error) throw error;
      seen.set(objectId, new Set((fields as string[]).filter((field) => field.startsWith('m.')).map((field) => field.slice(2))));
    });
    return seen;
  }
}

function splitHolder(holder: string): [EventOrigin, string] {
  const space = holder.indexOf(' ');
  const origin = holder.slice(0, space) === 'reconciled' ? 'reconciled' : 'webhook';
  return [origin, holder.slice(space + 1)];
}

/**
 * Whether an event whose milestone another event announced first is planned anyway. Two webhooks
 * of one milestone (an account subscribed to both FirstPromoter envelopes) run as before; but a
 * reconciled event never runs after any other event, and a webhook never runs after a reconciled
 * event that recovered it: each milestone's actions run once. Pure.
 */
export function isPlannedDespiteHolder(event: Pick<BridgeEvent, 'origin'>, claim: LedgerClaim): boolean {
  if (claim.isFirst) return true;
  return (event.origin ?? 'webhook') === 'webhook' && claim.heldBy.origin === 'webhook';
}
