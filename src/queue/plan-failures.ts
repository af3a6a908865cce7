import type { ChainableCommander } from 'ioredis';
import { bridgeKeys } from './names.js';
import type { RedisConnection } from '../infra/redis.js';

/**
 * An action of a matching rule that could not be planned (a template failed to render, params
 * invalid once rendered), recorded by the events worker where it was found. It is a dead letter
 * without a job: the same event and rules would fail the same way, so there is nothing to retry;
 * the fix is a rule edit and `events replay`.
 *
 * Storage, under the bridge prefix (so in the queue's Cluster slot): one JSON string per failure
 * with the dedup window as TTL, and a sorted set of their ids scored by failure time, capped and
 * pruned of expired ids on every write.
 */
export interface PlanFailureRecord {
  /** The id the action job would have had; the dead-letter list shows it as the job id. */
  readonly id: string;
  readonly action: string;
  readonly ruleId: string;
  readonly ruleFile: string;
  readonly eventId: string;
  readonly eventType: string;
  /** The replay generation of the run that found it (0: first delivery). */
  readonly generation: number;
  readonly error: string;
  /** ISO time. */
  readonly failedAt: string;
}

/** The index keeps this many plan failures; older ones drop off the list (their records expire). */
const PLAN_FAILURES_KEPT = 10_000;

/**
 * Queues the writes recording `failures` onto `multi` (the trace's MULTI, so a trace never names a
 * failure the list lacks). `supersededIds` are the event's earlier failures a replay has planned
 * again: they leave the list, since the replay's run records whatever still fails.
 */
export function queuePlanFailureWrites(
  multi: ChainableCommander,
  prefix: string,
  failures: readonly PlanFailureRecord[],
  options: { readonly ttlMs: number; readonly nowMs: number; readonly supersededIds?: readonly string[] },
): void {
  const keys = bridgeKeys(prefix);
  const superseded = options.supersededIds ?? [];
  if (superseded.length > 0) {
    multi.del(...superseded.map((id) => keys.planFailure(id)));
    multi.zrem(keys.planFailures, ...superseded);
  }
  if (failures.length === 0) return;
  for (const failure of failures) {
    multi.set(keys.planFailure(failure.id), JSON.stringify(failure), 'PX', options.ttlMs);
    multi.zadd(keys.planFailures, Date.parse(failure.failedAt), failure.id);
  }
  multi
    .zremrangebyscore(keys.planFailures, '-inf', options.nowMs - options.ttlMs)
    .zremrangebyrank(keys.planFailures, 0, -PLAN_FAILURES_KEPT - 1)
    .pexpire(keys.planFailures, options.ttlMs);
}

/** The newest plan failures first. Ids whose record has expired are skipped. */
export async function listPlanFailures(redis: RedisConnection, prefix: string, limit: number): Promise<PlanFailureRecord[]> {
  const keys = bridgeKeys(prefix);
  const ids = await redis.zrevrange(keys.planFailures, 0, limit - 1);
  if (ids.length === 0) return [];
  const stored = await redis.mget(...ids.map((id) => keys.planFailure(id)));
  return stored.filter((value): value is string => value !== null).map((value) => JSON.parse(value) as PlanFailureRecord);
}

export async function readPlanFailure(redis: RedisConnection, prefix: string, id: string): Promise<PlanFailureRecord | null> {
  const stored = await redis.get(bridgeKeys(prefix).planFailure(id));
  return stored ? (JSON.parse(stored) as PlanFailureRecord) : null;
}
