import type { Job, Queue } from 'bullmq';
import type { ActionCatalog, DigestItem } from '../actions/action.js';
import { PermanentActionError } from '../errors.js';
import type { RedisConnection } from '../infra/redis.js';
import type { BridgeEvent } from '../events/event.js';
import { renderDigestText } from '../rules/digest-text.js';
import type { PlannedAction } from '../rules/plan.js';
import type { ActionJobData } from './action-job.js';
import { bridgeKeys, buildDigestGroupId, buildDigestJobId } from './names.js';
import type { TraceGrouped } from './trace.js';
import { LuaScript } from '../infra/lua-script.js';

/**
 * Digests (Slack's `group:`): the Redis half. A grouped action is not enqueued on its own: the
 * events worker appends it to its group's open digest, and the digest is posted later as one
 * action job whose id is the digest's id.
 *
 * What must hold, and how:
 * - Nothing lost: the items live in Redis (appended by one script, atomically with opening the
 *   digest), and the digest's job is added by every event that joins it, with a deterministic id
 *   (BullMQ ignores the repeats), so a crash between the append and the add is repaired by the
 *   event job's re-run or by the next event of the group.
 * - Nothing twice: an event's membership is recorded in the same script, so a re-run of its job
 *   finds the digest it joined instead of joining again; the digest job is one action, with the
 *   actions worker's completion record (and whatever exactly-once the action's runner has).
 * - Closing is one script too: the digest job deletes the group's open pointer and reads the items
 *   at once, so an event either made it into the digest or opens the next one.
 *
 * Keys built inside the scripts (`<prefix>:digest:<id>`) share the prefix, and so its Cluster hash
 * tag, with the keys passed in: BullMQ's own scripts build job keys the same way.
 */

/** One event's grouped action to add to its group. */
export interface DigestJoinRequest {
  /** Unique per event, rule action and replay generation: a re-run of the event job sends the same. */
  readonly memberId: string;
  readonly groupId: string;
  readonly ruleId: string;
  readonly actionIndex: number;
  readonly item: DigestItem;
  readonly waitMs: number;
  readonly max: number;
}

/** The digest an event's action joined. */
export interface DigestMembership {
  readonly digestId: string;
  /** When the digest opened (its first item), ms since the epoch: it is posted `waitMs` later. */
  readonly openedAtMs: number;
  /** Items in the digest once this one was added (on a re-run: now). */
  readonly count: number;
  /** True when this event had already joined it (a re-run of its job): nothing was appended. */
  readonly isRerun: boolean;
}

const JOIN_LUA = `
local known = redis.call('GET', KEYS[1])
if known then
  local base = ARGV[5] .. known
  return {known, redis.call('HGET', base, 'openedAt') or ARGV[2], redis.call('LLEN', base .. ':items'), 1}
end
local id = redis.call('GET', KEYS[2])
if not id then
  id = ARGV[6] .. redis.call('INCR', KEYS[3])
  redis.call('SET', KEYS[2], id, 'PX', ARGV[7])
  redis.call('HSET', ARGV[5] .. id, 'openedAt', ARGV[2])
  redis.call('PEXPIRE', ARGV[5] .. id, ARGV[3])
end
local base = ARGV[5] .. id
local count = redis.call('RPUSH', base .. ':items', ARGV[1])
redis.call('PEXPIRE', base .. ':items', ARGV[3])
redis.call('SET', KEYS[1], id, 'PX', ARGV[3])
if count >= tonumber(ARGV[4]) then
  -- Full: the next event of the group opens a new digest; this one is posted at once.
  redis.call('DEL', KEYS[2])
end
return {id, redis.call('HGET', base, 'openedAt'), count, 0}
`;

const CLOSE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return redis.call('LRANGE', ARGV[2] .. ARGV[1] .. ':items', 0, -1)
`;

const JOIN = new LuaScript(JOIN_LUA);
const CLOSE = new LuaScript(CLOSE_LUA);

/** How long past its wait a digest stays open to new messages when its job has not closed it. */
const OPEN_POINTER_MARGIN_MS = 60_000;

/**
 * Adds one event's grouped action to its group's open digest, opening one when there is none (or
 * the last one is full). Idempotent per `memberId`.
 * @param ttlMs how long the digest's items and the membership are kept (the dedup window): far
 *   longer than any wait, so a digest job retried for hours still finds its items.
 */
export async function joinDigest(redis: RedisConnection, prefix: string, request: DigestJoinRequest, nowMs: number, ttlMs: number): Promise<DigestMembership> {
  const keys = bridgeKeys(prefix);
  const idPrefix = buildDigestJobId(request.ruleId, request.actionIndex, '');
  const answer = (await JOIN.run(
    redis,
    [keys.digestMember(request.memberId), keys.digestOpen(request.groupId), keys.digestSequence],
    [
      JSON.stringify(request.item),
      String(nowMs),
      String(Math.max(ttlMs, request.waitMs * 2)),
      String(request.max),
      keys.digestBase,
      idPrefix,
      // The open pointer outlives the wait only briefly: should the digest's job be held up (a
      // paused integration) or removed by hand, later messages open a new digest instead of
      // joining one that may not be posted for long. The old digest still posts its own items.
      String(request.waitMs + OPEN_POINTER_MARGIN_MS),
    ],
  )) as [string, string, number, number];
  return { digestId: answer[0], openedAtMs: Number(answer[1]), count: Number(answer[2]), isRerun: Number(answer[3]) === 1 };
}

/**
 * Closes a digest (no event joins it any more) and returns its items, in arrival order. Safe to
 * run again (a retried digest job): the items stay until their TTL or {@link forgetDigestItems}.
 */
export async function closeDigest(redis: RedisConnection, prefix: string, digestId: string, groupId: string): Promise<DigestItem[]> {
  const keys = bridgeKeys(prefix);
  const items = (await CLOSE.run(redis, [keys.digestOpen(groupId)], [digestId, keys.digestBase])) as string[];
  return items.map((item) => JSON.parse(item) as DigestItem);
}

/** Drops a posted digest's items (its completion record now answers for it). */
export async function forgetDigestItems(redis: RedisConnection, prefix: string, digestId: string): Promise<void> {
  const base = `${bridgeKeys(prefix).digestBase}${digestId}`;
  await redis.del(`${base}:items`, base);
}

/** What the events worker needs to add grouped actions. */
export interface AddToDigestsOptions {
  /** The connection for the bridge's own keys, where the groups live. */
  readonly state: RedisConnection;
  /** The queue prefix (QUEUE_PREFIX) the group keys start with. */
  readonly prefix: string;
  /** Where each digest's job is added (once per digest: its id is the digest's). */
  readonly actionsQueue: Queue<ActionJobData>;
  /** How long items and memberships are kept, in ms. */
  readonly ttlMs: number;
  /** Now, ms since the epoch: a new digest's opening time, and what its job's delay counts from. */
  readonly nowMs: number;
  /** Builds the digest's action job as if it were this planned action (attempts, backoff, data). */
  readonly buildJob: (planned: PlannedAction) => { name: string; data: ActionJobData; opts: Parameters<Queue<ActionJobData>['add']>[2] & { jobId: string } };
}

/**
 * Adds an event's grouped actions to their digests and makes sure each digest's job exists: due
 * `waitMs` after the digest opened, or at once when this event filled it.
 */
export async function addToDigests(event: BridgeEvent, grouped: readonly PlannedAction[], generation: number, options: AddToDigestsOptions): Promise<TraceGrouped[]> {
  const traced: TraceGrouped[] = [];
  for (const planned of grouped) {
    const group = planned.group!;
    const { ruleId, actionIndex } = planned.provenance;
    const groupId = buildDigestGroupId(ruleId, actionIndex, group.key);
    const { data: eventData, ...eventFields } = event;
    const membership = await joinDigest(
      options.state,
      options.prefix,
      {
        memberId: `${event.id}.${ruleId}.${actionIndex}.${generation}`,
        groupId,
        ruleId,
        actionIndex,
        item: { event: eventFields, data: eventData, text: textOf(planned) },
        waitMs: group.waitMs,
        max: group.max,
      },
      options.nowMs,
      options.ttlMs,
    );
    const job = options.buildJob(planned);
    const isFull = membership.count >= group.max;
    const delay = isFull ? 0 : Math.max(0, membership.openedAtMs + group.waitMs - options.nowMs);
    await options.actionsQueue.add(job.name, { ...job.data, digest: { id: membership.digestId, groupId } }, { ...job.opts, jobId: membership.digestId, delay });
    // Added earlier with a delay (by the event that opened it): due now.
    if (isFull) await promoteIfDelayed(await options.actionsQueue.getJob(membership.digestId));
    traced.push({ ruleId, action: planned.action, actionIndex, digest: membership.digestId });
  }
  return traced;
}

function textOf(planned: PlannedAction): string {
  return typeof planned.params.text === 'string' ? planned.params.text : '';
}

async function promoteIfDelayed(job: Job | undefined): Promise<void> {
  if (!job) return;
  try {
    if (await job.isDelayed()) await job.promote();
  } catch {
    // It left the delayed set meanwhile (a worker took it): nothing to promote.
  }
}

/** What a digest job posts: the digest's params and the events it carries. */
export interface ResolvedDigest {
  readonly params: Record<string, unknown>;
  readonly eventIds: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * Closes the digest of a digest job and renders its params with the action's grouping hooks
 * (`digest_text`, or the action's default) and escaping.
 * @throws PermanentActionError `digest_empty` when no item is left (kept for the dedup window only).
 */
export async function resolveDigest(redis: RedisConnection, prefix: string, actions: ActionCatalog, data: ActionJobData): Promise<ResolvedDigest> {
  const action = actions[data.action];
  const grouping = action?.grouping;
  if (!data.digest || !grouping) throw new PermanentActionError('digest_unsupported', `${data.action} cannot post digests`);
  const items = await closeDigest(redis, prefix, data.digest.id, data.digest.groupId);
  if (items.length === 0) throw new PermanentActionError('digest_empty', `digest ${data.digest.id} holds no messages any more (kept for DEDUP_TTL)`);
  const first = data.params;
  const source = grouping.digestTemplateOf(first) ?? grouping.defaultDigestTemplate(grouping.placementOf(first)?.max ?? items.length);
  const { text, warnings } = renderDigestText(source, action.escapeText, items);
  return {
    params: grouping.digestParams(first, text) as Record<string, unknown>,
    eventIds: items.map((item) => String(item.event.id)),
    warnings,
  };
}
