import { expect } from 'chai';
import { Cluster, Redis } from 'ioredis';
import { loadConfig } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/errors.js';
import { createRedisConnection, hashTagOf } from '../../../src/infra/redis.js';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
};

describe('Redis Cluster options', () => {
  describe('hashTagOf', () => {
    const cases: Array<[string, string | null]> = [
      ['{bridge}', 'bridge'],
      ['{bridge}-prod', 'bridge'],
      ['team-{bridge}', 'bridge'],
      ['bridge', null],
      ['{}bridge', null], // an empty tag: Redis hashes the whole key
      ['{bridge', null], // no closing brace inside the prefix
      ['a{}{b}', null], // Redis uses the FIRST `{` and the first `}` after it: empty
    ];
    for (const [prefix, tag] of cases) {
      it(`${prefix} → ${String(tag)}`, () => expect(hashTagOf(prefix)).to.equal(tag));
    }
  });

  describe('REDIS_CLUSTER in loadConfig', () => {
    it('defaults to false', () => expect(loadConfig({}).redisCluster).to.equal(false));

    it('reads true with a tagged prefix', () => {
      expect(loadConfig({ REDIS_CLUSTER: 'true', QUEUE_PREFIX: '{bridge}' })).to.include({ redisCluster: true, queuePrefix: '{bridge}' });
    });

    it('refuses a prefix without a hash tag, and the untagged default, in one line', () => {
      const message =
        'QUEUE_PREFIX must contain a {hash tag}, such as {bridge}, when REDIS_CLUSTER=true: every key of a queue must land in one Cluster slot';
      expect(problemsOf({ REDIS_CLUSTER: 'true', QUEUE_PREFIX: 'bridge' })).to.deep.equal([message]);
      expect(problemsOf({ REDIS_CLUSTER: '1' })).to.deep.equal([message]);
      expect(problemsOf({ REDIS_CLUSTER: 'false', QUEUE_PREFIX: 'bridge' })).to.deep.equal([]);
    });

    it('refuses a value that is not a boolean', () => {
      expect(problemsOf({ REDIS_CLUSTER: 'yes' })).to.deep.equal(['REDIS_CLUSTER must be true or false']);
    });
  });

  describe('createRedisConnection', () => {
    it('builds a single-node client by default', () => {
      const redis = createRedisConnection('redis://127.0.0.1:6379', 'state', { lazyConnect: true });
      expect(redis).to.be.instanceOf(Redis);
      redis.disconnect();
    });

    it('builds a Cluster from the seed URL with the role options on every node, and the intake fails fast at the cluster level', () => {
      const intake = createRedisConnection('redis://user:p%40ss@10.0.0.5:7001', 'intake', { lazyConnect: true }, { cluster: true });
      const worker = createRedisConnection('rediss://10.0.0.5:7001', 'worker', { lazyConnect: true }, { cluster: true });
      try {
        expect(intake).to.be.instanceOf(Cluster);
        const cluster = intake as Cluster;
        expect(cluster.options.enableOfflineQueue).to.equal(false);
        expect(cluster.options.enableAutoPipelining).to.equal(true);
        expect(cluster.options.redisOptions).to.include({ username: 'user', password: 'p@ss', enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 2_000 });
        expect((cluster as unknown as { startupNodes: unknown }).startupNodes).to.deep.equal([{ host: '10.0.0.5', port: 7001 }]);
        // BullMQ refuses a blocking worker connection whose node options retry a bounded number of times.
        const workerCluster = worker as Cluster;
        expect(workerCluster.options.redisOptions?.maxRetriesPerRequest).to.equal(null);
        expect(workerCluster.options.redisOptions?.tls).to.deep.equal({});
        expect(workerCluster.options.enableOfflineQueue).to.equal(true);
      } finally {
        intake.disconnect();
        worker.disconnect();
      }
    });
  });
});
