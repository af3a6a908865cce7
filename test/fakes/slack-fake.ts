import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local Slack Web API speaking the real wire format of `chat.postMessage` and `auth.test`: a POST
 * with a form-urlencoded (what @slack/web-api sends, `blocks` JSON-encoded) or JSON body, the bot
 * token as `Authorization: Bearer`, and answers with HTTP 200 `{ ok: true, channel, ts, message }` or
 * `{ ok: false, error }`; rate limits are HTTP 429 with `Retry-After` (seconds).
 *
 * Rate limits, as Slack documents them (docs.slack.dev/apis/web-api/rate-limits; the
 * chat.postMessage reference, "Rate limiting"), each read the less forgiving way where unclear:
 * - chat.postMessage allows "1 message per second to a specific channel" (`perChannelLimit`), counted
 *   per conversation: a name (`#affiliates`) and its ID (`C…`) are one channel, one budget;
 * - "limits governing your app's relationship with the entire workspace ... several hundred messages
 *   per minute" (`workspaceLimit`, a rolling minute);
 * - a limited call gets HTTP 429 and `Retry-After` "the number of seconds until you can retry"; an app
 *   that keeps calling before then is still rate limited, and Slack warns such apps may be disabled:
 *   every call that arrives during a channel's (or, for the workspace limit, any) Retry-After is
 *   answered 429 again and counted by `callsIgnoringRetryAfter()`;
 * - every answer carries `x-oauth-scopes` (the token's scopes, docs.slack.dev/authentication/tokens);
 *   conversations.list (Tier 2) needs `channels:read` and answers `missing_scope` without it.
  *
 * Documented behaviour it models (where the documentation is vague, the less forgiving reading):
 * - auth.test (https://docs.slack.dev/reference/methods/auth.test): "checks authentication and
 *   tells you who you are"; `{ ok: true, url, team, user, team_id, user_id, bot_id }`, or
 *   `invalid_auth` / `not_authed` / `token_revoked` / `account_inactive` like every method.
 * - chat.postMessage "Truncating content" (https://docs.slack.dev/reference/methods/chat.postMessage,
 *   and https://api.slack.com/changelog/2018-04-truncating-really-long-messages): text over 40,000
 *   characters is truncated *silently* — the call answers `ok: true` with
 *   `warning: "message_truncated"` (also in `response_metadata.warnings`) and the message keeps only
 *   the first 40,000 characters, with no marker. Characters are counted as UTF-16 code units (a
 *   JavaScript string's length): never fewer than Slack's count, whatever Slack counts.
 * - Section blocks (https://docs.slack.dev/reference/block-kit/blocks/section-block): `text` at most
 *   3,000 characters, each of `fields` at most 2,000; header text at most 150. Over a limit the call
 *   fails `ok: false, error: "invalid_blocks"` with an `errors` pointer, and nothing is posted.
 *
 * History, threads and updates (issue 12), each as Slack documents it:
 * - chat.postMessage `metadata` ("JSON object with event_type and event_payload fields, presented as
 *   a URL-encoded string", https://docs.slack.dev/messaging/message-metadata): stored with the
 *   message; a body that is not such an object is `invalid_metadata_format`.
 * - chat.postMessage `thread_ts` must name a message of that channel that still exists: a reply to
 *   a deleted (or unknown) message is `thread_not_found` (slackapi/bolt-js#2307: "the parent message
 *   no longer exists"). `reply_broadcast` also shows the reply in the channel (subtype
 *   `thread_broadcast`, https://docs.slack.dev/reference/events/message/thread_broadcast).
 * - an archived channel takes no message and no update: `is_archived` (chat.postMessage "Errors").
 * - conversations.history (https://docs.slack.dev/reference/methods/conversations.history): `channel`
 *   is a conversation ID (a name is `channel_not_found`, the less forgiving reading); needs
 *   `channels:history` (`groups:history` for a `G…` channel), else `missing_scope`; newest first;
 *   `oldest`/`latest` exclusive unless `inclusive`; `limit` default 100, at most 999; paging with
 *   `cursor` and `response_metadata.next_cursor` (`has_more`); only parent messages and broadcast
 *   replies ("conversations.history returns only parent messages", conversations.replies reference);
 *   `metadata` only with `include_all_metadata` ("Return all metadata associated with this
 *   message", default false). A deleted message is not listed.
 * - conversations.replies: `ts` names the thread's parent (`thread_not_found` when it does not
 *   exist), the parent then its replies oldest first, same paging, `oldest` and metadata rules.
 * - chat.update (https://docs.slack.dev/reference/methods/chat.update): `channel` (an ID) and `ts`;
 *   `message_not_found` when "no message exists with the requested timestamp" (deleted included);
 *   keeps the metadata when none is sent.
 * - `deleteMessage` and `archiveChannel` stand for a person deleting the root or archiving the channel.
 */

/** chat.postMessage keeps this many characters of `text`; beyond, it truncates with a warning. */
export const SLACK_FAKE_TEXT_LIMIT = 40_000;
/** Longest section `text.text`; one character more is `invalid_blocks`. */
export const SLACK_FAKE_SECTION_TEXT_LIMIT = 3_000;
/** Longest text of one section field. */
export const SLACK_FAKE_SECTION_FIELD_LIMIT = 2_000;
/** Longest header text. */
export const SLACK_FAKE_HEADER_TEXT_LIMIT = 150;

/** One accepted message, as the fake recorded it. */
export interface ReceivedSlackMessage {
  readonly token: string | null;
  readonly channel: string;
  readonly text?: string;
  readonly blocks?: unknown[];
  readonly thread_ts?: string;
  readonly unfurl_links?: boolean;
  /** Arrival time, ms since the epoch (wall clock of the fake). */
  readonly at: number;
  // ---- History, threads and updates (issue 12) ----
  /** The conversation ID the message went to. */
  readonly channelId: string;
  /** The message's ts, as answered. */
  readonly ts: string;
  readonly reply_broadcast?: boolean;
  readonly metadata?: { readonly event_type: string; readonly event_payload: Record<string, unknown> };
}

/** One chat.update the fake applied. */
export interface SlackFakeUpdate {
  readonly channelId: string;
  readonly ts: string;
  readonly text?: string;
  readonly at: number;
}

/**
 * What a step applies to: the next `times` calls (default 1), or every call for `forMs` from its
 * first use; with `channel`, only calls posting to that channel (others pass it by), so faults on
 * different channels can run side by side.
 */
interface StepScope {
  readonly times?: number;
  readonly forMs?: number;
  readonly channel?: string;
  /** Only calls of this Web API method (`chat.postMessage`); others pass it by. @defaultValue every method */
  readonly method?: string;
}

/** One scripted behaviour; applies to the next `times` calls, or to every call for `forMs`. */
export type SlackScriptStep =
  /** HTTP 200 `{ ok: false, error }`. */
  | ({ readonly kind: 'error'; readonly error: string } & StepScope)
  /** HTTP 429 with `Retry-After: retryAfterSeconds` (omit the header with `retryAfterSeconds: null`). */
  | ({ readonly kind: 'rate_limit'; readonly retryAfterSeconds: number | null } & StepScope)
  /** Any HTTP status with an optional body (default: an HTML page, as Slack's edge sends). */
  | ({ readonly kind: 'http_status'; readonly status: number; readonly body?: string } & StepScope)
  /**
   * Holds the answer `ms` before handling the call normally (timeouts). `ifClientGone` says what
   * happens to a call whose client gave up during the delay: `deliver` (the default, and what Slack
   * may do: the request arrived whole) posts it all the same; `drop` posts nothing.
   */
  | ({ readonly kind: 'delay'; readonly ms: number; readonly ifClientGone?: 'deliver' | 'drop' } & StepScope)
  /** Destroys the socket without an answer. */
  | ({ readonly kind: 'drop_connection' } & StepScope)
  /**
   * Handles the call normally and adds `warning` to an ok answer, as Slack does (`warning` and
   * `response_metadata.warnings`, e.g. `missing_charset`, `superfluous_charset`).
   */
  | ({ readonly kind: 'warning'; readonly warning: string } & StepScope);

/** One request as the fake saw it, with what it answered. */
export interface SlackFakeRequest {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly rawBody: string;
  /** Arrival time, ms since the epoch. */
  readonly at: number;
  /** The `channel` argument, when the body had one. */
  readonly channel?: string;
  /** The `text` argument, when the body had one. */
  readonly text?: string;
  /** HTTP status answered; 0 while pending, for a dropped connection, or a client gone during a delay. */
  status: number;
  /** The `Retry-After` header answered with a 429, in seconds. */
  retryAfterSeconds?: number;
  /** True when the client went away before the fake answered (e.g. its timeout ran out during a `delay`). */
  clientGone?: boolean;
}

/** Options of {@link startSlackFake}. */
export interface SlackFakeOptions {
  /** The bot token the fake accepts; others get `invalid_auth`, none gets `not_authed`. @defaultValue any token */
  readonly token?: string;
  /** Enforce at most `messagesPerSecond` per channel (rolling 1 s); over it: 429 + Retry-After. */
  readonly perChannelLimit?: { readonly messagesPerSecond: number; readonly retryAfterSeconds?: number };
  /** Channels that do not exist: posting there answers `channel_not_found`, as Slack does. */
  readonly missingChannels?: readonly string[];
  /** Enforce at most `messagesPerMinute` for the whole workspace (rolling 60 s); over it: 429 + Retry-After. */
  readonly workspaceLimit?: { readonly messagesPerMinute: number; readonly retryAfterSeconds?: number };
  /** The token's scopes, sent as `x-oauth-scopes`. @defaultValue ['chat:write'] (no channels:read) */
  readonly scopes?: readonly string[];
  /**
   * Channels by name and ID, for conversations.list and for resolving names. A name not listed
   * resolves to `C` + its upper-cased letters and digits (`#affiliates` → `CAFFILIATES`).
   * @defaultValue none
   */
  readonly channels?: ReadonlyArray<{ readonly id: string; readonly name: string }>;
  /**
   * Most messages one conversations.history / .replies page holds, whatever `limit` asks: "Fewer
   * than the requested number of items may be returned, even if the end of the conversation
   * history hasn't been reached" (conversations.history, `limit`).
   * @defaultValue 999, the documented maximum
   */
  readonly historyPageSize?: number;
}

/** What a token the fake does not accept is answered with. */
export type SlackTokenRejection = 'invalid_auth' | 'token_revoked' | 'token_expired' | 'account_inactive' | 'missing_scope';

export interface SlackFake {
  /** Base URL to give the WebClient as `slackApiUrl`, ending in `/api/`. */
  readonly url: string;
  readonly received: ReceivedSlackMessage[];
  /** Every request's method path and raw headers, accepted or not, with its arrival time and answer. */
  readonly requests: SlackFakeRequest[];
  /** How many 429s the fake has sent (scripted or from the per-channel limit). */
  readonly rateLimited: () => number;
  /** Calls that arrived while a Retry-After the fake had answered for their channel (or workspace) still ran. */
  readonly callsIgnoringRetryAfter: () => number;
  /** The channel ID a `channel` argument (name or ID) stands for. */
  channelIdOf(channel: string): string;
  /** Appends steps; each call consumes the first active step. */
  script(...steps: SlackScriptStep[]): void;
  /** Drops every scripted step not yet used. */
  resetScript(): void;
  /**
   * Changes the accepted token from now on (`undefined`: any). Calls with another token are answered
   * `ok: false` with `rejectWith` (default `invalid_auth`) by every method, auth.test included: a
   * token revoked (`token_revoked`) and later replaced by the operator.
   */
  setToken(token: string | undefined, rejectWith?: SlackTokenRejection): void;
  /** How many auth.test calls the fake answered. */
  authTests(): number;
  /** How many accepted messages carry each text (a count above 1 is a duplicate). */
  countByText(): Map<string, number>;
  // ---- History, threads and updates (issue 12) ----
  /** Every chat.update applied, in order. */
  readonly updates: SlackFakeUpdate[];
  /** A message's current text (after updates); undefined when unknown or deleted. */
  currentText(channel: string, ts: string): string | undefined;
  /** Deletes a message, as a person would in Slack. */
  deleteMessage(channel: string, ts: string): void;
  /** Archives a channel, as a person would in Slack. */
  archiveChannel(channel: string): void;
  close(): Promise<void>;
}

interface ActiveStep {
  readonly step: SlackScriptStep;
  remaining: number;
  /** For `forMs` steps: when they stop applying (set on first use). */
  until?: number;
}

/** Starts the fake on 127.0.0.1, port 0. */
export async function startSlackFake(options: SlackFakeOptions = {}): Promise<SlackFake> {
  const received: ReceivedSlackMessage[] = [];
  const requests: SlackFake['requests'] = [];
  let steps: ActiveStep[] = [];
  let rateLimitedCount = 0;
  let ignoredRetryAfterCount = 0;
  let tsCounter = 0;
  let acceptedToken = options.token;
  let tokenRejection: SlackTokenRejection = 'invalid_auth';
  let authTestCount = 0;
  const sentPerChannel = new Map<string, number[]>();
  // ---- History, threads and updates (issue 12) ----
  const stored = new Map<string, StoredMessage[]>();
  const archived = new Set<string>();
  const updates: SlackFakeUpdate[] = [];
  const findStored = (channelId: string, ts: string) => stored.get(channelId)?.find((message) => message.ts === ts && !message.deleted);
  const sentInWorkspace: number[] = [];
  /** Channel ID (or `*` for the workspace) → when the last Retry-After answered for it ends. */
  const retryAfterUntil = new Map<string, number>();
  const scopes = options.scopes ?? ['chat:write'];
  const channelIdOf = (channel: string): string => {
    if (/^[CGD][A-Z0-9]{2,}$/.test(channel)) return channel;
    const name = channel.replace(/^#/, '').toLowerCase();
    const listed = options.channels?.find((candidate) => candidate.name === name);
    return listed ? listed.id : `C${name.toUpperCase().replace(/[^A-Z0-9]/g, '')}`;
  };

  // The first step that applies to this call's channel; steps for other channels are passed by.
  const nextStep = (channel: string | undefined, path: string): SlackScriptStep | undefined => {
    const now = Date.now();
    for (let index = 0; index < steps.length; ) {
      const active = steps[index];
      if ((active.step.channel !== undefined && active.step.channel !== channel) || (active.step.method !== undefined && `/api/${active.step.method}` !== path)) {
        index += 1;
        continue;
      }
      if (active.step.forMs !== undefined) {
        active.until ??= now + active.step.forMs;
        if (now < active.until) return active.step;
        steps.splice(index, 1);
        continue;
      }
      if (active.remaining > 0) {
        active.remaining -= 1;
        if (active.remaining === 0) steps.splice(index, 1);
        return active.step;
      }
      steps.splice(index, 1);
    }
    return undefined;
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-oauth-scopes': scopes.join(','), ...headers });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, rawBody: string) => {
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const args = parseArguments(req.headers['content-type'] ?? '', rawBody);
    const request: SlackFakeRequest = {
      path,
      headers: req.headers,
      rawBody,
      at: Date.now(),
      channel: typeof args.channel === 'string' ? args.channel : undefined,
      text: typeof args.text === 'string' ? args.text : undefined,
      status: 0,
    };
    requests.push(request);
    let isClientGone = false;
    res.once('close', () => {
      if (res.writableFinished) return;
      isClientGone = true;
      request.clientGone = true;
    });
    const answer = (status: number) => {
      request.status = status;
    };
    let step = nextStep(request.channel, path);
    let dropIfClientGone = false;
    while (step?.kind === 'delay') {
      dropIfClientGone ||= step.ifClientGone === 'drop';
      await new Promise((resolve) => setTimeout(resolve, step && step.kind === 'delay' ? step.ms : 0));
      step = nextStep(request.channel, path);
    }
    if (isClientGone && dropIfClientGone) return;
    if (step?.kind === 'drop_connection') {
      req.socket.destroy();
      return;
    }
    const channelId = request.channel !== undefined ? channelIdOf(request.channel) : undefined;
    if (path === '/api/chat.postMessage' && channelId !== undefined) {
      const now = Date.now();
      if (now < (retryAfterUntil.get(channelId) ?? 0) || now < (retryAfterUntil.get('*') ?? 0)) {
        // Still inside a Retry-After this fake answered: the app ignored it.
        ignoredRetryAfterCount += 1;
        rateLimitedCount += 1;
        const until = Math.max(retryAfterUntil.get(channelId) ?? 0, retryAfterUntil.get('*') ?? 0);
        const seconds = Math.max(1, Math.ceil((until - now) / 1000));
        answer(429);
        request.retryAfterSeconds = seconds;
        return sendJson(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(seconds) });
      }
    }
    if (step?.kind === 'rate_limit') {
      rateLimitedCount += 1;
      if (channelId !== undefined && step.retryAfterSeconds !== null) retryAfterUntil.set(channelId, Date.now() + step.retryAfterSeconds * 1000);
      const headers: Record<string, string> = step.retryAfterSeconds === null ? {} : { 'retry-after': String(step.retryAfterSeconds) };
      answer(429);
      if (step.retryAfterSeconds !== null) request.retryAfterSeconds = step.retryAfterSeconds;
      return sendJson(res, 429, { ok: false, error: 'ratelimited' }, headers);
    }
    if (step?.kind === 'http_status') {
      answer(step.status);
      res.writeHead(step.status, { 'content-type': 'text/html' });
      res.end(step.body ?? `<html><body>${step.status}</body></html>`);
      return;
    }
    // Every answer below is HTTP 200 (Slack reports API errors in the body) except the per-channel 429.
    answer(200);
    if (path === '/api/conversations.list') return listConversations(res, rawBody, req.headers['content-type'] ?? '');
    const isAuthTest = path === '/api/auth.test';
    const isHistoryMethod = HISTORY_METHODS.has(path);
    if (req.method !== 'POST' || (path !== '/api/chat.postMessage' && !isAuthTest && !isHistoryMethod)) {
      return sendJson(res, 200, { ok: false, error: 'unknown_method' });
    }
    if (isAuthTest) authTestCount += 1;
    if (step?.kind === 'error') return sendJson(res, 200, { ok: false, error: step.error });

    const authorization = req.headers.authorization;
    const token = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : null;
    const bodyToken = typeof args.token === 'string' ? args.token : null;
    const effectiveToken = token ?? bodyToken;
    if (!effectiveToken) return sendJson(res, 200, { ok: false, error: 'not_authed' });
    if (acceptedToken !== undefined && effectiveToken !== acceptedToken) {
      return sendJson(res, 200, { ok: false, error: tokenRejection });
    }
    if (isAuthTest) {
      return sendJson(res, 200, {
        ok: true,
        url: 'https://fake-workspace.slack.com/',
        team: 'Fake Workspace',
        user: 'affiliate-bridge',
        team_id: 'T0FAKE',
        user_id: 'U0FAKE',
        bot_id: 'B0FAKE',
        is_enterprise_install: false,
      });
    }
    if (isHistoryMethod) return handleHistoryMethod(res, path, args);
    const channel = typeof args.channel === 'string' ? args.channel : '';
    if (!channel || options.missingChannels?.includes(channel)) return sendJson(res, 200, { ok: false, error: 'channel_not_found' });
    // ---- History, threads and updates (issue 12): archived channels, metadata, thread_ts. ----
    if (archived.has(channelIdOf(channel))) return sendJson(res, 200, { ok: false, error: 'is_archived' });
    const metadata = parseMetadata(args.metadata);
    if (metadata === 'invalid') return sendJson(res, 200, { ok: false, error: 'invalid_metadata_format' });
    const threadTs = typeof args.thread_ts === 'string' && args.thread_ts !== '' ? args.thread_ts : undefined;
    if (threadTs !== undefined && !findStored(channelIdOf(channel), threadTs)) return sendJson(res, 200, { ok: false, error: 'thread_not_found' });
    const blocks = parseBlocks(args.blocks);
    if (blocks === 'invalid') return sendJson(res, 200, { ok: false, error: 'invalid_blocks_format' });
    const blockProblems = blocks ? blockLengthProblems(blocks) : [];
    if (blockProblems.length > 0) {
      return sendJson(res, 200, { ok: false, error: 'invalid_blocks', errors: blockProblems, response_metadata: { messages: blockProblems.map((p) => `[ERROR] ${p}`) } });
    }
    const sentText = typeof args.text === 'string' ? args.text : undefined;
    if (!sentText && !blocks) return sendJson(res, 200, { ok: false, error: 'no_text' });
    // Silent truncation: the message keeps the first 40,000 characters, no marker, and the answer is ok.
    const isTruncated = sentText !== undefined && sentText.length > SLACK_FAKE_TEXT_LIMIT;
    const text = isTruncated ? sentText.slice(0, SLACK_FAKE_TEXT_LIMIT) : sentText;
    const warnings = [...(isTruncated ? ['message_truncated'] : []), ...(step?.kind === 'warning' ? [step.warning] : [])];

    const id = channelIdOf(channel);
    const rateLimit = (retryAfterSeconds: number, scope: string) => {
      rateLimitedCount += 1;
      answer(429);
      request.retryAfterSeconds = retryAfterSeconds;
      retryAfterUntil.set(scope, Date.now() + retryAfterSeconds * 1000);
      return sendJson(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(retryAfterSeconds) });
    };
    if (options.perChannelLimit) {
      // Counted per conversation ID: posting by name and by ID spends one budget.
      const now = Date.now();
      const recent = (sentPerChannel.get(id) ?? []).filter((at) => now - at < 1000);
      sentPerChannel.set(id, recent);
      if (recent.length >= options.perChannelLimit.messagesPerSecond) return rateLimit(options.perChannelLimit.retryAfterSeconds ?? 1, id);
    }
    if (options.workspaceLimit) {
      const now = Date.now();
      while (sentInWorkspace.length > 0 && now - sentInWorkspace[0] >= 60_000) sentInWorkspace.shift();
      if (sentInWorkspace.length >= options.workspaceLimit.messagesPerMinute) return rateLimit(options.workspaceLimit.retryAfterSeconds ?? 1, '*');
    }
    if (options.perChannelLimit) sentPerChannel.get(id)!.push(Date.now());
    sentInWorkspace.push(Date.now());

    tsCounter += 1;
    const ts = `${Math.floor(Date.now() / 1000)}.${String(tsCounter).padStart(6, '0')}`;
    const replyBroadcast = threadTs !== undefined && parseBoolean(args.reply_broadcast) === true;
    const message: ReceivedSlackMessage = {
      token: effectiveToken,
      channel,
      text,
      blocks: blocks ?? undefined,
      thread_ts: typeof args.thread_ts === 'string' ? args.thread_ts : undefined,
      unfurl_links: parseBoolean(args.unfurl_links),
      at: Date.now(),
      channelId: id,
      ts,
      ...(replyBroadcast ? { reply_broadcast: true } : {}),
      ...(metadata ? { metadata } : {}),
    };
    received.push(message);
    const inChannel = stored.get(id) ?? [];
    inChannel.push({ ts, text: text ?? '', threadTs, replyBroadcast, metadata: metadata ?? undefined, deleted: false });
    stored.set(id, inChannel);
    sendJson(res, 200, {
      ok: true,
      channel: id,
      ts,
      message: { type: 'message', subtype: 'bot_message', text: text ?? '', ts, bot_id: 'B0FAKE', blocks: blocks ?? undefined },
      ...(warnings.length > 0 ? { warning: warnings.join(','), response_metadata: { warnings } } : {}),
    });
  };

  // ---- History, threads and updates (issue 12): conversations.history, .replies, chat.update ----
  const handleHistoryMethod = (res: ServerResponse, path: string, args: Record<string, unknown>) => {
    const channel = typeof args.channel === 'string' ? args.channel : '';
    // These methods take a conversation ID; a name is not found (the less forgiving reading).
    if (!/^[CGD][A-Z0-9]{2,}$/.test(channel) || options.missingChannels?.includes(channel)) return sendJson(res, 200, { ok: false, error: 'channel_not_found' });
    const messages = stored.get(channel) ?? [];
    if (path === '/api/chat.update') {
      if (archived.has(channel)) return sendJson(res, 200, { ok: false, error: 'is_archived' });
      const target = typeof args.ts === 'string' ? findStored(channel, args.ts) : undefined;
      if (!target) return sendJson(res, 200, { ok: false, error: 'message_not_found' });
      if (typeof args.text === 'string') target.text = args.text.slice(0, SLACK_FAKE_TEXT_LIMIT);
      const metadata = parseMetadata(args.metadata);
      if (metadata === 'invalid') return sendJson(res, 200, { ok: false, error: 'invalid_metadata_format' });
      if (metadata) target.metadata = metadata;
      updates.push({ channelId: channel, ts: target.ts, text: typeof args.text === 'string' ? args.text : undefined, at: Date.now() });
      return sendJson(res, 200, { ok: true, channel, ts: target.ts, text: target.text });
    }
    const needed = channel.startsWith('G') ? 'groups:history' : channel.startsWith('D') ? 'im:history' : 'channels:history';
    if (!scopes.includes(needed)) return sendJson(res, 200, { ok: false, error: 'missing_scope', needed, provided: scopes.join(',') });
    const isInclusive = parseBoolean(args.inclusive) === true;
    const oldest = typeof args.oldest === 'string' && args.oldest !== '' ? Number(args.oldest) : Number.NEGATIVE_INFINITY;
    const latest = typeof args.latest === 'string' && args.latest !== '' ? Number(args.latest) : Number.POSITIVE_INFINITY;
    const inRange = (message: StoredMessage) => {
      const ts = Number(message.ts);
      return isInclusive ? ts >= oldest && ts <= latest : ts > oldest && ts < latest;
    };
    let listed: StoredMessage[];
    if (path === '/api/conversations.replies') {
      const parent = typeof args.ts === 'string' ? findStored(channel, args.ts) : undefined;
      if (!parent || parent.threadTs !== undefined) return sendJson(res, 200, { ok: false, error: 'thread_not_found' });
      listed = [parent, ...messages.filter((message) => message.threadTs === parent.ts && !message.deleted)].filter(
        (message) => message === parent || inRange(message),
      );
    } else {
      listed = messages.filter((message) => !message.deleted && (message.threadTs === undefined || message.replyBroadcast) && inRange(message)).reverse();
    }
    const start = typeof args.cursor === 'string' && args.cursor !== '' ? Number(args.cursor) : 0;
    const limit = Math.min(999, options.historyPageSize ?? 999, Number(args.limit ?? 100) || 100);
    const page = listed.slice(start, start + limit);
    const hasMore = start + limit < listed.length;
    const withMetadata = parseBoolean(args.include_all_metadata) === true;
    return sendJson(res, 200, {
      ok: true,
      messages: page.map((message) => ({
        type: 'message',
        ...(message.threadTs !== undefined && message.replyBroadcast ? { subtype: 'thread_broadcast' } : {}),
        text: message.text,
        ts: message.ts,
        bot_id: 'B0FAKE',
        ...(message.threadTs !== undefined ? { thread_ts: message.threadTs } : {}),
        ...(withMetadata && message.metadata ? { metadata: message.metadata } : {}),
      })),
      has_more: hasMore,
      response_metadata: { next_cursor: hasMore ? String(start + limit) : '' },
    });
  };

  // conversations.list (docs.slack.dev/reference/methods/conversations.list): Tier 2, needs
  // channels:read for public channels; `cursor`/`limit` paging with response_metadata.next_cursor.
  const listConversations = (res: ServerResponse, rawBody: string, contentType: string) => {
    if (!scopes.includes('channels:read')) {
      return sendJson(res, 200, { ok: false, error: 'missing_scope', needed: 'channels:read', provided: scopes.join(',') });
    }
    const args = parseArguments(contentType, rawBody);
    const all = options.channels ?? [];
    const start = typeof args.cursor === 'string' && args.cursor !== '' ? Number(args.cursor) : 0;
    const limit = Math.min(1000, Number(args.limit ?? 100) || 100);
    const page = all.slice(start, start + limit);
    const next = start + limit < all.length ? String(start + limit) : '';
    return sendJson(res, 200, {
      ok: true,
      channels: page.map((channel) => ({ id: channel.id, name: channel.name, is_channel: true, is_archived: false })),
      response_metadata: { next_cursor: next },
    });
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((error: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { ok: false, error: 'fake_crashed', detail: String(error) });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/api/`,
    received,
    requests,
    rateLimited: () => rateLimitedCount,
    callsIgnoringRetryAfter: () => ignoredRetryAfterCount,
    channelIdOf,
    script(...newSteps) {
      steps.push(...newSteps.map((step) => ({ step, remaining: step.times ?? 1 })));
    },
    resetScript() {
      steps = [];
    },
    setToken(token, rejectWith = 'invalid_auth') {
      acceptedToken = token;
      tokenRejection = rejectWith;
    },
    authTests: () => authTestCount,
    updates,
    currentText: (channel, ts) => findStored(channelIdOf(channel), ts)?.text,
    deleteMessage(channel, ts) {
      const message = findStored(channelIdOf(channel), ts);
      if (message) message.deleted = true;
    },
    archiveChannel(channel) {
      archived.add(channelIdOf(channel));
    },
    countByText() {
      const counts = new Map<string, number>();
      for (const message of received) if (message.text !== undefined) counts.set(message.text, (counts.get(message.text) ?? 0) + 1);
      return counts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---- History, threads and updates (issue 12) ----
const HISTORY_METHODS: ReadonlySet<string> = new Set(['/api/conversations.history', '/api/conversations.replies', '/api/chat.update']);

/** One message as the fake keeps it for history, replies and updates. */
interface StoredMessage {
  readonly ts: string;
  text: string;
  readonly threadTs?: string;
  readonly replyBroadcast: boolean;
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  deleted: boolean;
}

/** `metadata` as chat.postMessage takes it: a JSON object (URL-encoded) with event_type and event_payload. */
function parseMetadata(value: unknown): { event_type: string; event_payload: Record<string, unknown> } | null | 'invalid' {
  if (value === undefined || value === '') return null;
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      return 'invalid';
    }
  }
  const candidate = parsed as { event_type?: unknown; event_payload?: unknown } | null;
  if (!candidate || typeof candidate !== 'object' || typeof candidate.event_type !== 'string') return 'invalid';
  if (!candidate.event_payload || typeof candidate.event_payload !== 'object' || Array.isArray(candidate.event_payload)) return 'invalid';
  return { event_type: candidate.event_type, event_payload: candidate.event_payload as Record<string, unknown> };
}

function parseArguments(contentType: string, rawBody: string): Record<string, unknown> {
  if (contentType.includes('application/json')) {
    try {
      const parsed: unknown = JSON.parse(rawBody);
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(rawBody));
}

function parseBlocks(value: unknown): unknown[] | null | 'invalid' {
  if (value === undefined) return null;
  if (Array.isArray(value)) return value;
  if (typeof value !== 'string') return 'invalid';
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed : 'invalid';
  } catch {
    return 'invalid';
  }
}

/** Block Kit length errors, worded as Slack words them: `must be less than 3001 characters [json-pointer:/blocks/0/text/text]`. */
function blockLengthProblems(blocks: unknown[]): string[] {
  const problems: string[] = [];
  // --- Block Kit (issue 12, point 9) ---
  // "You can include up to 50 blocks in each message" (docs.slack.dev/reference/block-kit/blocks);
  // more is refused as a whole with invalid_blocks (the less forgiving reading: nothing is posted).
  if (blocks.length > 50) problems.push('no more than 50 items allowed [json-pointer:/blocks]');
  // --- end of Block Kit ---
  const check = (value: unknown, limit: number, pointer: string) => {
    const text = (value as { text?: unknown } | undefined)?.text;
    if (typeof text === 'string' && text.length > limit) problems.push(`must be less than ${limit + 1} characters [json-pointer:${pointer}/text]`);
  };
  blocks.forEach((block, index) => {
    const b = block as { type?: unknown; text?: unknown; fields?: unknown };
    if (b?.type === 'section') {
      check(b.text, SLACK_FAKE_SECTION_TEXT_LIMIT, `/blocks/${index}/text`);
      if (Array.isArray(b.fields)) b.fields.forEach((field, f) => check(field, SLACK_FAKE_SECTION_FIELD_LIMIT, `/blocks/${index}/fields/${f}`));
    } else if (b?.type === 'header') {
      check(b.text, SLACK_FAKE_HEADER_TEXT_LIMIT, `/blocks/${index}/text`);
    }
  });
  return problems;
}

function parseBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return undefined;
}
