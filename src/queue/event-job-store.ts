import { optsEncodeMap, type JobsOptions, type Queue } from 'bullmq';
import type { RedisConnection } from '../infra/redis.js';
import { LuaScript } from '../infra/lua-script.js';

/**
 * The intake's write: a batch of deliveries in one Redis script, each deduplicated by its event id.
 *
 * BullMQ's `addBulk` sends one `addStandardJob` script per job (about 11 Redis commands each:
 * the id counter, the events-stream entries `added` and `waiting`, the meta and job-id checks…),
 * and every job then costs its worker about 25 more (taking it: lock, stream entry, attempt
 * counters; finishing it: checks, removal, stream entry). At the intake's rate that is most of
 * Redis's work, on the shard every key of the bridge shares. This script stores exactly what
 * `addStandardJob` stores for a waiting job, and nothing else, so BullMQ's workers, `getJob`,
 * retries and the dashboard read the jobs as their own:
 * - per delivery, the dedup key `<prefix>:events:de:<event id>` = the delivery's job id,
 *   `SET … PX <ttl> NX` (BullMQ's deduplication without `replace`/`extend`); when it exists, the
 *   answer is the job id it holds, and nothing else is written for that delivery;
 * - the deliveries stored (new event ids) go into ONE job: a lone one as its own event job (name,
 *   data `{"event":…}`, opts in BullMQ's stored form with its dedup id, `deid`), as BullMQ's add
 *   would store it; two or more as one job of deliveries (`batch`: data `{"deliveries":[{"jobId":
 *   <its job id>,"event":…},…]}`, no dedup id of its own), which the events worker plans one
 *   event at a time (events-worker.ts). So under load a delivery costs Redis the dedup key and
 *   its share of one job, while each event is still planned, traced and replayed alone, and one
 *   that fails is split off as its own event job under the id its dedup key holds;
 * - a job of deliveries arrives already serialised, holding every delivery of the call, and the
 *   script stores it as it is: built in Lua (each delivery's 3–4 KB copied into Lua, then joined),
 *   it cost Redis about three times the CPU of the rest of the write (bench/intake.ts). When some
 *   of the deliveries turn out to be known, that job holds deliveries that must not be planned:
 *   the script then removes the dedup keys it set, writes nothing else, and answers '' for each
 *   new delivery, which `storeEventJobs` sends again (a second round trip, only when one call
 *   mixes new and known event ids);
 * - the job id pushed on the wait list, and the marker that wakes the workers unless the queue is
 *   paused or at its global concurrency (BullMQ's `isQueuePausedOrMaxed`).
 * Left out: the events stream (nothing in the bridge reads it: no QueueEvents), the job-id counter
 * (custom ids only), the existence check of the job id (delivery and batch job ids are unique per
 * process and delivery, see event-intake.ts).
 *
 * Every key is passed in KEYS, all under the queue's prefix, so the script runs on Redis Cluster
 * when the prefix carries a hash tag, as BullMQ's own scripts do. The batch is one script, run
 * atomically. Redis refuses a script that may write before it runs when out of memory; a command
 * failing inside it (a key of the wrong type) undoes what the script wrote before it and throws,
 * and the intake then answers 503 for the whole batch.
 */
const STORE_EVENT_JOBS_LUA = `
local rcall = redis.call
local timestamp = ARGV[1]
local ttl = ARGV[2]
-- KEYS[1..5]: wait, meta, marker, active, the batch job's hash. Per delivery i: KEYS[4 + 2i] its
-- own job's hash, KEYS[5 + 2i] its dedup key. ARGV[3..6]: the batch job's id ('' for none), name,
-- opts, data; per delivery from ARGV[5i + 2]: job id, name, data, opts, dedup id (with a batch,
-- only the job id and dedup id count: its data is in the batch's).
local count = (#KEYS - 5) / 2
local batchId = ARGV[3]
-- Redis does not roll a script back. A command failing here (a key of the wrong type) undoes the
-- keys this run wrote before it, so a dedup key never exists without the job that carries its
-- delivery: the intake answers 503 and the sender's retry is stored afresh.
local written = {}
local function run(key, ...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then
    for _, done in ipairs(written) do rcall('DEL', done) end
    error(reply)
  end
  if key then written[#written + 1] = key end
  return reply
end
local answers = {}
local stored = {}
for i = 1, count do
  local dedupKey = KEYS[5 + 2 * i]
  local jobId = ARGV[5 * i + 2]
  if run(nil, 'SET', dedupKey, jobId, 'PX', ttl, 'NX') then
    written[#written + 1] = dedupKey
    stored[#stored + 1] = i
    answers[i] = jobId
  else
    -- A script runs atomically and keys do not expire during it: the key is still there.
    answers[i] = run(nil, 'GET', dedupKey)
  end
end
if #stored == 0 then return answers end
if batchId ~= '' and #stored < count then
  -- The job of deliveries holds known ones too: write nothing, and ask for the new ones again.
  for _, i in ipairs(stored) do
    rcall('DEL', KEYS[5 + 2 * i])
    answers[i] = ''
  end
  return answers
end
if batchId == '' then
  for _, i in ipairs(stored) do
    local at = 5 * i + 2
    run(KEYS[4 + 2 * i], 'HSET', KEYS[4 + 2 * i], 'name', ARGV[at + 1], 'data', ARGV[at + 2], 'opts', ARGV[at + 3],
      'timestamp', timestamp, 'delay', 0, 'priority', 0, 'deid', ARGV[at + 4])
  end
  for _, i in ipairs(stored) do run(nil, 'LPUSH', KEYS[1], ARGV[5 * i + 2]) end
else
  run(KEYS[5], 'HSET', KEYS[5], 'name', ARGV[4], 'data', ARGV[6], 'opts', ARGV[5], 'timestamp', timestamp, 'delay', 0, 'priority', 0)
  run(nil, 'LPUSH', KEYS[1], batchId)
end
local attributes = rcall('HMGET', KEYS[2], 'paused', 'concurrency')
local isPausedOrMaxed = attributes[1] ~= false
if not isPausedOrMaxed and attributes[2] then
  isPausedOrMaxed = rcall('LLEN', KEYS[4]) >= tonumber(attributes[2])
end
if not isPausedOrMaxed then rcall('ZADD', KEYS[3], 0, '0') end
return answers
`;
const STORE_EVENT_JOBS = new LuaScript(STORE_EVENT_JOBS_LUA);

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
  return encodeJobOptions({ ...opts, deduplication: { id: dedupId, ttl: dedupTtlMs } });
}

function encodeJobOptions(opts: JobsOptions): string {
  const stored: Record<string, unknown> = {};
  // An undefined option is left out by JSON.stringify, as by BullMQ's encoding.
  for (const [name, value] of Object.entries(opts)) {
    stored[(optsEncodeMap as Record<string, string>)[name] ?? name] = value;
  }
  return JSON.stringify(stored);
}

/** The job that carries the deliveries of one write when two or more of them are stored (see the script). */
export interface DeliveryBatchRecord {
  readonly jobId: string;
  readonly name: string;
  /** Its options as given to BullMQ (`jobId`, attempts, backoff…); it has no dedup id of its own. */
  readonly opts: JobsOptions;
}

/** Options of {@link storeEventJobs}. */
export interface StoreEventJobsOptions {
  /** How long each delivery's event id is remembered, in ms. */
  readonly dedupTtlMs: number;
  /**
   * The job two or more stored deliveries go into.
   * @defaultValue none: each stored delivery is its own event job
   */
  readonly batch?: DeliveryBatchRecord;
  /** The jobs' `timestamp` (ms since the epoch). @defaultValue Date.now() */
  readonly timestamp?: number;
}

/**
 * Stores `records` in `queue`: one script, one round trip, unless one call mixes new and known
 * event ids in a batch (see the script). Resolves, per record, with the id of the job that holds
 * its dedup id: its own job id when it was stored (alone, or inside `options.batch`), another
 * delivery's when the event id was known.
 * @throws whatever the connection throws when Redis did not run the script.
 */
export async function storeEventJobs(queue: Queue, records: readonly EventJobRecord[], options: StoreEventJobsOptions): Promise<string[]> {
  const answers = new Array<string>(records.length);
  // A round either stores every record it sends or finds at least one of them known: they end.
  let unanswered = records.map((_record, index) => index);
  while (unanswered.length > 0) {
    const roundAnswers = await storeOnce(queue, unanswered.map((index) => records[index]), options);
    const again: number[] = [];
    roundAnswers.forEach((answer, position) => {
      if (answer === '') again.push(unanswered[position]);
      else answers[unanswered[position]] = answer;
    });
    unanswered = again;
  }
  return answers;
}

/** One run of the script: the records each as its own job, or (two or more, with `options.batch`) as one job of deliveries. */
async function storeOnce(queue: Queue, records: readonly EventJobRecord[], options: StoreEventJobsOptions): Promise<string[]> {
  const { dedupTtlMs, timestamp = Date.now() } = options;
  const batch = records.length > 1 ? options.batch : undefined;
  const keys = queue.keys;
  const scriptKeys = [keys.wait, keys.meta, keys.marker, keys.active, `${keys['']}${batch?.jobId ?? ''}`];
  const scriptArgs: (string | number)[] = batch
    ? [timestamp, dedupTtlMs, batch.jobId, batch.name, encodeJobOptions(batch.opts), serializeDeliveries(records)]
    : [timestamp, dedupTtlMs, '', '', '', ''];
  for (const record of records) {
    scriptKeys.push(`${keys['']}${record.jobId}`, `${keys.de}:${record.dedupId}`);
    if (batch) scriptArgs.push(record.jobId, '', '', '', record.dedupId);
    else scriptArgs.push(record.jobId, record.name, record.dataJson, encodeEventJobOptions(record.opts, record.dedupId, dedupTtlMs), record.dedupId);
  }
  // BullMQ's client wraps the ioredis connection the queue was given and passes its commands through.
  const client = (await queue.getBackend().client) as unknown as RedisConnection;
  return (await STORE_EVENT_JOBS.run(client, scriptKeys, scriptArgs)) as string[];
}

/**
 * A job of deliveries' data, `{"deliveries":[{"jobId":<id>,"event":…},…]}`, spliced from each
 * record's data (`{"event":…}`) as serialised, not parsed and serialised again.
 */
function serializeDeliveries(records: readonly EventJobRecord[]): string {
  return `{"deliveries":[${records.map((record) => `{"jobId":${JSON.stringify(record.jobId)},${record.dataJson.slice(1)}`).join(',')}]}`;
}
