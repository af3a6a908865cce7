import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../../../src/config/config.js';
import { startBridge, type RunningBridge } from '../../../src/main.js';
import { BridgeMetrics } from '../../../src/observability/metrics.js';
import type { ActionJobData } from '../../../src/queue/action-job.js';
import { ACTION_BACKOFF_TYPE, twelveAttemptsOverEightHours } from '../../../src/delivery/delivery-policy.js';
import type { EventsQueueJobData } from '../../../src/queue/event-intake.js';
import { ACTIONS_QUEUE, EVENTS_QUEUE } from '../../../src/queue/names.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';

const RULES = `rules:
  - id: default-retry
    on: firstpromoter.reward_created
    do:
      - slack.post_message: { channel: "#policy", text: "default" }
  - id: rule-retry
    on: firstpromoter.reward_created
    do:
      - slack.post_message: { channel: "#policy", text: "override" }
        retry: { attempts: 2, backoff: 3m }
`;

/** The composed bridge (startBridge, workers only, no Slack token: dry-run) on real Redis. */
describe('delivery policy: what a real action job gets (startBridge, real Redis)', function () {
  this.timeout(30_000);
  let rulesDir: string;
  let redis: Redis;
  let delivery: Record<string, any>;
  const prefixes: string[] = [];

  before(async () => {
    rulesDir = await mkdtemp(path.join(tmpdir(), 'bridge-policy-rules-'));
    await writeFile(path.join(rulesDir, 'policy.yaml'), RULES);
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    delivery = JSON.parse(await readFile(new URL('../../fixtures/deliveries/firstpromoter/reward_created.json', import.meta.url), 'utf8'));
  });

  after(async () => {
    for (const prefix of prefixes) await deleteKeys(redis, prefix);
    redis.disconnect();
    await rm(rulesDir, { recursive: true, force: true });
  });

  /** Runs one reward event through a bridge started with `env`; returns both action jobs. */
  async function runEvent(env: Record<string, string>) {
    const prefix = randomPrefix('policy');
    prefixes.push(prefix);
    const config = loadConfig({ REDIS_URL: SHARED_REDIS_URL, QUEUE_PREFIX: prefix, RULES_DIR: rulesDir, METRICS_PORT: '0', ...env });
    const bridge: RunningBridge = await startBridge({ config, roles: { api: false, workers: true }, logger: pino({ level: 'silent' }), metrics: new BridgeMetrics() });
    const events = new Queue<EventsQueueJobData>(EVENTS_QUEUE, { connection: redis, prefix });
    const actions = new Queue<ActionJobData>(ACTIONS_QUEUE, { connection: redis, prefix });
    try {
      const event = sourceRegistry.firstpromoter.normalize(delivery, { receivedAt: new Date(), strippedFields: [] });
      await events.add('event', { event }, { jobId: `${event.id}.policy` });
      const ids = [`${event.id}.default-retry.0`, `${event.id}.rule-retry.0`];
      await waitFor(async () => (await Promise.all(ids.map((id) => actions.getJobState(id)))).every((state) => state === 'completed'));
      const [byDefault, byRule] = await Promise.all(ids.map(async (id) => (await actions.getJob(id))!));
      // Idempotent: a second stop waits for the same shutdown.
      const stopping = bridge.stop();
      expect(bridge.stop()).to.equal(stopping);
      await stopping;
      return { byDefault, byRule };
    } finally {
      await bridge.stop();
      await Promise.all([events.close(), actions.close()]);
    }
  }

  it('with no environment override, the named default policy is what runs', async () => {
    const { byDefault, byRule } = await runEvent({});
    expect(byDefault.opts.attempts).to.equal(twelveAttemptsOverEightHours.attempts);
    expect(byDefault.opts.backoff).to.deep.equal({ type: ACTION_BACKOFF_TYPE });
    expect(byDefault.data.backoffBaseMs).to.equal(twelveAttemptsOverEightHours.baseDelayMs);
    expect(byRule.opts.attempts).to.equal(2);
    expect(byRule.data.backoffBaseMs).to.equal(180_000);
  });

  it("ACTION_ATTEMPTS and ACTION_BACKOFF_BASE override it; a rule's retry: still wins", async () => {
    const { byDefault, byRule } = await runEvent({ ACTION_ATTEMPTS: '5', ACTION_BACKOFF_BASE: '250ms' });
    expect(byDefault.opts.attempts).to.equal(5);
    expect(byDefault.data.backoffBaseMs).to.equal(250);
    expect(byRule.opts.attempts).to.equal(2);
    expect(byRule.data.backoffBaseMs).to.equal(180_000);
  });
});
