import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { reserveSlot } from '../../src/actions/pacing.js';
import { createRedisConnection } from '../../src/infra/redis.js';
import { OwnRedisServer } from '../support/redis-server.js';

/*
 * Found by the fault suites: a worker process sometimes died on its first Slack or HubSpot action
 * ("uncaught exception: results[i] is not iterable"), about once in 20 starts, and every event it
 * had taken waited for its lock to expire.
 *
 * Cause: src/actions/pacing.ts defines its Lua script (`defineCommand`) lazily, on the first
 * `reserveSlot` of a connection. The `state` connection auto-pipelines, and ioredis copies a
 * client's custom commands into a pipeline when the pipeline is created. When another command on
 * that connection (another job's completion-record GET, a BullMQ call) has opened an auto-pipeline
 * in the same tick, the pacing call is queued into a pipeline that lacks the new command: its
 * promise rejects with "pipeline[functionName] is not a function" (logged as pacing_unavailable),
 * but its callback was already counted, so when the pipeline returns one result short, ioredis
 * throws from a nextTick and the process exits.
 *
 * Fixed by running the script with EVALSHA (EVAL on NOSCRIPT) instead of defineCommand. This test
 * recreates that moment deterministically, in process, with the real connection options of the
 * `state` role, and fails on the old code.
 */
describe('fault: the first pacing call on a connection with an auto-pipeline pending (real Redis of its own)', function () {
  this.timeout(20_000);
  let server: OwnRedisServer;
  let redis: Redis;

  before(async () => {
    server = await OwnRedisServer.start();
    redis = createRedisConnection(server.url, 'state');
    await redis.ping();
  });

  after(async () => {
    redis?.disconnect();
    await server?.destroy();
  });

  it('reserves a slot, and nothing is thrown outside the call', async () => {
    // Mocha's own handler would fail whichever test runs next; catch the throw here instead.
    const mochaHandlers = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const uncaught: string[] = [];
    process.on('uncaughtException', (error: Error) => uncaught.push(error.message));
    try {
      const pendingGet = redis.get('faults:done:some-other-job');
      const reservation = await reserveSlot(redis, 'faults:pace:slack:#general', 100, 500, Date.now()).then(
        (value) => value,
        (error: Error) => `rejected: ${error.message}`,
      );
      await pendingGet.catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect({ reservation, uncaught }).to.deep.equal({ reservation: { isReserved: true, waitMs: 0 }, uncaught: [] });
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const handler of mochaHandlers) process.on('uncaughtException', handler);
    }
  });
});
