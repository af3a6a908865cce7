import { createHash } from 'node:crypto';
import { optsEncodeMap, type JobsOptions, type Queue } from 'bullmq';
import { ReplyError } from 'ioredis';
import type { RedisConnection } from '../infra/redis.js';

/**
 * The intake's write: a batch of event jobs in one Redis script, each deduplicated by its event id.
 *
 * BullMQ's `addBulk` sends one `addStandardJob` script per job (about 11 Redis commands each:
 * the id counter, the events-stream entries `added` and `waiting`, the meta and job-id checks…).
 * At the intake's rate that is most of Redis's work, on the shard every key of the bridge shares.
 * This script stores exactly what `addStandardJob` stores for a waiting job with a deduplication id
 * and a TTL, and nothing else, so BullMQ's workers, `getJob`, retries and the dashboard read the
 * jobs as their own:
 * - the dedup key `<prefix>:events:de:<event id>` = the job id, `SET … PX <ttl> NX` (BullMQ's
 *   deduplication without `replace`/`extend`); when it exists, the answer is the job id it holds;
 * - the job hash: `name`, `data`, `opts` (BullMQ's stored form, short keys), `timestamp`, `delay`
 *   0, `priority` 0, `deid`;
 * - the job id pushed on the wait list, and once per batch the marker that wakes the workers unless
 *   the queue is paused or at its global concurrency (BullMQ's `isQueuePausedOrMaxed`).
 * Left out: the events stream (nothing in the bridge reads it: no QueueEvents), the job-id counter
 * (custom ids only), the existence check of the job id (delivery job ids are unique per process and
 * delivery, see event-intake.ts). About 3 commands per delivery instead of 11.
 *
 * Every key is passed in KEYS, all under the queue's prefix, so the script runs on Redis Cluster
 * when the prefix carries a hash tag, as BullMQ's own scripts do. The batch is one script, run
 * atomically. Redis refuses a script that may write before it runs when out of memory; a command
 * failing inside it (a key of the wrong type) leaves the jobs before it stored and throws, and
 * the intake then answers 503 for the whole batch: a sender's retry of a stored one is a duplicate.
 */
const STORE_EVENT_JOBS_LUA = `
local rcall = redis.call
local timestamp = ARGV[1]
local ttl = ARGV[2]
local count = (#KEYS - 4) / 2
-- Per job: KEYS[3 + 2i] its hash, KEYS[4 + 2i] its dedup key; ARGV from 5i - 2: id, name, data, opts, dedup id.
local answers = {}
local added = false
for i = 1, count do
  local jobKey = KEYS[3 + 2 * i]
  local dedupKey = KEYS[4 + 2 * i]
  local at = 5 * i - 2
  local jobId = ARGV[at]
  if rcall('SET', dedupKey, jobId, 'PX', ttl, 'NX') then
    rcall('HSET', jobKey, 'name', ARGV[at + 1], 'data', ARGV[at + 2], 'opts', ARGV[at + 3],
      'timestamp', timestamp, 'delay', 0, 'priority', 0, 'deid', ARGV[at + 4])
    rcall('LPUSH', KEYS[1], jobId)
    added = true
    answers[i] = jobId
  else
    -- A script runs atomically and keys do not expire during it: the key is still there.
    answers[i] = rcall('GET', dedupKey)
  end
end
if added then
  local attributes = rcall('HMGET', KEYS[2], 'paused', 'concurrency')
  local isPausedOrMaxed = attributes[1] ~= false
  if not isPausedOrMaxed and attributes[2] then
    isPausedOrMaxed = rcall('LLEN', KEYS[4]) >= tonumber(attributes[2])
  end
  if not isPausedOrMaxed then rcall('ZADD', KEYS[3], 0, '0') end
end
return answers
`;
// Stryker disable next-line all: the script's name in Redis's cache; any digest of the text works.
const STORE_EVENT_JOBS_SHA = createHash('sha1').update(STORE_EVENT_JOBS_LUA).digest('hex');

/** One event job to store: its id, the event id it is deduplicated by, its name and data as JSON. */
export interface EventJobRecord {
  readonly jobId: string;
  readonly dedupId: string;
  readonly name: string;
  /** The job's data, already serialised (`{"event":…}`): serialised once, by the caller. */
  readonly dataJson: string;
  /** The job's options as given to BullMQ (`jobId`, attempts, backoff…), without `deduplication`. */
  readonly opts: JobsOptions;
}

/**
 * BullMQ's stored form of job options: its short keys (`deduplication` → `de`), as its own add
 * writes them, so `Job.fromJSON` decodes them. The dedup TTL travels in `de` like BullMQ's.
 */
export function encodeEventJobOptions(opts: JobsOptions, dedupId: string, dedupTtlMs: number): string {
  const stored: Record<string, unknown> = {};
  // An undefined option is left out by JSON.stringify, as by BullMQ's encoding.
  for (const [name, value] of Object.entries({ ...opts, deduplication: { id: dedupId, ttl: dedupTtlMs } })) {
    stored[(optsEncodeMap as Record<string, string>)[name] ?? name] = value;
  }
  return JSON.stringify(stored);
}

/**
 * Stores `records` in `queue` in one script. Resolves, per record, with the id of the job that
 * holds its dedup id: its own job id when it was stored, another's when the event id was known.
 * @throws whatever the connection throws when Redis did not run the script.
 */
export async function storeEventJobs(queue: Queue, records: readonly EventJobRecord[], dedupTtlMs: number, timestamp = Date.now()): Promise<string[]> {
  const keys = queue.keys;
  const scriptKeys = [keys.wait, keys.meta, keys.marker, keys.active];
  const scriptArgs: (string | number)[] = [timestamp, dedupTtlMs];
  for (const record of records) {
    scriptKeys.push(`${keys['']}${record.jobId}`, `${keys.de}:${record.dedupId}`);
    scriptArgs.push(record.jobId, record.name, record.dataJson, encodeEventJobOptions(record.opts, record.dedupId, dedupTtlMs), record.dedupId);
  }
  // BullMQ's client wraps the ioredis connection the queue was given and passes its commands through.
  const client = (await queue.getBackend().client) as unknown as RedisConnection;
  try {
    return (await client.evalsha(STORE_EVENT_JOBS_SHA, scriptKeys.length, ...scriptKeys, ...scriptArgs)) as string[];
  } catch (error) {
    // First use on this Redis (or after SCRIPT FLUSH / a restart): send the script itself once.
    if (!(error instanceof ReplyError) || !(error as Error).message.startsWith('NOSCRIPT')) throw error;
    return (await client.eval(STORE_EVENT_JOBS_LUA, scriptKeys.length, ...scriptKeys, ...scriptArgs)) as string[];
  }
}
