import { readSettings } from '../../config/env-variable.js';
import type { ActionContext, ActionDeps, ActionResult, ActionRunner } from '../action.js';
import { defineAction } from '../descriptor.js';
import { waitForSlot } from '../pacing.js';
import { createSlackClient, type SlackClient } from './client.js';
import { listSlackLimitWarnings, truncateToSlackLimits } from './limits.js';
import { escapeSlackMrkdwn } from './mrkdwn.js';
import { slackEnv } from './env.js';
import { slackPostMessageParams, type SlackPostMessageParams } from './params.js';

/** The Web API method this action calls. */
export const SLACK_POST_MESSAGE_METHOD = 'chat.postMessage';

/** Options of {@link connectSlackPostMessage} beyond the shared deps. */
export interface SlackPostMessageOptions {
  /**
   * Longest a job sleeps for its channel's next send slot, in ms; further away, the job is handed
   * back to the worker as `paced` (delayed without spending an attempt).
   * @defaultValue 5 × the channel interval (5 s at the default 1 message/s)
   */
  readonly maxPaceWaitMs?: number;
  /** A prebuilt client (tests); by default one is built from the config. */
  readonly client?: SlackClient;
}

import { slackPaceKey } from './state.js';
export { slackPaceKey };

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
      // Slack allows about one message per second per channel; the pacer holds every worker to it.
      await waitForSlot({
        redis: deps.redis,
        key: slackPaceKey(deps.keyPrefix, params.channel),
        intervalMs,
        maxWaitMs: options.maxPaceWaitMs,
        now: deps.now,
        signal: ctx.signal,
      });
      const result = await client.call(ctx.signal, (web) =>
        web.chat.postMessage(args as unknown as Parameters<typeof web.chat.postMessage>[0]),
      );
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
  lint: listSlackLimitWarnings,
  connect: (deps) => connectSlackPostMessage(deps),
  title: 'Slack',
  env: slackEnv,
  credential: 'SLACK_BOT_TOKEN',
});
