/**
 * One server of the intake benchmark, run in its own process so the load generator does not
 * share its event loop: `bare` (Express parses JSON, answers 202), `queue-add` (the same plus a
 * plain `queue.add`), `bridge` (the real app: auth, schema, batched intake with dedup).
 * Prints `listening <port>` when ready.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import express from 'express';
import { pino } from 'pino';
import { createApp } from '../src/http/app.js';
import { BridgeMetrics } from '../src/observability/metrics.js';
import { EventIntake } from '../src/queue/event-intake.js';
import { EVENTS_QUEUE } from '../src/queue/names.js';
import { createRedisConnection } from '../src/infra/redis.js';
import { sourceRegistry } from '../src/sources/registry.js';
import { loadConfig } from '../src/config/config.js';

const [scenario, prefix, token] = process.argv.slice(2);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

let app: express.Express | undefined;
if (scenario === 'bare') {
  app = express();
  app.post('/webhooks/firstpromoter', express.json({ limit: '1mb' }), (_request, response) => {
    response.status(202).json({ ok: true });
  });
} else if (scenario === 'bare-node') {
  // Not Express: Node's own http server reading the body and parsing it. The floor under both.
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      response.writeHead(202, { 'content-type': 'application/json; charset=utf-8' }).end('{"ok":true}');
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`));
  process.on('SIGTERM', () => process.exit(0));
} else if (scenario === 'queue-add') {
  const queue = new Queue(EVENTS_QUEUE, { connection: createRedisConnection(redisUrl, 'intake'), prefix });
  let sequence = 0;
  app = express();
  app.post('/webhooks/firstpromoter', express.json({ limit: '1mb' }), async (request, response) => {
    await queue.add('event', request.body, { jobId: `plain-${process.pid}-${(sequence += 1)}` });
    response.status(202).json({ ok: true });
  });
} else if (scenario === 'bridge') {
  const queue = new Queue(EVENTS_QUEUE, { connection: createRedisConnection(redisUrl, 'intake'), prefix });
  app = createApp({
    sources: sourceRegistry,
    integrations: loadConfig({ FIRSTPROMOTER_WEBHOOK_TOKEN: token, REWARDFUL_SIGNING_SECRET: token }).integrations,
    allowUnsignedWebhooks: false,
    strippedFields: ['auth_token', 'temp_password'],
    bodyLimitBytes: 1024 * 1024,
    intake: new EventIntake({ queue, dedupTtlMs: 3_600_000 }),
    metrics: new BridgeMetrics(),
    // The real logger writes one line per webhook; the benchmark keeps it, sent to /dev/null.
    logger: pino({ level: 'info' }, pino.destination('/dev/null')),
    now: () => new Date(),
    readinessChecks: [],
  });
} else {
  throw new Error(`unknown scenario ${scenario}`);
}

if (scenario !== 'bare-node') {
  const server = app!.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}
