import type { Logger } from 'pino';
import type { WebClient } from '@slack/web-api';
import { readSettings } from '../../config/env-variable.js';
import { IntegrationPausedError, PermanentActionError, RetryableActionError } from '../../errors.js';
import type { ActionDeps } from '../action.js';
import { holdUntil, reserveSlots, waitForSlot } from '../pacing.js';
import { slackChannelIntervalMs, slackWorkspaceBudget } from './pace-budgets.js';
import type { SlackClient } from './client.js';
import { slackEnv } from './env.js';
import { buildMessageMetadata, historyReadyAt, HistoryLookup, isUnknownOutcome, SLACK_HISTORY_MARGIN_MS } from './exactly-once.js';
import { truncateText, SLACK_TEXT_LIMIT } from './limits.js';
import { autoPipelined, throwFirstError } from '../../infra/auto-pipeline.js';
import {
  isSlackChannelId,
  SLACK_CHANNEL_ID_TTL_MS,
  SLACK_CHANNEL_SWEEP_INTERVAL_MS,
  slackChannelIdKey,
  slackChannelSweepKey,
  slackHoldKey,
  slackPaceKey,
  slackPostedKey,
  slackRootTextKey,
  slackSentKey,
  slackThreadKey,
  slackUpdatePaceKey,
  slackWorkspacePaceKey,
  type SlackPostedRecord,
  type SlackSentRecord,
  type SlackThreadRoot,
} from './state.js';
import { forgetThreadRoot, joinThread, readRootText, recordRootText, releaseThreadClaim, storeThreadRoot, type ThreadRole } from './threads.js';

/**
 * Least spacing of two root updates in one channel, in ms: chat.update is Tier 3, "50+ per minute"
 * (https://docs.slack.dev/apis/web-api/rate-limits). Replies at Slack's 1 per second therefore
 * outrun the updates, and waiting updates collapse into the latest.
 */
export const SLACK_UPDATE_MIN_INTERVAL_MS = 1_200;

/** Most conversations.list pages one sweep reads (1000 channels each). */
const MAX_SWEEP_PAGES = 20;

/**
 * Errors of a reply that say its thread is gone: the root was deleted (`thread_not_found`, as
 * slackapi/bolt-js#2307 describes for a deleted parent), or the thread's channel was archived.
 * The reply then starts a new thread instead of failing.
 */
const THREAD_GONE_CODES: ReadonlySet<string> = new Set(['thread_not_found', 'message_not_found', 'is_archived']);

/**
 * chat.update errors that leave the root as it is without failing the action: the message was
 * posted, and the next reply updates the root again (chat.update "Errors",
 * https://docs.slack.dev/reference/methods/chat.update).
 */
const ROOT_UPDATE_GIVE_UP_CODES: ReadonlySet<string> = new Set([
  'message_not_found',
  'cant_update_message',
  'edit_window_closed',
  'is_archived',
  'channel_not_found',
  'msg_too_long',
  'no_text',
  'invalid_blocks',
]);

/** One message for {@link SlackPoster.post}. */
export interface SlackOutgoingMessage {
  /**
   * chat.postMessage arguments (channel, text, blocks, unfurl_links, thread_ts…) already cut to
   * Slack's limits; the poster adds `metadata`, and `thread_ts` / `reply_broadcast` for a thread.
   */
  readonly args: Readonly<Record<string, unknown>> & { readonly channel: string };
  /**
   * Messages of one channel with the same key form one thread.
   * @defaultValue none: the message stands alone ("" also means none)
   */
  readonly threadKey?: string;
  /** A reply also shows in the channel. @defaultValue false */
  readonly replyBroadcast?: boolean;
  /** The root's text once this message is a reply (chat.update). @defaultValue none: the root is not edited */
  readonly rootText?: string;
}

/** Who posts: the action job (its id is the message's identity for exactly-once). */
export interface SlackPostContext {
  readonly jobId: string;
  readonly logger: Logger;
  readonly signal: AbortSignal;
}

/** Options of {@link createSlackPoster}. */
export interface SlackPosterOptions {
  /**
   * Longest a job sleeps for its channel's next send (or root update) slot, in ms; further away,
   * the job is handed back to the worker as `paced` (delayed without spending an attempt).
   * @defaultValue 5 × the channel interval, at least 50 ms (see `waitForSlot`)
   */
  readonly maxPaceWaitMs?: number;
}

/** The post path of every Slack message (a rule's message, a digest): see {@link createSlackPoster}. */
export interface SlackPoster {
  /**
   * Posts one message once: paced by channel and workspace, with metadata naming the job, in its
   * thread, then edits the thread's root. Returns the result detail (channel, ts, thread…).
   * @throws PermanentActionError / RetryableActionError / IntegrationPausedError as the client maps them.
   */
  post(message: SlackOutgoingMessage, ctx: SlackPostContext): Promise<Record<string, unknown>>;
  /** Start-up: reads the token's scopes (auth.test) and says once when the history cannot be read. Never throws. */
  checkSetup(signal: AbortSignal): Promise<void>;
}

/**
 * Builds the post path shared by every Slack message:
 * 1. a retry of a job whose message is known to be in Slack goes straight on (root update);
 * 2. a retry after a call of unknown outcome (crash, timeout, `fatal_error`…) first waits out
 *    Slack's late completions, then looks the job id up in the channel's history (batched per
 *    channel) and records the message found instead of posting again;
 * 3. a `threadKey` makes the message the thread's root or a reply to it;
 * 4. pacing (1 per second per channel ID, the workspace budget, 429 holds), then chat.postMessage
 *    with `metadata: { event_type: "affiliate_bridge", event_payload: { job_id } }`;
 * 5. a reply with `rootText` edits the root, latest text wins, paced per channel.
 */
export function createSlackPoster(deps: ActionDeps, client: SlackClient, options: SlackPosterOptions = {}): SlackPoster {
  const { config, redis, keyPrefix } = deps;
  const settings = readSettings(config, slackEnv);
  const intervalMs = slackChannelIntervalMs(settings.SLACK_MESSAGES_PER_SECOND);
  const workspaceBudget = slackWorkspaceBudget(settings.SLACK_MESSAGES_PER_MINUTE, intervalMs);
  const threadTtlMs = settings.SLACK_THREAD_TTL;
  const recordTtlMs = config.dedupTtlMs;
  // Whether the token may list channels, as the `x-oauth-scopes` header of an answer (the SDK's
  // response_metadata.scopes) said; undefined until an answer has come.
  let canListChannels: boolean | undefined;
  /** The one scope check of this process (see checkScopes), once started. */
  let scopesChecked: Promise<void> | undefined;
  const history = new HistoryLookup({ client, redis, keyPrefix, logger: deps.logger, now: deps.now, timeoutMs: config.actionTimeoutMs });

  return {
    async post(message, ctx) {
      const given = message.args.channel;
      const isName = !isSlackChannelId(given);
      // One round trip reads what an earlier attempt left (posted, or sent with an unknown outcome)
      // and the cached ID of a channel name: each is a step of the webhook → Slack latency.
      const [postedJson, sentJson, cachedId] = await redis.mget(
        slackPostedKey(keyPrefix, ctx.jobId),
        slackSentKey(keyPrefix, ctx.jobId),
        ...(isName ? [slackChannelIdKey(keyPrefix, given)] : []),
      );
      const posted = postedJson ? (JSON.parse(postedJson) as SlackPostedRecord) : undefined;
      if (posted) {
        ctx.logger.info({ channel: posted.channel, ts: posted.ts }, 'slack message already in Slack: not posted again');
        return { channel: posted.channel, ts: posted.ts, ...threadDetail(posted.threadTs), ...(await afterPosted(message, posted, ctx)) };
      }

      // Pacing is by channel ID, so a name and its ID share one budget; a name not resolved yet is
      // paced (and posted) as given. A bot with only chat:write never resolves more than its posts tell.
      let channelId = isName ? (cachedId && isSlackChannelId(cachedId) ? cachedId : undefined) : given;
      if (isName && channelId === undefined && canListChannels) channelId = await sweepChannels(given, ctx.signal);
      const paceAs = channelId ?? given;

      // ---- Exactly once: a previous call of unknown outcome may have posted. ----
      let sent = sentJson ? (JSON.parse(sentJson) as SlackSentRecord) : undefined;
      if (sent) {
        const found = await lookUpEarlierCall(sent, ctx);
        if (found) {
          const record: SlackPostedRecord = { channel: found.channel, ts: found.ts, ...(found.threadTs ? { threadTs: found.threadTs } : {}), via: 'history' };
          await writePosted(ctx.jobId, record);
          if (!found.threadTs && message.threadKey) {
            // It was the thread's root: keep the claim's promise.
            await storeThreadRoot(redis, threadKeysFor(message.threadKey, given, found.channel), ctx.jobId, { channel: found.channel, ts: found.ts }, threadTtlMs);
          }
          return { channel: found.channel, ts: found.ts, foundInHistory: true, ...threadDetail(found.threadTs), ...(await afterPosted(message, record, ctx)) };
        }
        if (found === null) {
          // The history shows, past Slack's late completions, that the earlier call did not post:
          // remembered, so a later attempt does not look again.
          await redis.del(slackSentKey(keyPrefix, ctx.jobId));
          sent = undefined;
        }
      }

      // ---- Threads ----
      const threadKey = message.threadKey ? slackThreadKey(keyPrefix, paceAs, message.threadKey) : undefined;
      let role: ThreadRole | undefined = threadKey ? await joinThread(redis, threadKey, ctx.jobId, ctx.signal) : undefined;
      let newThreadBecause: string | undefined;

      for (let round = 0; ; round += 1) {
        const replyTo = role?.kind === 'reply' ? role.root : undefined;
        const args: Record<string, unknown> = {
          ...message.args,
          ...(replyTo ? { thread_ts: replyTo.ts, ...(message.replyBroadcast ? { reply_broadcast: true } : {}) } : {}),
          metadata: buildMessageMetadata(ctx.jobId),
        };
        const holdKeys = [slackHoldKey(keyPrefix, paceAs), ...(isName && channelId !== undefined ? [slackHoldKey(keyPrefix, given)] : [])];
        // One message per second per channel and the workspace's per-minute budget, for every worker;
        // a 429 on this channel holds it for every worker until Retry-After has passed.
        await waitForSlot({
          redis,
          key: slackPaceKey(keyPrefix, paceAs),
          intervalMs,
          // A job that knows the name's ID also spends the name's budget: while the name is being
          // resolved (a conversations.list sweep), jobs still pacing by name share it.
          alsoBudgets: [
            ...(isName && channelId !== undefined ? [{ key: slackPaceKey(keyPrefix, given), intervalMs }] : []),
            { key: slackWorkspacePaceKey(keyPrefix), ...workspaceBudget },
          ],
          holdKeys,
          // The round trip below that records the call reads the holds again.
          callerChecksHoldsBeforeSending: true,
          maxWaitMs: options.maxPaceWaitMs,
          now: deps.now,
          signal: ctx.signal,
        });
        if (ctx.signal.aborted) {
          // The lookup or the pacing used up this attempt's time: nothing was sent, so hand the job
          // back (no attempt spent) for a call with a whole timeout, rather than one that cannot leave.
          throw new RetryableActionError('out_of_time', 'this attempt ran out of time before its call: handed back', { isRateLimit: true, retryAfterMs: 0 });
        }
        // Written before the call: a crash after it leaves the record, and the retry looks first.
        const sentNow: SlackSentRecord = {
          at: Math.min(sent?.at ?? Number.POSITIVE_INFINITY, deps.now()),
          channel: replyTo?.channel ?? paceAs,
          ...(replyTo ? { threadTs: replyTo.ts } : {}),
        };
        // One round trip writes it and reads the channel's holds once more: a 429 another worker met
        // since the slot was reserved holds this call back too. In order, not atomic (no other
        // client's write matters between the two), on the auto-pipeline with the other jobs' commands.
        // Thrown when either failed: the call must not go out without its sent record.
        const answers = throwFirstError(
          await autoPipelined(redis)
            .set(slackSentKey(keyPrefix, ctx.jobId), JSON.stringify(sentNow), 'PX', recordTtlMs)
            .mget(...holdKeys)
            .exec(),
        );
        const heldMs = Math.max(0, ...(answers[1][1] as Array<string | null>).map((until) => Number(until ?? 0) - deps.now()));
        if (heldMs > 0) {
          await restoreSent(ctx.jobId, sent);
          throw new RetryableActionError('paced', `a rate limit holds this channel for ${Math.ceil(heldMs)} ms`, { isRateLimit: true, retryAfterMs: Math.ceil(heldMs) });
        }
        let result: Awaited<ReturnType<WebClient['chat']['postMessage']>>;
        try {
          result = await client.call(ctx.signal, (web) => web.chat.postMessage(args as unknown as Parameters<typeof web.chat.postMessage>[0]));
        } catch (error) {
          const isUnknown = isUnknownOutcome(error);
          // A 429's hold first: every worker must see it before anything else happens.
          await afterFailure(error, given, paceAs);
          // Slack said it posted nothing: nothing to look for, unless an earlier call is still unknown.
          if (!isUnknown) await restoreSent(ctx.jobId, sent);
          const code = error instanceof PermanentActionError ? error.code : undefined;
          if (replyTo && threadKey && code !== undefined && THREAD_GONE_CODES.has(code) && round === 0) {
            // The root was deleted or its channel archived: this message starts a new thread.
            ctx.logger.info({ code, rootTs: replyTo.ts }, 'slack thread is gone: starting a new one');
            await forgetThreadRoot(redis, threadKey, replyTo);
            if (replyTo.channel !== paceAs) await forgetThreadRoot(redis, slackThreadKey(keyPrefix, replyTo.channel, message.threadKey!), replyTo);
            newThreadBecause = code;
            role = await joinThread(redis, threadKey, ctx.jobId, ctx.signal);
            continue;
          }
          if (role?.kind === 'root' && threadKey && !isUnknown) await releaseThreadClaim(redis, threadKey, ctx.jobId);
          throw error;
        }

        const scopes = result.response_metadata?.scopes;
        if (scopes) canListChannels = scopes.includes('channels:read');
        const postedChannel = typeof result.channel === 'string' && isSlackChannelId(result.channel) ? result.channel : paceAs;
        // A name whose ID was already cached as this one needs no write (the cache's TTL is long).
        if (isName && postedChannel !== given && postedChannel !== channelId) await learnChannelId(given, postedChannel, channelId === undefined);
        const ts = String(result.ts);
        const record: SlackPostedRecord = { channel: postedChannel, ts, ...(replyTo ? { threadTs: replyTo.ts } : {}), via: 'posted' };
        await writePosted(ctx.jobId, record);
        if (role?.kind === 'root' && message.threadKey) {
          await storeThreadRoot(redis, threadKeysFor(message.threadKey, given, postedChannel), ctx.jobId, { channel: postedChannel, ts }, threadTtlMs);
        }
        ctx.logger.debug({ channel: postedChannel, ts }, 'slack message posted');
        const warnings = collectSlackWarnings(result);
        return {
          channel: result.channel,
          ts: result.ts,
          ...(role ? { thread: role.kind === 'root' ? 'root' : 'reply', ...(replyTo ? { thread_ts: replyTo.ts } : {}) } : {}),
          ...(newThreadBecause ? { newThreadBecause } : {}),
          ...(warnings.length > 0 ? { warnings } : {}),
          ...(await afterPosted(message, record, ctx)),
        };
      }
    },

    async checkSetup(signal) {
      scopesChecked ??= checkScopes(signal);
      await scopesChecked;
    },
  };

  /**
   * Reads the token's scopes once per process (start-up, or the first retry that needs them) and
   * says once when the history cannot be read. Never throws: on failure the history is probed on use.
   */
  async function checkScopes(signal: AbortSignal): Promise<void> {
    {
      // auth.test needs no scope and its answer carries `x-oauth-scopes` (the SDK's
      // response_metadata.scopes, https://docs.slack.dev/authentication/tokens).
      try {
        const answer = await client.call(signal, (web) => web.auth.test());
        const scopes = answer.response_metadata?.scopes;
        if (!scopes) return;
        canListChannels = scopes.includes('channels:read');
        if (!scopes.includes('channels:history') && !scopes.includes('groups:history')) {
          history.markUnavailable('missing_scope');
          deps.logger.warn(
            { scopes },
            'Slack token lacks channels:history and groups:history: a message whose call had an unknown outcome (a crash, a timeout) is posted again without looking first, so it may appear twice',
          );
        }
      } catch (error) {
        // Checked again by the next retry that needs it.
        scopesChecked = undefined;
        deps.logger.info({ code: error instanceof Error && 'code' in error ? error.code : 'unexpected_error' }, 'Slack scope check could not run; it runs again when a retry needs it');
      }
    }
  }

  /**
   * The message an earlier call of unknown outcome posted, when the channel's history shows it;
   * null when the history shows it did not post; undefined when the history cannot tell.
   * @throws RetryableActionError `awaiting_late_completion` (rate-limit kind: delayed, no attempt
   *   spent) until Slack's late completions are over.
   */
  async function lookUpEarlierCall(sent: SlackSentRecord, ctx: SlackPostContext): Promise<{ channel: string; ts: string; threadTs?: string } | null | undefined> {
    // Whether the token may read history at all is known before waiting: a token without the
    // scopes posts at once, as before, instead of waiting for a lookup it cannot make.
    scopesChecked ??= checkScopes(ctx.signal);
    await scopesChecked;
    const unavailable = history.unavailableReason(sent.channel);
    if (unavailable !== undefined) {
      ctx.logger.warn({ reason: unavailable }, 'an earlier Slack call had an unknown outcome and the history cannot be read: posting again');
      return undefined;
    }
    const readyAt = historyReadyAt(sent.at, config.actionTimeoutMs);
    const now = deps.now();
    if (now < readyAt) {
      throw new RetryableActionError('awaiting_late_completion', 'an earlier Slack call had an unknown outcome: waiting until Slack can no longer complete it, then looking in the history', {
        isRateLimit: true,
        retryAfterMs: readyAt - now,
      });
    }
    // conversations.history takes an ID. A name no post has resolved yet (the call that timed out
    // was the channel's first) is looked up with conversations.list when the token may list.
    let channel = isSlackChannelId(sent.channel) ? sent.channel : await cachedChannelId(sent.channel);
    if (channel === undefined && canListChannels !== false) channel = await sweepChannels(sent.channel, ctx.signal);
    if (channel === undefined) {
      ctx.logger.warn({ channel: sent.channel }, 'an earlier Slack call had an unknown outcome and its channel name has no known ID (no post resolved it, no channels:read): posting again');
      return undefined;
    }
    const found = await history.find({ jobId: ctx.jobId, channel, threadTs: sent.threadTs, oldestMs: sent.at - SLACK_HISTORY_MARGIN_MS });
    if (found.kind === 'found') {
      ctx.logger.info({ channel, ts: found.ts }, 'slack message of an earlier call found in the history: not posted again');
      return { channel, ts: found.ts, ...(found.threadTs ? { threadTs: found.threadTs } : {}) };
    }
    if (found.kind === 'unavailable') {
      ctx.logger.warn({ reason: found.reason }, 'an earlier Slack call had an unknown outcome and the history cannot be read: posting again');
      return undefined;
    }
    ctx.logger.info({ channel }, 'an earlier Slack call of unknown outcome did not post: posting');
    return null;
  }

  /** After the message is in Slack: a reply with rootText edits the root (latest wins). */
  async function afterPosted(message: SlackOutgoingMessage, posted: SlackPostedRecord, ctx: SlackPostContext): Promise<Record<string, unknown>> {
    if (message.rootText === undefined || !message.threadKey || posted.threadTs === undefined) return {};
    const root: SlackThreadRoot = { channel: posted.channel, ts: posted.threadTs };
    const textKey = slackRootTextKey(keyPrefix, root.channel, root.ts);
    const text = truncateText(message.rootText, SLACK_TEXT_LIMIT);
    const seq = await recordRootText(redis, textKey, text, threadTtlMs);
    // Paced like posts, on the channel's own update budget (never above chat.update's Tier 3,
    // 50+ per minute); a 429 on the channel holds it too.
    await waitForSlot({
      redis,
      key: slackUpdatePaceKey(keyPrefix, root.channel),
      intervalMs: Math.max(intervalMs, SLACK_UPDATE_MIN_INTERVAL_MS),
      holdKeys: [slackHoldKey(keyPrefix, root.channel)],
      maxWaitMs: options.maxPaceWaitMs,
      now: deps.now,
      signal: ctx.signal,
    });
    const latest = await readRootText(redis, textKey);
    // A later reply recorded a newer text while this one waited: its job sends that one.
    if (latest && latest.seq !== seq) return { rootUpdate: 'superseded' };
    try {
      await client.call(ctx.signal, (web) => web.chat.update({ channel: root.channel, ts: root.ts, text }));
      return { rootUpdate: 'updated' };
    } catch (error) {
      await afterFailure(error, root.channel, root.channel);
      if (error instanceof PermanentActionError && ROOT_UPDATE_GIVE_UP_CODES.has(error.code)) {
        if (error.code === 'message_not_found' || error.code === 'is_archived') {
          await forgetThreadRoot(redis, slackThreadKey(keyPrefix, root.channel, message.threadKey), root);
        }
        ctx.logger.warn({ code: error.code, rootTs: root.ts }, 'slack thread root not updated; the message itself was posted');
        return { rootUpdate: `failed: ${error.code}` };
      }
      throw error;
    }
  }

  /** The thread keys a root is stored under: the channel as given and, once known, its ID. */
  function threadKeysFor(threadKey: string, given: string, channelIdNow: string): string[] {
    const keys = [slackThreadKey(keyPrefix, channelIdNow, threadKey)];
    if (given !== channelIdNow) keys.push(slackThreadKey(keyPrefix, given, threadKey));
    return keys;
  }

  function threadDetail(threadTs: string | undefined): Record<string, unknown> {
    return threadTs ? { thread: 'reply', thread_ts: threadTs } : {};
  }

  async function writePosted(jobId: string, record: SlackPostedRecord): Promise<void> {
    await redis.set(slackPostedKey(keyPrefix, jobId), JSON.stringify(record), 'PX', recordTtlMs);
  }

  /** After an answer that says nothing was posted: the sent record as it was before this call. */
  async function restoreSent(jobId: string, before: SlackSentRecord | undefined): Promise<void> {
    try {
      if (before) await redis.set(slackSentKey(keyPrefix, jobId), JSON.stringify(before), 'PX', recordTtlMs);
      else await redis.del(slackSentKey(keyPrefix, jobId));
    } catch {
      // Kept, the record only costs a history lookup before the next try.
    }
  }

  /** The cached ID of a channel name; Redis trouble only means posting by name. */
  async function cachedChannelId(name: string): Promise<string | undefined> {
    try {
      const id = await redis.get(slackChannelIdKey(keyPrefix, name));
      return id && isSlackChannelId(id) ? id : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Learns a name's ID from chat.postMessage's `channel`, for every worker. When the post was paced
   * by the name, it also spends a slot of the ID's budget, so a post by ID right after it waits.
   */
  async function learnChannelId(name: string, id: string, wasPacedByName: boolean): Promise<void> {
    try {
      await redis.set(slackChannelIdKey(keyPrefix, name), id, 'PX', SLACK_CHANNEL_ID_TTL_MS);
      if (wasPacedByName) {
        await reserveSlots(redis, { budgets: [{ key: slackPaceKey(keyPrefix, id), intervalMs }], maxWaitMs: Number.MAX_SAFE_INTEGER, now: deps.now() });
      }
    } catch (error) {
      deps.logger.warn({ err: { name: error instanceof Error ? error.name : typeof error } }, 'could not cache a Slack channel ID');
    }
  }

  /**
   * Lists the workspace's channels with conversations.list (Tier 2; needs channels:read) and caches
   * every name → ID, at most once per sweep interval for all workers; returns `name`'s ID when found.
   * Any failure (missing_scope, a 429) ends the sweep: the post goes by name.
   */
  async function sweepChannels(name: string, signal: AbortSignal): Promise<string | undefined> {
    try {
      const isFirst = await redis.set(slackChannelSweepKey(keyPrefix), '1', 'PX', SLACK_CHANNEL_SWEEP_INTERVAL_MS, 'NX');
      if (isFirst !== 'OK') return undefined;
      let cursor: string | undefined;
      for (let page = 0; page < MAX_SWEEP_PAGES; page += 1) {
        const answer = await client.call(signal, (web) =>
          web.conversations.list({ types: 'public_channel', exclude_archived: true, limit: 1000, ...(cursor ? { cursor } : {}) }),
        );
        const pairs = (answer.channels ?? []).filter((channel) => typeof channel.id === 'string' && typeof channel.name === 'string');
        if (pairs.length > 0) {
          const batch = redis.multi();
          for (const channel of pairs) batch.set(slackChannelIdKey(keyPrefix, channel.name!), channel.id!, 'PX', SLACK_CHANNEL_ID_TTL_MS);
          await batch.exec();
        }
        cursor = answer.response_metadata?.next_cursor || undefined;
        if (!cursor) break;
      }
    } catch (error) {
      const code = error instanceof PermanentActionError || error instanceof RetryableActionError || error instanceof IntegrationPausedError ? error.code : 'unexpected_error';
      if (code === 'missing_scope') canListChannels = false;
      deps.logger.info({ code }, 'Slack channel sweep ended early; unresolved names are posted as given');
    }
    return cachedChannelId(name);
  }

  /** A 429 holds the channel for every worker; `channel_not_found` forgets a cached name → ID. */
  async function afterFailure(error: unknown, given: string, paceAs: string): Promise<void> {
    try {
      if (error instanceof RetryableActionError && error.isRateLimit && error.retryAfterMs !== undefined) {
        const now = deps.now();
        await holdUntil(redis, slackHoldKey(keyPrefix, paceAs), now + error.retryAfterMs, now);
        // Jobs that do not know the ID yet check the name's hold only: hold it too, or a name
        // resolved half-way through a 429 (a conversations.list sweep) would let them through.
        if (given !== paceAs) await holdUntil(redis, slackHoldKey(keyPrefix, given), now + error.retryAfterMs, now);
      } else if (error instanceof PermanentActionError && error.code === 'channel_not_found' && !isSlackChannelId(given)) {
        await redis.del(slackChannelIdKey(keyPrefix, given));
      }
    } catch {
      // The job's own error is what matters; a lost hold is re-learned on the next 429.
    }
  }
}

/** `warning` and `response_metadata.warnings` of a Web API answer, each once. */
export function collectSlackWarnings(result: { warning?: unknown; response_metadata?: { warnings?: unknown } }): string[] {
  const found = [
    ...(typeof result.warning === 'string' ? result.warning.split(',') : []),
    ...(Array.isArray(result.response_metadata?.warnings) ? result.response_metadata.warnings : []),
  ].filter((warning): warning is string => typeof warning === 'string' && warning.length > 0);
  return [...new Set(found)];
}
