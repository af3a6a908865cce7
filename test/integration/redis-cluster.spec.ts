import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Cluster } from 'ioredis';
import { startSlackFake, type SlackFake } from '../fakes/slack-fake.js';
import { BridgeProcess, runCli } from '../support/bridge-process.js';
import { postFirstPromoter } from '../support/intake-app.js';
import { OwnRedisCluster } from '../support/redis-cluster.js';
import { waitFor } from '../support/redis.js';
import { bridgeTestEnv } from '../support/bridge-env.js';

const SLACK_TOKEN = 'xoxb-cluster-slack-token-0a1b2c3d';
const PREFIX = '{bridge-test}';

const RULES = `rules:
  - id: cluster-reward
    on: firstpromoter.reward_created
    do:
      - slack.post_message:
          channel: "#cluster"
          text: "reward for {{ data.promoter.email }} via the cluster"
`;

describe('Redis Cluster (3 real masters, the real process)', function () {
  this.timeout(60_000);
  let cluster: OwnRedisCluster;
  let slack: SlackFake;
  let bridge: BridgeProcess | undefined;
  let rulesDir: string;
  let env: Record<string, string>;

  before(async () => {
    cluster = await OwnRedisCluster.start(3);
    slack = await startSlackFake({ token: SLACK_TOKEN });
    rulesDir = await mkdtemp(path.join(tmpdir(), 'bridge-cluster-rules-'));
    await writeFile(path.join(rulesDir, 'cluster.yaml'), RULES);
    env = bridgeTestEnv({
      redisUrl: cluster.url,
      prefix: PREFIX,
      rulesDir,
      slack: { url: slack.url, token: SLACK_TOKEN },
      extra: { REDIS_CLUSTER: 'true', SHUTDOWN_TIMEOUT: '2s' },
    });
  });

  after(async () => {
    await bridge?.stop().catch(() => undefined);
    await slack?.close();
    await cluster?.destroy();
    if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
  });

  it('refuses to start with REDIS_CLUSTER=true and a prefix without a {hash tag}: one config line, exit 1', async () => {
    const result = await runCli(['start'], { ...env, QUEUE_PREFIX: 'bridge-test', PORT: '0', METRICS_PORT: '0' });
    expect(result.code).to.equal(1);
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines).to.deep.equal([
      'config: QUEUE_PREFIX must contain a {hash tag}, such as {bridge}, when REDIS_CLUSTER=true: every key of a queue must land in one Cluster slot',
    ]);
    // The default prefix `bridge` has no tag either.
    const withDefault = await runCli(['start'], { ...env, QUEUE_PREFIX: '', PORT: '0', METRICS_PORT: '0' });
    expect(withDefault.code).to.equal(1);
    expect(withDefault.stderr).to.contain('QUEUE_PREFIX must contain a {hash tag}');
  });

  it('delivers a webhook to a Slack message through the cluster, every key in the hash tag\'s slot', async () => {
    bridge = await BridgeProcess.start({ env });
    await waitFor(async () => (await fetch(`${bridge!.baseUrl}/readyz`)).status === 200, 10_000);

    const delivery = JSON.parse(await readFile(new URL('../fixtures/deliveries/firstpromoter/reward_created.json', import.meta.url), 'utf8'));
    const response = await postFirstPromoter(bridge.baseUrl, JSON.stringify(delivery));
    expect(response.status).to.equal(202);

    const message = await waitFor(() => slack.received.find((m) => m.channel === '#cluster'), 15_000);
    expect(message.text).to.equal('reward for promoter@example.com via the cluster');
    expect(message.token).to.equal(SLACK_TOKEN);

    // Every key the bridge wrote is under the prefix and on the one master owning its slot.
    const client = new Cluster([{ host: '127.0.0.1', port: cluster.ports[0] }]);
    try {
      await waitFor(() => client.status === 'ready');
      // The completion record is written just after Slack answers: wait for it before listing.
      await waitFor(async () => (await client.exists(`${PREFIX}:done:firstpromoter-22737431.cluster-reward.0`)) === 1);
      const slot = Number(await client.cluster('KEYSLOT', PREFIX));
      const keysPerNode = await Promise.all(
        client.nodes('master').map(async (node) => ({ port: node.options.port, keys: await node.keys('*') })),
      );
      const nodesWithKeys = keysPerNode.filter((node) => node.keys.length > 0);
      expect(nodesWithKeys, JSON.stringify(keysPerNode)).to.have.length(1);
      const keys = nodesWithKeys[0].keys;
      expect(keys.every((key) => key.startsWith(`${PREFIX}:`)), keys.join(', ')).to.equal(true);
      expect(keys, keys.join(', ')).to.include(`${PREFIX}:done:firstpromoter-22737431.cluster-reward.0`);
      expect(keys.some((key) => key.startsWith(`${PREFIX}:trace:`))).to.equal(true);
      expect(keys.some((key) => key.startsWith(`${PREFIX}:pace:slack:`))).to.equal(true);
      expect(keys.some((key) => key.startsWith(`${PREFIX}:events:`))).to.equal(true);
      expect(keys.some((key) => key.startsWith(`${PREFIX}:actions:`))).to.equal(true);
      for (const key of keys.slice(0, 20)) expect(Number(await client.cluster('KEYSLOT', key))).to.equal(slot);
    } finally {
      client.disconnect();
    }

    // The operations CLI reads the same cluster (trace of the event).
    const trace = await runCli(['events', 'trace', 'firstpromoter-22737431'], env);
    expect(trace.code, trace.stderr).to.equal(0);
    expect(trace.stdout).to.contain('cluster-reward');

    expect(await bridge.stop('SIGTERM')).to.equal(0);
    bridge = undefined;
  });
});
