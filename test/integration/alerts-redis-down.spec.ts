import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { BridgeProcess } from '../support/bridge-process.js';
import { bridgeTestEnv } from '../support/bridge-env.js';
import { parsePrometheusText } from '../support/prometheus-text.js';
import { OwnRedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/redis.js';

const RULES_DIR = fileURLToPath(new URL('../../rules/', import.meta.url));

/**
 * deploy/alerts.yml's BridgeRedisDown fires on `bridge_rules_loaded unless bridge_queue_jobs`: this
 * checks the real process exposes exactly that while its Redis is stopped, and recovers after.
 */
describe('metrics while Redis is down (real process, own redis-server)', function () {
  this.timeout(90_000);
  let redisServer: OwnRedisServer;
  let bridge: BridgeProcess | undefined;

  const seriesNames = async () => {
    const text = await (await fetch(`${bridge!.baseUrl}/metrics`)).text();
    return new Set(parsePrometheusText(text).map((sample) => sample.name));
  };

  before(async () => {
    redisServer = await OwnRedisServer.start();
    bridge = await BridgeProcess.start({
      env: bridgeTestEnv({ prefix: 'alerts', rulesDir: RULES_DIR, redisUrl: redisServer.url, extra: { SHUTDOWN_TIMEOUT: '2s' } }),
    });
  });

  after(async () => {
    await redisServer?.start().catch(() => undefined);
    if (bridge) {
      // A bridge that ignores SIGTERM is point 1 of issue 14, not this test's subject.
      const killer = setTimeout(() => bridge!.child.kill('SIGKILL'), 10_000);
      await bridge.stop();
      clearTimeout(killer);
    }
    await redisServer?.destroy();
  });

  it('drops bridge_queue_jobs (keeping bridge_rules_loaded) while Redis is stopped, and shows it again after', async () => {
    await waitFor(async () => (await seriesNames()).has('bridge_queue_jobs'), 20_000, 500);

    await redisServer.stop();
    await waitFor(async () => !(await seriesNames()).has('bridge_queue_jobs'), 30_000, 500);
    expect((await seriesNames()).has('bridge_rules_loaded')).to.equal(true);

    await redisServer.start();
    await waitFor(async () => (await seriesNames()).has('bridge_queue_jobs'), 30_000, 500);
  });
});
