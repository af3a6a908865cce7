import { readSettings } from '../../config/env-variable.js';
import type { ActionContext, ActionDeps, ActionResult, ActionRunner } from '../action.js';
import { defineAction } from '../descriptor.js';
import { createSlackClient, type SlackClient } from './client.js';
import { buildMessageMetadata } from './exactly-once.js';
import { createSlackPoster } from './slack-poster.js';
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
   *   1 message/s), at least `MIN_DEFAULT_MAX_WAIT_MS` (50 ms), applied by {@link waitForSlot}
   */
  readonly maxPaceWaitMs?: number;
  /**
   * A prebuilt client (tests); used even when SLACK_BOT_TOKEN is unset.
   * @defaultValue one built from the config (SLACK_BOT_TOKEN, SLACK_API_URL, ACTION_TIMEOUT) when the
   *   token is set; none otherwise, and the action runs as dry run
   */
  readonly client?: SlackClient;
}

import { slackPaceKey } from './state.js';
export { slackPaceKey };
export { collectSlackWarnings } from './slack-poster.js';

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
  const poster = client ? createSlackPoster(deps, client, { maxPaceWaitMs: options.maxPaceWaitMs }) : null;

  return {
    async execute(params: SlackPostMessageParams, ctx: ActionContext): Promise<ActionResult> {
      // Cut to Slack's limits with a visible marker: over 40,000 Slack would cut `text` silently,
      // and a section over 3,000 would lose the whole message (invalid_blocks).
      const { args, truncated } = truncateToSlackLimits(buildPostMessageArguments(params));
      if (truncated.length > 0) ctx.logger.warn({ truncated }, 'slack message cut to Slack\'s length limits');
      // ---- Threads (issue 12): an empty rendered key means no thread. ----
      const threadKey = params.thread_key !== undefined && params.thread_key !== '' ? params.thread_key : undefined;
      if (!poster) {
        return {
          outcome: 'dry_run',
          request: {
            method: 'POST',
            path,
            // The SDK sends these as an application/x-www-form-urlencoded form, `blocks` JSON-encoded.
            contentType: 'application/x-www-form-urlencoded',
            body: { ...args, metadata: buildMessageMetadata(ctx.jobId) },
          },
          // A dry run reads no Redis, so it cannot tell a thread's root from a reply.
          ...(threadKey !== undefined ? { detail: { thread_key: threadKey, thread: 'not tracked in a dry run' } } : {}),
        };
      }
      const detail = await poster.post(
        {
          args: args as typeof args & { channel: string },
          ...(threadKey !== undefined ? { threadKey } : {}),
          ...(params.reply_broadcast ? { replyBroadcast: true } : {}),
          ...(threadKey !== undefined && params.root_text !== undefined ? { rootText: params.root_text } : {}),
        },
        ctx,
      );
      // Slack's warnings (`message_truncated`, `missing_charset`…) go into the trace with the result.
      return { outcome: 'succeeded', detail: { ...detail, ...(truncated.length > 0 ? { truncated } : {}) } };
    },
    async probe(signal: AbortSignal): Promise<void> {
      // auth.test: "checks authentication and tells you who you are", needs no scope, and answers
      // invalid_auth / token_revoked / account_inactive like chat.postMessage
      // (https://docs.slack.dev/reference/methods/auth.test). Dry-run has nothing to probe.
      if (client) await client.call(signal, (web) => web.auth.test());
    },
    async checkSetup(signal: AbortSignal): Promise<void> {
      await poster?.checkSetup(signal);
    },
  };
}

function ensureTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/**
 * What `simulate` says about a message's thread (issue 12). It reads no Redis, so it cannot tell
 * whether the key already has a root. Pure.
 */
export function explainSlackThread(params: SlackPostMessageParams): string[] {
  if (params.thread_key === undefined) return [];
  if (params.thread_key === '') return ['thread_key rendered empty: this message is posted on its own, in no thread'];
  const notes = [
    `thread_key ${JSON.stringify(params.thread_key)}: the first message of this key in ${params.channel} starts a thread (kept SLACK_THREAD_TTL), later ones reply in it; simulate reads no Redis, so it cannot say which this one is`,
  ];
  if (params.reply_broadcast) notes.push('reply_broadcast: as a reply, it is also shown in the channel');
  if (params.root_text !== undefined) notes.push(`root_text: as a reply, it then edits the thread's root to ${JSON.stringify(params.root_text)}`);
  return notes;
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
  explain: explainSlackThread,
  connect: (deps) => connectSlackPostMessage(deps),
  title: 'Slack',
  env: slackEnv,
  credential: 'SLACK_BOT_TOKEN',
});
