import { expect } from 'chai';
import { BridgeProcess } from '../support/bridge-process.js';
import { bridgeTestEnv } from '../support/bridge-env.js';
import { readJson } from '../support/intake-app.js';
import { waitFor } from '../support/redis.js';
import { OwnRedisServer, redisUnreachableLine } from '../support/redis-server.js';

/** The connections retry at most every 2 s (src/infra/redis.ts): this outage spans several retries. */
const OUTAGE_MS = 7_000;

/**
 * Issue 14.1: with Redis gone, every connection used to log every retry (a dozen connections,
 * every 2 s, plus BullMQ's raw stack traces). Now: one warning when it goes, one line when it is back.
 */
describe('Redis going away while the bridge runs (real process, own redis-server)', function () {
  this.timeout(90_000);
  let redisServer: OwnRedisServer;
  let bridge: BridgeProcess | undefined;

  before(async () => {
    redisServer = await OwnRedisServer.start();
  });
  after(async () => {
    await bridge?.stop('SIGKILL');
    await redisServer.destroy();
  });

  it('logs one warning when Redis goes away and one line when it is back, and /readyz says why meanwhile', async () => {
    bridge = await BridgeProcess.start({ env: bridgeTestEnv({ prefix: 'outage-logs', rulesDir: './rules', redisUrl: redisServer.url }) });
    const messages = () => bridge!.logs.map((entry) => String(entry.msg));

    await redisServer.stop();
    const unreachable = redisUnreachableLine(redisServer.url);
    const unreachableLine = await waitFor(() => messages().find((message) => unreachable.test(message)));
    const reason = unreachable.exec(unreachableLine)![1];
    const ready = await fetch(`${bridge.baseUrl}/readyz`);
    expect(ready.status).to.equal(503);
    const { reasons } = (await readJson(ready)) as { reasons: string[] };
    expect(reasons.filter((line) => /^redis: unreachable since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \([^)]+\)$/.test(line) && line.endsWith(`(${reason})`)), reasons.join('\n')).to.have.length(1);
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));

    await redisServer.start();
    await waitFor(() => messages().some((message) => /^Redis reachable again after \d+ s$/.test(message)), 15_000);
    // Stragglers (a connection that reconnects later) would log now.
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    const output = bridge.output();
    expect(messages().filter((message) => message === unreachableLine), output).to.have.length(1);
    expect(messages().filter((message) => message.startsWith('Redis reachable again')), output).to.have.length(1);
    expect(messages().filter((message) => /redis|worker error|queue error/i.test(message)), output).to.have.length(2);
    // No raw stack traces beside the JSON lines.
    expect(bridge.rawOutput.filter((line) => !line.startsWith('{')), output).to.deep.equal([]);
    expect((await fetch(`${bridge.baseUrl}/readyz`)).status).to.equal(200);
    await bridge.stop();
    bridge = undefined;
  });

  it('with REDIS_URL set and nothing answering at start: one line, then it waits for Redis (and starts none of its own)', async () => {
    await redisServer.stop();
    bridge = await BridgeProcess.start({ env: bridgeTestEnv({ prefix: 'outage-logs', rulesDir: './rules', redisUrl: redisServer.url }) });
    const messages = () => bridge!.logs.map((entry) => String(entry.msg));
    await waitFor(() => messages().includes(`Redis unreachable at ${redisServer.url} (ECONNREFUSED); retrying`));
    expect(((await readJson(await fetch(`${bridge.baseUrl}/readyz`))) as { reasons: string[] }).reasons.some((reason) => reason.startsWith('redis: unreachable since '))).to.equal(true);
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    await redisServer.start();
    await waitFor(() => messages().some((message) => /^Redis reachable after \d+ s$/.test(message)), 15_000);
    expect(messages().filter((message) => /redis/i.test(message)), bridge.output()).to.have.length(2);
    await waitFor(async () => (await fetch(`${bridge!.baseUrl}/readyz`)).status === 200 || null);
  });
});
