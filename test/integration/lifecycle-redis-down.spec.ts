import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { BridgeProcess } from '../support/bridge-process.js';
import { bridgeTestEnv } from '../support/bridge-env.js';
import { OwnRedisServer } from '../support/redis-server.js';

const RULES_DIR = fileURLToPath(new URL('../../rules/', import.meta.url));
const SHUTDOWN_TIMEOUT_MS = 1_000;
/** run.ts's FORCED_EXIT_GRACE_MS, plus half a second for the process to be reaped. */
const GRACE_MS = 2_500;

/** Issue 14.1: with Redis unreachable, SIGTERM and SIGINT used to be ignored until `kill -9`. */
describe('shutdown while Redis is unreachable (real process, own redis-server)', function () {
  this.timeout(60_000);
  let redisServer: OwnRedisServer;
  let bridge: BridgeProcess | undefined;

  beforeEach(async () => {
    redisServer = await OwnRedisServer.start();
    bridge = await BridgeProcess.start({
      env: bridgeTestEnv({ prefix: 'shutdown', rulesDir: RULES_DIR, redisUrl: redisServer.url, extra: { SHUTDOWN_TIMEOUT: `${SHUTDOWN_TIMEOUT_MS}ms` } }),
    });
  });

  afterEach(async () => {
    bridge?.child.kill('SIGKILL');
    bridge = undefined;
    await redisServer.destroy();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} ends the process within SHUTDOWN_TIMEOUT (plus its 2 s grace) while Redis is stopped`, async () => {
      await redisServer.stop();
      // Let the connections notice and start reconnecting.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const startedAt = Date.now();
      await bridge!.stop(signal);
      expect(Date.now() - startedAt, bridge!.output().slice(-2_000)).to.be.below(SHUTDOWN_TIMEOUT_MS + GRACE_MS);
    });
  }

  it('SIGTERM still ends it after Redis came back', async () => {
    await redisServer.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await redisServer.start();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const startedAt = Date.now();
    await bridge!.stop('SIGTERM');
    expect(Date.now() - startedAt).to.be.below(SHUTDOWN_TIMEOUT_MS + GRACE_MS);
  });
});
