import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { loadConfig } from '../../../src/config/config.js';
import { buildEventJobOptions } from '../../../src/delivery/delivery-policy.js';
import { createAdminRouter } from '../../../src/http/admin/admin-router.js';
import { AdminSessions, AdminThrottle } from '../../../src/http/admin/admin-sessions.js';
import { createApp } from '../../../src/http/app.js';
import { BridgeMetrics } from '../../../src/observability/metrics.js';
import { EventIntake, type EventJobData, type EventsQueueJobData } from '../../../src/queue/event-intake.js';
import { EVENTS_QUEUE, bridgeKeys } from '../../../src/queue/names.js';
import { BridgeOperations } from '../../../src/queue/operations.js';
import { Secret } from '../../../src/secret.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { readJson } from '../../support/intake-app.js';
import { createCapturingLogger } from '../../support/log-capture.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';

const ADMIN_TOKEN = 'admin-test-token-failed-events-0f9e8d7c';
const EVENT_ID = 'firstpromoter-4242';
const JOB_ID = `${EVENT_ID}.0123456789abcdef.a`;

/** The dashboard and its API show failed event jobs and retry them; a trace lists its conflicting duplicates. */
describe('admin: failed event jobs and conflicting duplicates (real app, real Redis)', () => {
  let prefix: string;
  let redis: Redis;
  let workerConnection: Redis;
  let operations: BridgeOperations;
  let events: Queue<EventsQueueJobData>;
  let worker: Worker<EventJobData>;
  let server: Server;
  let baseUrl: string;
  let runs = 0;

  const bearer = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  const get = (path: string) => fetch(`${baseUrl}${path}`, { headers: bearer });
  const post = (path: string) => fetch(`${baseUrl}${path}`, { method: 'POST', headers: bearer });

  before(async () => {
    prefix = randomPrefix('admin-failed-events');
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    workerConnection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    operations = new BridgeOperations(redis, prefix);
    events = new Queue<EventsQueueJobData>(EVENTS_QUEUE, { connection: redis, prefix });
    // A worker that fails every event job at once: it stands for planning that meets Redis trouble.
    worker = new Worker<EventJobData>(
      EVENTS_QUEUE,
      async (): Promise<void> => {
        runs += 1;
        throw new UnrecoverableError('Connection is closed.');
      },
      { connection: workerConnection, prefix },
    );
    const event = {
      id: EVENT_ID, source: 'firstpromoter', type: 'firstpromoter.lead_signup', providerType: 'lead_signup',
      occurredAt: new Date().toISOString(), receivedAt: new Date().toISOString(), status: 'valid' as const, data: {},
    };
    await events.add('event', { event }, buildEventJobOptions(JOB_ID, { attempts: 1, baseDelayMs: 10, maxDelayMs: 10 }));
    await waitFor(async () => (await events.getFailedCount()) === 1);
    const conflictId = `${EVENT_ID}.conflict-fedcba9876543210`;
    await redis
      .multi()
      .set(bridgeKeys(prefix).trace(EVENT_ID), JSON.stringify({ event, runs: [] }))
      .zadd(bridgeKeys(prefix).conflicts(EVENT_ID), Date.now(), conflictId)
      .exec();

    const capture = createCapturingLogger();
    const app = createApp({
      sources: sourceRegistry,
      integrations: loadConfig({}).integrations,
      allowUnsignedWebhooks: false,
      strippedFields: ['auth_token', 'temp_password'],
      bodyLimitBytes: 1024 * 1024,
      intake: new EventIntake({ queue: events, dedupTtlMs: 60_000 }),
      metrics: new BridgeMetrics(),
      logger: capture.logger,
      now: () => new Date(),
      readinessChecks: [],
      extraRouters: [
        createAdminRouter({
          adminToken: new Secret(ADMIN_TOKEN),
          operations,
          logger: capture.logger,
          sessions: new AdminSessions(redis, prefix),
          throttle: new AdminThrottle(redis, prefix),
        }),
      ],
    });
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await worker.close();
    await Promise.all([operations.close(), events.close()]);
    await deleteKeys(redis, prefix);
    redis.disconnect();
    workerConnection.disconnect();
  });

  it('lists a failed event job in the API and on the page, with its retry buttons', async () => {
    const listed = await readJson(await get('/admin/api/failed-events'));
    expect(listed.failed).to.have.length(1);
    expect(listed.failed[0]).to.deep.include({ jobId: JOB_ID, eventId: EVENT_ID, type: 'firstpromoter.lead_signup', attemptsMade: 1, error: 'Connection is closed.' });
    const page = await (await get('/admin')).text();
    expect(page).to.contain('<section id="failed-events" data-live="failed-events">');
    expect(page).to.contain(`data-url="/admin/api/failed-events/${encodeURIComponent(JOB_ID)}/retry"`);
    expect(page).to.contain('data-url="/admin/api/failed-events/retry-all"');
  });

  it('retries one (404 for an unknown id), and retry-all retries each failed job once', async () => {
    expect((await post('/admin/api/failed-events/no-such-job/retry')).status).to.equal(404);
    const before = runs;
    const retried = await post(`/admin/api/failed-events/${encodeURIComponent(JOB_ID)}/retry`);
    expect(retried.status).to.equal(202);
    await waitFor(async () => runs === before + 1 && (await events.getFailedCount()) === 1);
    const all = await post('/admin/api/failed-events/retry-all');
    expect(await readJson(all)).to.deep.equal({ retried: 1, message: 'Retried 1 failed event job(s).' });
  });

  it("lists the conflicting duplicates in the first event's trace, linked", async () => {
    const trace = await readJson(await get(`/admin/api/events/${EVENT_ID}`));
    expect(trace.conflictingDuplicates).to.deep.equal([`${EVENT_ID}.conflict-fedcba9876543210`]);
    const page = await (await get(`/admin?event=${EVENT_ID}`)).text();
    expect(page).to.contain('<ul class="plain" id="conflicting-duplicates">');
    expect(page).to.contain(`href="/admin?event=${EVENT_ID}.conflict-fedcba9876543210#trace"`);
  });
});
