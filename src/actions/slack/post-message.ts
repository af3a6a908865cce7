import { readSettings } from '../../config/env-variable.js';
import { PermanentActionError, RetryableActionError } from '../../errors.js';
import type { ActionContext, ActionDeps, ActionResult, ActionRunner } from '../action.js';
import { defineAction } from '../descriptor.js';
import { holdUntil, reserveSlots, waitForSlot } from '../pacing.js';
import { createSlackClient, type SlackClient } from './client.js';
import { listSlackLimitWarnings, truncateToSlackLimits } from './limits.js';
import { escapeSlackMrkdwn, escapeSlackTextIn } from './mrkdwn.js';
import { DIGEST_TEMPLATE_VARIABLES, slackGrouping } from './grouping.js';
import { slackEnv } from './env.js';
import { slackPostMessageParams, type SlackPostMessageParams } from './params.js';

/** The Web API method this action calls. */
export const SLACK_POST_MESSAGE_METHOD = 'chat.postMessage';

/** Options of {@link connectSlackPostMessage} beyond the shared deps. */
export interface SlackPostMessageOptions {
  /**
   * Longest a job sleeps for its channel's next send slot, in ms; further away, the job is handed
   * back to the worker as `paced` (delayed without spending an attempt).
   * @defaultValue `DEFAULT_MAX_WAIT_INTERVALS` (5) × the channel interval (5 s at the default
   *   1 message/s), applied by {@link waitForSlot}
   */
  readonly maxPaceWaitMs?: number;
  /**
   * A prebuilt client (tests); used even when SLACK_BOT_TOKEN is unset.
   * @defaultValue one built from the config (SLACK_BOT_TOKEN, SLACK_API_URL, ACTION_TIMEOUT) when the
   *   token is set; none otherwise, and the action runs as dry run
   */
  readonly client?: SlackClient;
}

import {
  isSlackChannelId,
  SLACK_CHANNEL_ID_TTL_MS,
  SLACK_CHANNEL_SWEEP_INTERVAL_MS,
  slackChannelIdKey,
  slackChannelSweepKey,
  slackHoldKey,
  slackPaceKey,
  slackWorkspacePaceKey,
} from './state.js';
export { slackPaceKey };

/** Most conversations.list pages one sweep reads (1000 channels each). */
const MAX_SWEEP_PAGES = 20;

/**
 * The chat.postMessage arguments for these params, without the token (the WebClient adds it as a
 * header). Undefined fields are left out, as the SDK leaves them out of the form body.
 */
export function buildPostMessageArguments(params: SlackPostMessageParams): Record<string, unknown> {
  const args: Record<string, unknown> = { channel: params.channel };
  if (params.text !== undefined) args.text = params.text;
  if (params.blocks !== undefined) args.blocks = params.blocks;
  if (params.thread_ts !== undefined) args.thread_ts = params.thread_ts;
  if (params.unfurl_links !== undefined) args.unfurl_links = params.unfurl_links;
  return args;
}

/**
 * Builds the runner of `slack.post_message`. With no `slackBotToken` it runs as dry-run: nothing is
 * sent, nothing is paced, and the result shows the request that would have gone out.
 */
export function connectSlackPostMessage(
  deps: ActionDeps,
  options: SlackPostMessageOptions = {},
): ActionRunner<SlackPostMessageParams> {
  const { config } = deps;
  const settings = readSettings(config, slackEnv);
  const intervalMs = 1000 / settings.SLACK_MESSAGES_PER_SECOND;
  const workspaceIntervalMs = 60_000 / settings.SLACK_MESSAGES_PER_MINUTE;
  const { redis, keyPrefix } = deps;
  // Whether the token may list channels, as the `x-oauth-scopes` header of an answer (the SDK's
  // response_metadata.scopes) said; undefined until an answer has come.
  let canListChannels: boolean | undefined;
  const path = new URL(SLACK_POST_MESSAGE_METHOD, ensureTrailingSlash(settings.SLACK_API_URL)).pathname;
  const token = settings.SLACK_BOT_TOKEN;
  const client =
    options.client ??
    (token
      ? createSlackClient({
          token,
          slackApiUrl: settings.SLACK_API_URL,
          timeoutMs: config.actionTimeoutMs,
          logger: deps.logger,
        })
      : null);

  return {
    async execute(params: SlackPostMessageParams, ctx: ActionContext): Promise<ActionResult> {
      // Cut to Slack's limits with a visible marker: over 40,000 Slack would cut `text` silently,
      // and a section over 3,000 would lose the whole message (invalid_blocks).
      const { args, truncated } = truncateToSlackLimits(buildPostMessageArguments(params));
      if (truncated.length > 0) ctx.logger.warn({ truncated }, 'slack message cut to Slack\'s length limits');
      if (!client) {
        return {
          outcome: 'dry_run',
          request: {
            method: 'POST',
            path,
            // The SDK sends these as an application/x-www-form-urlencoded form, `blocks` JSON-encoded.
            contentType: 'application/x-www-form-urlencoded',
            body: args,
          },
        };
      }
      // Pacing is by channel ID, so a name and its ID share one budget; a name not resolved yet is
      // paced (and posted) as given. A bot with only chat:write never resolves more than its posts tell.
      const given = params.channel;
      const isName = !isSlackChannelId(given);
      let channelId = isName ? await cachedChannelId(given) : given;
      if (isName && channelId === undefined && canListChannels) channelId = await sweepChannels(given, ctx.signal);
      const paceAs = channelId ?? given;
      // A hold on the name (a 429 before the ID was known) still applies once the ID is.
      const holdKeys = [slackHoldKey(keyPrefix, paceAs), ...(isName && channelId !== undefined ? [slackHoldKey(keyPrefix, given)] : [])];
      // One message per second per channel and the workspace's per-minute budget, for every worker;
      // a 429 on this channel holds it for every worker until Retry-After has passed.
      await waitForSlot({
        redis,
        key: slackPaceKey(keyPrefix, paceAs),
        intervalMs,
        alsoBudgets: [{ key: slackWorkspacePaceKey(keyPrefix), intervalMs: workspaceIntervalMs }],
        holdKeys,
        maxWaitMs: options.maxPaceWaitMs,
        now: deps.now,
        signal: ctx.signal,
      });
      let result: Awaited<ReturnType<import('@slack/web-api').WebClient['chat']['postMessage']>>;
      try {
        result = await client.call(ctx.signal, (web) =>
          web.chat.postMessage(args as unknown as Parameters<typeof web.chat.postMessage>[0]),
        );
      } catch (error) {
        await afterFailure(error, given, paceAs);
        throw error;
      }
      const scopes = result.response_metadata?.scopes;
      if (scopes) canListChannels = scopes.includes('channels:read');
      if (isName && typeof result.channel === 'string' && isSlackChannelId(result.channel)) {
        await learnChannelId(given, result.channel, channelId === undefined);
      }
      ctx.logger.debug({ channel: result.channel, ts: result.ts }, 'slack message posted');
      // Slack's warnings (`message_truncated`, `missing_charset`…) go into the trace with the result.
      const warnings = collectSlackWarnings(result);
      return {
        outcome: 'succeeded',
        detail: {
          channel: result.channel,
          ts: result.ts,
          ...(warnings.length > 0 ? { warnings } : {}),
          ...(truncated.length > 0 ? { truncated } : {}),
        },
      };
    },
    async probe(signal: AbortSignal): Promise<void> {
      // auth.test: "checks authentication and tells you who you are", needs no scope, and answers
      // invalid_auth / token_revoked / account_inactive like chat.postMessage
      // (https://docs.slack.dev/reference/methods/auth.test). Dry-run has nothing to probe.
      if (client) await client.call(signal, (web) => web.auth.test());
    },
  };

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
      if (isFirst !== 'OK' || !client) return undefined;
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
      const code = error instanceof PermanentActionError || error instanceof RetryableActionError ? error.code : 'unexpected_error';
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

function ensureTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** `slack.post_message`: posts one message to a channel with chat.postMessage. */
export const slackPostMessage = defineAction<SlackPostMessageParams, typeof slackEnv>({
  name: 'slack.post_message',
  params: slackPostMessageParams,
  escapeText: escapeSlackMrkdwn,
  // Block Kit (issue 12, point 9): plain_text objects are shown as written; only mentions are defused.
  escapeTextIn: escapeSlackTextIn,
  lint: listSlackLimitWarnings,
  destinationParam: 'channel',
  // --- digests (issue 12, points 6-7) ---
  deferredTemplates: { digest_text: DIGEST_TEMPLATE_VARIABLES },
  grouping: slackGrouping,
  // --- end of digests ---
  connect: (deps) => connectSlackPostMessage(deps),
  title: 'Slack',
  env: slackEnv,
  credential: 'SLACK_BOT_TOKEN',
});
