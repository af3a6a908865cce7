import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createApp } from '../../src/http/app.js';
import { BridgeMetrics } from '../../src/observability/metrics.js';
import { EventIntake, type EventsQueueJobData } from '../../src/queue/event-intake.js';
import { EVENTS_QUEUE } from '../../src/queue/names.js';
import { createRedisConnection } from '../../src/infra/redis.js';
import { sourceRegistry } from '../../src/sources/registry.js';
import { createCapturingLogger } from './log-capture.js';
import { loadConfig } from '../../src/config/config.js';

export const TEST_FIRSTPROMOTER_TOKEN = 'fp-test-token-0123456789abcdef';
export const TEST_REWARDFUL_SECRET = 'rw-test-signing-secret-fedcba9876543210';

export interface IntakeAppOptions {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly allowUnsignedWebhooks?: boolean;
  readonly withSecrets?: boolean;
  readonly bodyLimitBytes?: number;
  readonly dedupTtlMs?: number;
  /** The config's `integrations`, as `loadConfig` reads them (settings and every source secret). @defaultValue the defaults, with the test webhook secrets unless `withSecrets` is false */
  readonly integrations?: Readonly<Record<string, unknown>>;
}

/** The real Express app with the real intake on real Redis, listening on 127.0.0.1:0. */
export async function startIntakeApp(options: IntakeAppOptions) {
  const { logger, text: logText, lines: logLines } = createCapturingLogger();
  const metrics = new BridgeMetrics();
  const connection: Redis = createRedisConnection(options.redisUrl, 'intake');
  connection.on('error', () => undefined);
  await once(connection, 'ready');
  const queue = new Queue<EventsQueueJobData>(EVENTS_QUEUE, { connection, prefix: options.prefix });
  queue.on('error', () => undefined);
  const withSecrets = options.withSecrets ?? true;
  const app = createApp({
    sources: sourceRegistry,
    integrations:
      options.integrations ??
      loadConfig(withSecrets ? { FIRSTPROMOTER_WEBHOOK_TOKEN: TEST_FIRSTPROMOTER_TOKEN, REWARDFUL_SIGNING_SECRET: TEST_REWARDFUL_SECRET } : {}).integrations,
    allowUnsignedWebhooks: options.allowUnsignedWebhooks ?? false,
    strippedFields: ['auth_token', 'temp_password'],
    bodyLimitBytes: options.bodyLimitBytes ?? 1024 * 1024,
    intake: new EventIntake({ queue, dedupTtlMs: options.dedupTtlMs ?? 7 * 24 * 3600 * 1000 }),
    metrics,
    logger,
    now: () => new Date(),
    readinessChecks: [async () => (connection.status === 'ready' ? (await connection.ping().then(() => null, () => 'Redis does not answer')) : 'Redis does not answer')],
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    queue,
    metrics,
    logText,
    logLines,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await queue.close();
      connection.disconnect();
    },
  };
}

/** Posts a FirstPromoter delivery with the test token as a Bearer header (or as told). */
export function postFirstPromoter(
  baseUrl: string,
  body: string | Buffer,
  auth: { bearer?: string; basicPassword?: string; query?: string; none?: boolean } = {},
  headers: Record<string, string> = { 'Content-Type': 'application/json' },
) {
  const all: Record<string, string> = { ...headers };
  let url = `${baseUrl}/webhooks/firstpromoter`;
  if (!auth.none) {
    if (auth.query !== undefined) url += `?token=${encodeURIComponent(auth.query)}`;
    else if (auth.basicPassword !== undefined) all.Authorization = `Basic ${Buffer.from(`firstpromoter:${auth.basicPassword}`).toString('base64')}`;
    else all.Authorization = `Bearer ${auth.bearer ?? TEST_FIRSTPROMOTER_TOKEN}`;
  }
  return fetch(url, { method: 'POST', headers: all, body });
}

/** The signature Rewardful sends: lowercase hex HMAC-SHA256 of the raw body. */
export function signRewardful(body: string | Buffer, secret = TEST_REWARDFUL_SECRET): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

export function postRewardful(baseUrl: string, body: string | Buffer, signature: string | null = signRewardful(body), headers: Record<string, string> = { 'Content-Type': 'application/json' }) {
  const all: Record<string, string> = { ...headers };
  if (signature !== null) all['X-Rewardful-Signature'] = signature;
  return fetch(`${baseUrl}/webhooks/rewardful`, { method: 'POST', headers: all, body });
}

/** A response's JSON body, loosely typed for assertions. */
 
export async function readJson(response: Response): Promise<any> {
  return response.json();
}
