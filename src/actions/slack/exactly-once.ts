import type { Logger } from 'pino';
import type { RedisConnection } from '../../infra/redis.js';
import { IntegrationPausedError, PermanentActionError, RetryableActionError } from '../../errors.js';
import { sleep, waitForSlot } from '../pacing.js';
import type { SlackClient } from './client.js';
import { slackHistoryPaceKey } from './state.js';

/**
 * Exactly once for Slack messages (Slack has no idempotency key). Every post carries message
 * metadata naming its action job; a retry whose previous call has an unknown outcome looks that
 * job id up in the channel's history before posting again. Pure decisions here, plus the batched
 * history lookup (a thin shell around conversations.history / conversations.replies).
 */

/**
 * The metadata `event_type` of every message the bridge posts. Metadata "is accessible to any app
 * or user who is a member of that workspace" (chat.postMessage `metadata`,
 * https://docs.slack.dev/messaging/message-metadata): the payload holds the job id only, never
 * payload text.
 */
export const SLACK_METADATA_EVENT_TYPE = 'affiliate_bridge';

/** The `metadata` argument of a post by action job `jobId`. */
export function buildMessageMetadata(jobId: string): { event_type: string; event_payload: { job_id: string } } {
  return { event_type: SLACK_METADATA_EVENT_TYPE, event_payload: { job_id: jobId } };
}

/**
 * How long after a call's timeout Slack may still complete it. The request had arrived whole, so
 * Slack may post it after the bridge gave up (fault 6b); a retry looks in the history no earlier
 * than this past the first unknown call's timeout. A call Slack completes later than that can
 * still appear twice (README, "Limits").
 */
export const SLACK_LATE_COMPLETION_MS = 30_000;

/** How far before the first unknown call the history is read: clocks of workers and Slack differ. */
export const SLACK_HISTORY_MARGIN_MS = 60_000;

/**
 * Messages asked per history page: conversations.history's maximum ("Maximum of 999"; Slack may
 * return fewer). Few pages keep a lookup after a crash short under Tier 3's pace.
 */
const HISTORY_PAGE_LIMIT = 999;

/** Most pages one lookup reads (10,000 messages): a busier window is given up and posted as before. */
const MAX_HISTORY_PAGES = 50;

/**
 * conversations.history and conversations.replies are Tier 3 ("50+ per minute",
 * https://docs.slack.dev/apis/web-api/rate-limits): one page per 1.2 s for the workspace.
 */
const HISTORY_PAGE_INTERVAL_MS = 1_200;

/** How long a lookup waits for other jobs of the same channel to join it. */
const GATHER_MS = 50;

/**
 * Retryable codes that say Slack did not post: a 429 (or our own pacing), `request_timeout` ("the
 * POST data was either missing or truncated"), an enterprise migration. Every other retryable
 * failure (a timeout, a network error, `fatal_error`, `internal_error`, 5xx) has an unknown outcome.
 */
const NOT_POSTED_RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'ratelimited',
  'rate_limited',
  'paced',
  'pacing_unavailable',
  'request_timeout',
  'org_login_required',
  'team_added_to_org',
]);

/**
 * Whether a failed chat.postMessage may nevertheless have posted: true for a timeout, a network
 * error, `fatal_error` ("some aspect of the operation may have succeeded"), `internal_error`, 5xx
 * and anything unexpected; false for an answer that says nothing was posted (4xx-like codes, 429s,
 * refused tokens).
 */
export function isUnknownOutcome(error: unknown): boolean {
  if (error instanceof PermanentActionError || error instanceof IntegrationPausedError) return false;
  if (error instanceof RetryableActionError) return !error.isRateLimit && !NOT_POSTED_RETRYABLE_CODES.has(error.code);
  return true;
}

/**
 * The earliest instant a retry may read the history for a call of unknown outcome sent at
 * `sentAt`: past its timeout and past {@link SLACK_LATE_COMPLETION_MS}. Pure.
 */
export function historyReadyAt(sentAt: number, actionTimeoutMs: number): number {
  return sentAt + actionTimeoutMs + SLACK_LATE_COMPLETION_MS;
}

/** One job's message to find. */
export interface HistoryLookupRequest {
  readonly jobId: string;
  /** The channel ID (a name is tried as given; Slack answers channel_not_found for it). */
  readonly channel: string;
  /** The thread's root, for a reply: conversations.history lists only parent messages. */
  readonly threadTs?: string;
  /** Read messages from this instant on, ms since the epoch. */
  readonly oldestMs: number;
}

/** What a lookup says about one job's message. */
export type HistoryLookupResult =
  | { readonly kind: 'found'; readonly ts: string; readonly threadTs?: string }
  | { readonly kind: 'absent' }
  /** The history could not be read (no scope, not in the channel): post as before. */
  | { readonly kind: 'unavailable'; readonly reason: string };

/** A message as conversations.history / .replies return it (the fields read here). */
interface HistoryMessage {
  readonly ts?: string;
  readonly thread_ts?: string;
  readonly metadata?: { readonly event_type?: string; readonly event_payload?: { readonly job_id?: unknown } };
}

interface PendingBatch {
  readonly channel: string;
  readonly threadTs?: string;
  readonly jobIds: Set<string>;
  oldestMs: number;
  readonly waiters: Array<{ resolve: (results: Map<string, HistoryLookupResult>) => void; reject: (error: unknown) => void }>;
}

/** Options of {@link HistoryLookup}. */
export interface HistoryLookupOptions {
  /** The Slack client the lookups call conversations.history / .replies with. */
  readonly client: SlackClient;
  /** Where the Tier 3 pace of history pages is kept, shared by every worker. */
  readonly redis: RedisConnection;
  /** The bridge's Redis key prefix. */
  readonly keyPrefix: string;
  /** Where an unreadable history is warned about (once). */
  readonly logger: Logger;
  /** Milliseconds since the epoch (pacing). */
  readonly now: () => number;
  /** Timeout of each page's call, in ms. */
  readonly timeoutMs: number;
}

/**
 * Finds action jobs' messages in a channel's history by their metadata, one lookup per channel (or
 * thread) at a time in this process: jobs that wait on the same channel join the next lookup
 * instead of each reading the history (after a crash, the dead worker's jobs come back together).
 * Without the history scopes it says `unavailable` once per channel and the caller posts as before.
 */
export class HistoryLookup {
  readonly #options: HistoryLookupOptions;
  readonly #pending = new Map<string, PendingBatch>();
  /** The lookup in flight per channel/thread; the next batch starts after it. */
  readonly #tails = new Map<string, Promise<void>>();
  /** Channels whose history the token may not read (missing_scope, not_in_channel…), with why. */
  readonly #unreadable = new Map<string, string>();
  #isWarned = false;

  constructor(options: HistoryLookupOptions) {
    this.#options = options;
  }

  /** Marks every channel unreadable (start-up found no history scope). */
  markUnavailable(reason: string): void {
    this.#unreadable.set('*', reason);
  }

  /** Why the history cannot be read, when it cannot (for every channel, or this one). */
  unavailableReason(channel: string): string | undefined {
    return this.#unreadable.get('*') ?? this.#unreadable.get(channel);
  }

  /**
   * Looks one job's message up, batched with every other job waiting on the same channel/thread.
   * @throws RetryableActionError (a 429, a timeout) or IntegrationPausedError (a refused token):
   *   the job is retried or paused, and looks again then.
   */
  find(request: HistoryLookupRequest): Promise<HistoryLookupResult> {
    const reason = this.unavailableReason(request.channel);
    if (reason !== undefined) return Promise.resolve({ kind: 'unavailable', reason });
    const batchKey = `${request.channel}|${request.threadTs ?? ''}`;
    let batch = this.#pending.get(batchKey);
    if (!batch) {
      const created: PendingBatch = { channel: request.channel, threadTs: request.threadTs, jobIds: new Set(), oldestMs: request.oldestMs, waiters: [] };
      batch = created;
      this.#pending.set(batchKey, created);
      const previous = this.#tails.get(batchKey) ?? Promise.resolve();
      const run = previous.then(() => sleep(GATHER_MS)).then(() => this.#run(batchKey, created));
      this.#tails.set(batchKey, run);
      void run.finally(() => {
        if (this.#tails.get(batchKey) === run) this.#tails.delete(batchKey);
      });
    }
    batch.jobIds.add(request.jobId);
    batch.oldestMs = Math.min(batch.oldestMs, request.oldestMs);
    return new Promise<Map<string, HistoryLookupResult>>((resolve, reject) => batch!.waiters.push({ resolve, reject })).then(
      (results) => results.get(request.jobId) ?? { kind: 'absent' },
    );
  }

  async #run(batchKey: string, batch: PendingBatch): Promise<void> {
    // From here on, new requests start the next batch.
    if (this.#pending.get(batchKey) === batch) this.#pending.delete(batchKey);
    try {
      const results = await this.#read(batch);
      for (const waiter of batch.waiters) waiter.resolve(results);
    } catch (error) {
      for (const waiter of batch.waiters) waiter.reject(error);
    }
  }

  /** Pages through the channel (or thread) from the batch's oldest instant until every job is found. */
  async #read(batch: PendingBatch): Promise<Map<string, HistoryLookupResult>> {
    const { client, redis, keyPrefix, now, timeoutMs, logger } = this.#options;
    const results = new Map<string, HistoryLookupResult>();
    const missing = new Set(batch.jobIds);
    // Slack timestamps are seconds with 6 decimals; `oldest` is exclusive unless `inclusive`.
    const oldest = (Math.max(0, batch.oldestMs) / 1000).toFixed(6);
    let cursor: string | undefined;
    try {
      for (let page = 0; page < MAX_HISTORY_PAGES && missing.size > 0; page += 1) {
        // The pace is shared by every job of the batch: no one job's timeout cuts the wait short.
        await waitForSlot({ redis, key: slackHistoryPaceKey(keyPrefix), intervalMs: HISTORY_PAGE_INTERVAL_MS, now, maxWaitMs: 30_000 });
        const signal = AbortSignal.timeout(timeoutMs);
        const common = { channel: batch.channel, oldest, inclusive: true, include_all_metadata: true, limit: HISTORY_PAGE_LIMIT, ...(cursor ? { cursor } : {}) };
        const answer = (await client.call(signal, (web) =>
          batch.threadTs !== undefined ? web.conversations.replies({ ...common, ts: batch.threadTs }) : web.conversations.history(common),
        )) as { messages?: HistoryMessage[]; response_metadata?: { next_cursor?: string } };
        for (const message of answer.messages ?? []) {
          const jobId = message.metadata?.event_type === SLACK_METADATA_EVENT_TYPE ? message.metadata.event_payload?.job_id : undefined;
          if (typeof jobId === 'string' && missing.has(jobId) && typeof message.ts === 'string') {
            missing.delete(jobId);
            const threadTs = message.thread_ts !== undefined && message.thread_ts !== message.ts ? message.thread_ts : undefined;
            results.set(jobId, { kind: 'found', ts: message.ts, ...(threadTs ? { threadTs } : {}) });
          }
        }
        cursor = answer.response_metadata?.next_cursor || undefined;
        if (!cursor) break;
      }
      if (cursor && missing.size > 0) logger.warn({ channel: batch.channel, pages: MAX_HISTORY_PAGES }, 'Slack history lookup gave up after its last page: the rest is posted again');
      for (const jobId of missing) results.set(jobId, { kind: 'absent' });
      return results;
    } catch (error) {
      const reason = this.#unreadableReason(error, batch);
      if (reason === undefined) throw error;
      for (const jobId of batch.jobIds) results.set(jobId, reason);
      return results;
    }
  }

  /**
   * The answer for errors that say the history cannot be read at all (rather than "not now"):
   * `missing_scope` (channels:history / groups:history) is remembered for the channel and warned
   * about once; a root that no longer exists (`thread_not_found`) means the reply cannot be there.
   */
  #unreadableReason(error: unknown, batch: PendingBatch): HistoryLookupResult | undefined {
    const code = error instanceof IntegrationPausedError || error instanceof PermanentActionError ? error.code : undefined;
    if (code === undefined) return undefined;
    if (code === 'thread_not_found') return { kind: 'absent' };
    // A refused token is for the pause gate, not for us; missing_scope here is the history scope.
    if (error instanceof IntegrationPausedError && code !== 'missing_scope') return undefined;
    const reason = code === 'missing_scope' ? 'missing_scope: the token lacks channels:history / groups:history' : code;
    this.#unreadable.set(batch.channel, reason);
    if (!this.#isWarned || code !== 'missing_scope') {
      this.#isWarned = true;
      this.#options.logger.warn(
        { channel: batch.channel, code },
        'Slack history cannot be read: a retry after an unknown outcome posts without looking first, so that message may appear twice',
      );
    }
    return { kind: 'unavailable', reason };
  }
}
