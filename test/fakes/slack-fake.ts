import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local Slack Web API speaking the real wire format of `chat.postMessage`: a POST with a
 * form-urlencoded (what @slack/web-api sends, `blocks` JSON-encoded) or JSON body, the bot token as
 * `Authorization: Bearer`, and answers with HTTP 200 `{ ok: true, channel, ts, message }` or
 * `{ ok: false, error }`; rate limits are HTTP 429 with `Retry-After` (seconds).
 */

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
}

/** One scripted behaviour; applies to the next `times` calls, or to every call for `forMs`. */
export type SlackScriptStep =
  /** HTTP 200 `{ ok: false, error }`. */
  | { readonly kind: 'error'; readonly error: string; readonly times?: number; readonly forMs?: number }
  /** HTTP 429 with `Retry-After: retryAfterSeconds` (omit the header with `retryAfterSeconds: null`). */
  | { readonly kind: 'rate_limit'; readonly retryAfterSeconds: number | null; readonly times?: number; readonly forMs?: number }
  /** Any HTTP status with an optional body (default: an HTML page, as Slack's edge sends). */
  | { readonly kind: 'http_status'; readonly status: number; readonly body?: string; readonly times?: number; readonly forMs?: number }
  /** Holds the answer `ms` before handling the call normally (timeouts). */
  | { readonly kind: 'delay'; readonly ms: number; readonly times?: number; readonly forMs?: number }
  /** Destroys the socket without an answer. */
  | { readonly kind: 'drop_connection'; readonly times?: number; readonly forMs?: number };

/** Options of {@link startSlackFake}. */
export interface SlackFakeOptions {
  /** The bot token the fake accepts; others get `invalid_auth`, none gets `not_authed`. @defaultValue any token */
  readonly token?: string;
  /** Enforce at most `messagesPerSecond` per channel (rolling 1 s); over it: 429 + Retry-After. */
  readonly perChannelLimit?: { readonly messagesPerSecond: number; readonly retryAfterSeconds?: number };
  /** Channels that do not exist: posting there answers `channel_not_found`, as Slack does. */
  readonly missingChannels?: readonly string[];
}

export interface SlackFake {
  /** Base URL to give the WebClient as `slackApiUrl`, ending in `/api/`. */
  readonly url: string;
  readonly received: ReceivedSlackMessage[];
  /** Every request's method path and raw headers, accepted or not. */
  readonly requests: Array<{ readonly path: string; readonly headers: IncomingMessage['headers']; readonly rawBody: string }>;
  /** How many 429s the fake has sent (scripted or from the per-channel limit). */
  readonly rateLimited: () => number;
  /** Appends steps; each call consumes the first active step. */
  script(...steps: SlackScriptStep[]): void;
  /** Drops every scripted step not yet used. */
  resetScript(): void;
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
  let tsCounter = 0;
  const sentPerChannel = new Map<string, number[]>();

  const nextStep = (): SlackScriptStep | undefined => {
    const now = Date.now();
    while (steps.length > 0) {
      const head = steps[0];
      if (head.step.forMs !== undefined) {
        head.until ??= now + head.step.forMs;
        if (now < head.until) return head.step;
        steps.shift();
        continue;
      }
      if (head.remaining > 0) {
        head.remaining -= 1;
        if (head.remaining === 0) steps.shift();
        return head.step;
      }
      steps.shift();
    }
    return undefined;
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, rawBody: string) => {
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    requests.push({ path, headers: req.headers, rawBody });
    let step = nextStep();
    while (step?.kind === 'delay') {
      await new Promise((resolve) => setTimeout(resolve, step && step.kind === 'delay' ? step.ms : 0));
      step = nextStep();
    }
    if (step?.kind === 'drop_connection') {
      req.socket.destroy();
      return;
    }
    if (step?.kind === 'rate_limit') {
      rateLimitedCount += 1;
      const headers: Record<string, string> = step.retryAfterSeconds === null ? {} : { 'retry-after': String(step.retryAfterSeconds) };
      return sendJson(res, 429, { ok: false, error: 'ratelimited' }, headers);
    }
    if (step?.kind === 'http_status') {
      res.writeHead(step.status, { 'content-type': 'text/html' });
      res.end(step.body ?? `<html><body>${step.status}</body></html>`);
      return;
    }
    if (req.method !== 'POST' || path !== '/api/chat.postMessage') {
      return sendJson(res, 200, { ok: false, error: 'unknown_method' });
    }
    if (step?.kind === 'error') return sendJson(res, 200, { ok: false, error: step.error });

    const authorization = req.headers.authorization;
    const token = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : null;
    const args = parseArguments(req.headers['content-type'] ?? '', rawBody);
    const bodyToken = typeof args.token === 'string' ? args.token : null;
    const effectiveToken = token ?? bodyToken;
    if (!effectiveToken) return sendJson(res, 200, { ok: false, error: 'not_authed' });
    if (options.token !== undefined && effectiveToken !== options.token) {
      return sendJson(res, 200, { ok: false, error: 'invalid_auth' });
    }
    const channel = typeof args.channel === 'string' ? args.channel : '';
    if (!channel || options.missingChannels?.includes(channel)) return sendJson(res, 200, { ok: false, error: 'channel_not_found' });
    const blocks = parseBlocks(args.blocks);
    if (blocks === 'invalid') return sendJson(res, 200, { ok: false, error: 'invalid_blocks_format' });
    const text = typeof args.text === 'string' ? args.text : undefined;
    if (!text && !blocks) return sendJson(res, 200, { ok: false, error: 'no_text' });

    if (options.perChannelLimit) {
      const now = Date.now();
      const recent = (sentPerChannel.get(channel) ?? []).filter((at) => now - at < 1000);
      if (recent.length >= options.perChannelLimit.messagesPerSecond) {
        rateLimitedCount += 1;
        sentPerChannel.set(channel, recent);
        return sendJson(res, 429, { ok: false, error: 'ratelimited' }, {
          'retry-after': String(options.perChannelLimit.retryAfterSeconds ?? 1),
        });
      }
      recent.push(now);
      sentPerChannel.set(channel, recent);
    }

    tsCounter += 1;
    const ts = `${Math.floor(Date.now() / 1000)}.${String(tsCounter).padStart(6, '0')}`;
    const message: ReceivedSlackMessage = {
      token: effectiveToken,
      channel,
      text,
      blocks: blocks ?? undefined,
      thread_ts: typeof args.thread_ts === 'string' ? args.thread_ts : undefined,
      unfurl_links: parseBoolean(args.unfurl_links),
      at: Date.now(),
    };
    received.push(message);
    const channelId = channel.startsWith('#') ? `C${channel.slice(1).toUpperCase().replace(/[^A-Z0-9]/g, '')}` : channel;
    sendJson(res, 200, {
      ok: true,
      channel: channelId,
      ts,
      message: { type: 'message', subtype: 'bot_message', text: text ?? '', ts, bot_id: 'B0FAKE', blocks: blocks ?? undefined },
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
    script(...newSteps) {
      steps.push(...newSteps.map((step) => ({ step, remaining: step.times ?? 1 })));
    },
    resetScript() {
      steps = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
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

function parseBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return undefined;
}
