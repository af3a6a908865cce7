import type { RedisConnection } from '../../infra/redis.js';
import { RetryableActionError } from '../../errors.js';
import { sleep } from '../pacing.js';
import type { SlackThreadRoot } from './state.js';
import { DELETE_IF_VALUE, LuaScript } from '../../infra/lua-script.js';

/**
 * Threads by `thread_key`: the key → root map in Redis, shared by every worker. The first message
 * of a key claims it atomically (`claim:<job id>`), posts, then stores its root; a message that
 * meets someone else's claim waits for the root's ts. The map lives `SLACK_THREAD_TTL`.
 */

/** How long a claim stands without its root: a crashed claimer's job comes back well within it. */
export const SLACK_THREAD_CLAIM_TTL_MS = 2 * 60_000;

/** How long a message waits in process for another job's root before it is handed back (delayed, no attempt spent). */
const ROOT_WAIT_MS = 3_000;
const ROOT_POLL_MS = 50;

/** What a message of a thread key does: post the root, or reply to one. */
export type ThreadRole = { readonly kind: 'root' } | { readonly kind: 'reply'; readonly root: SlackThreadRoot };

// KEYS[1] thread key; ARGV: claim value, claim TTL ms. Returns {'root', value} | {'claimed'} | {'wait'}.
const CLAIM_LUA = `
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return { 'claimed' }
end
if value == ARGV[1] then return { 'claimed' } end
if string.sub(value, 1, 6) == 'claim:' then return { 'wait' } end
return { 'root', value }
`;

// KEYS: the thread keys to set; ARGV: claim value, root value, TTL ms. Sets each key held by this
// claim or by nobody; a key someone else holds keeps its root.
const SET_ROOT_LUA = `
local set = 0
for _, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if not value or value == ARGV[1] then
    redis.call('SET', key, ARGV[2], 'PX', ARGV[3])
    set = set + 1
  end
end
return set
`;

// KEYS[1] root-text hash; ARGV: text, TTL ms. Returns the new sequence number.
const RECORD_ROOT_TEXT_LUA = `
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 'text', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return seq
`;

const CLAIM = new LuaScript(CLAIM_LUA);
const SET_ROOT = new LuaScript(SET_ROOT_LUA);
const RECORD_ROOT_TEXT = new LuaScript(RECORD_ROOT_TEXT_LUA);

const claimValue = (jobId: string) => `claim:${jobId}`;
const rootValue = (root: SlackThreadRoot) => `root:${root.channel}:${root.ts}`;

/** The root a stored value names; undefined for a claim or anything else. Pure. */
export function parseThreadRoot(value: string): SlackThreadRoot | undefined {
  const match = /^root:([^:]+):([0-9]+\.[0-9]+)$/.exec(value);
  return match ? { channel: match[1], ts: match[2] } : undefined;
}

/**
 * What this job's message is in its thread: the root (the key was free, or this job claimed it
 * before) or a reply to the stored root. Waits up to {@link ROOT_WAIT_MS} for another job's root.
 * @throws RetryableActionError `thread_root_pending` (a rate-limit kind: the job is delayed without
 *   spending an attempt) while another job's root is still being posted.
 */
export async function joinThread(redis: RedisConnection, key: string, jobId: string, signal: AbortSignal): Promise<ThreadRole> {
  const deadline = Date.now() + ROOT_WAIT_MS;
  for (;;) {
    const answer = (await CLAIM.run(redis, [key], [claimValue(jobId), String(SLACK_THREAD_CLAIM_TTL_MS)])) as string[];
    if (answer[0] === 'claimed') return { kind: 'root' };
    if (answer[0] === 'root') {
      const root = parseThreadRoot(answer[1]);
      if (root) return { kind: 'reply', root };
      // Not ours and unreadable: start over with a fresh thread rather than fail the message.
      await DELETE_IF_VALUE.run(redis, [key], [answer[1]]);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new RetryableActionError('thread_root_pending', 'another message of this thread_key is posting its root', { isRateLimit: true, retryAfterMs: 1_000 });
    }
    await sleep(ROOT_POLL_MS, signal);
  }
}

/** Stores the root this job posted under each key (its claim, or free), for `ttlMs`. */
export async function storeThreadRoot(redis: RedisConnection, keys: readonly string[], jobId: string, root: SlackThreadRoot, ttlMs: number): Promise<void> {
  await SET_ROOT.run(redis, keys, [claimValue(jobId), rootValue(root), String(Math.max(1, Math.round(ttlMs)))]);
}

/** Gives up this job's claim (its root was refused): the next message of the key posts the root. */
export async function releaseThreadClaim(redis: RedisConnection, key: string, jobId: string): Promise<void> {
  await DELETE_IF_VALUE.run(redis, [key], [claimValue(jobId)]);
}

/** Forgets a root that is gone (deleted, its channel archived), unless another job already replaced it. */
export async function forgetThreadRoot(redis: RedisConnection, key: string, root: SlackThreadRoot): Promise<void> {
  await DELETE_IF_VALUE.run(redis, [key], [rootValue(root)]);
}

/** Records `text` as the latest wanted root text; returns its sequence number. */
export async function recordRootText(redis: RedisConnection, key: string, text: string, ttlMs: number): Promise<number> {
  return Number(await RECORD_ROOT_TEXT.run(redis, [key], [text, String(Math.max(1, Math.round(ttlMs)))]));
}

/** The latest wanted root text and its sequence number; undefined when none is recorded. */
export async function readRootText(redis: RedisConnection, key: string): Promise<{ seq: number; text: string } | undefined> {
  const [seq, text] = await redis.hmget(key, 'seq', 'text');
  return seq === null || text === null ? undefined : { seq: Number(seq), text };
}

