import type { RedisConnection } from '../infra/redis.js';
import { bridgeKeys } from './names.js';
import { LuaScript } from '../infra/lua-script.js';

/**
 * `once_per` claims: an action with a `once_per` key runs only for the first event that claims
 * its key (per rule and action) within the window; a later event of the same key is suppressed
 * and its trace names the event that holds the key. The claim is a plain `SET NX PX` of the
 * holding event's id, so a throttle (at most N per key per window) can share it.
 */

/** One action's claim to make. */
export interface ActionClaimRequest {
  readonly ruleId: string;
  readonly actionIndex: number;
  /** The rendered once_per key. */
  readonly key: string;
  /** How long the key is held, in ms. */
  readonly windowMs: number;
}

/** The answer for one {@link ActionClaimRequest}. */
export interface ActionClaim {
  /** True when this event holds the key: it claimed it now, or on an earlier run of the same job. */
  readonly isHeld: boolean;
  /** The id of the event that holds the key (this event's own id when `isHeld`). */
  readonly heldBy: string;
}

/*
 * Every claim of one event in one round trip, each atomic: SET NX, and when the key is taken, the
 * holder read in the same script (two commands would race with the key's expiry). A script rather
 * than SET … NX GET, which needs Redis 7; all keys share the prefix, hence one Cluster slot.
 */
const CLAIM_LUA = `
local holders = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[i + 1]) then
    holders[i] = ARGV[1]
  else
    holders[i] = redis.call('GET', key)
  end
end
return holders
`;

const CLAIM = new LuaScript(CLAIM_LUA);

/**
 * Claims each key for `eventId`. Idempotent for the holder: the event that holds a key finds it
 * held by itself on a re-run (a stalled job, a crash before the actions were enqueued), so a
 * re-run never suppresses its own action.
 * @returns one answer per request, in order.
 * @throws whatever ioredis throws when Redis cannot be reached (the event job is then retried).
 */
export async function claimActions(
  redis: RedisConnection,
  prefix: string,
  eventId: string,
  requests: readonly ActionClaimRequest[],
): Promise<ActionClaim[]> {
  if (requests.length === 0) return [];
  const keys = bridgeKeys(prefix);
  const claimKeys = requests.map((request) => keys.actionClaim(request.ruleId, request.actionIndex, request.key));
  const args = [eventId, ...requests.map((request) => String(Math.max(1, Math.round(request.windowMs))))];
  const holders = (await CLAIM.run(redis, claimKeys, args)) as string[];
  return holders.map((heldBy) => ({ isHeld: heldBy === eventId, heldBy }));
}

