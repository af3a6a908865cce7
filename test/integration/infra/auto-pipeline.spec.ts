import { expect } from 'chai';
import { Redis } from 'ioredis';
import { autoPipelined, throwFirstError } from '../../../src/infra/auto-pipeline.js';
import { createRedisConnection } from '../../../src/infra/redis.js';
import { countSocketWrites, deleteKeys, randomPrefix, SHARED_REDIS_URL } from '../../support/redis.js';

/**
 * Commands chained on a connection's auto-pipeline (src/infra/auto-pipeline.ts): a pipeline's
 * replies, in a pipeline's order, and one socket write for chains built in the same turn.
 * Real ioredis against the real Redis.
 */
describe('auto-pipelined chains (real ioredis, real Redis)', () => {
  let redis: Redis;
  let prefix: string;

  beforeEach(async () => {
    prefix = randomPrefix('auto-pipeline');
    // The bridge's own connection for its keys, as the events worker and the Slack poster use it.
    redis = createRedisConnection(SHARED_REDIS_URL, 'state');
    await redis.ping();
  });

  afterEach(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('answers as a pipeline does: one [error, result] per command, in order, a failed command at its index and the others run', async () => {
    const build = (chain: ReturnType<Redis['pipeline']>, key: string) =>
      chain.set(`${key}:s`, 'v', 'NX').set(`${key}:s`, 'w', 'NX').zadd(`${key}:z`, 1, 'a').incr(`${key}:s`).get(`${key}:s`).exec();

    const viaPipeline = await build(redis.pipeline(), `${prefix}:p`);
    const viaAutoPipeline = await build(autoPipelined(redis), `${prefix}:a`);

    const summary = (replies: typeof viaPipeline) => replies!.map(([error, result]) => (error ? `error: ${error.message}` : result));
    expect(summary(viaAutoPipeline)).to.deep.equal(summary(viaPipeline));
    expect(summary(viaAutoPipeline)).to.deep.equal(['OK', null, 1, 'error: ERR value is not an integer or out of range', 'v']);
  });

  it('sends the chains built in one turn in one socket write, where pipelines take one each', async () => {
    const writes = countSocketWrites(redis);
    await Promise.all([1, 2, 3].map((n) => redis.pipeline().set(`${prefix}:p${n}`, 'v').pexpire(`${prefix}:p${n}`, 60_000).exec()));
    expect(writes.count).to.equal(3);

    const byPipelines = writes.count;
    const replies = await Promise.all([1, 2, 3].map((n) => autoPipelined(redis).set(`${prefix}:a${n}`, 'v').pexpire(`${prefix}:a${n}`, 60_000).exec()));
    expect(writes.count - byPipelines).to.equal(1);
    expect(replies).to.deep.equal([1, 2, 3].map(() => [[null, 'OK'], [null, 1]]));
    expect(await redis.mget(`${prefix}:a1`, `${prefix}:a2`, `${prefix}:a3`)).to.deep.equal(['v', 'v', 'v']);
  });

  it('sends nothing until a command is chained, and is not a thenable (awaiting it by mistake sends nothing)', async () => {
    const writes = countSocketWrites(redis);
    const chain = autoPipelined(redis);
    expect(await chain).to.equal(chain);
    expect(await chain.exec()).to.deep.equal([]);
    expect(writes.count).to.equal(0);
  });

  it('refuses a name the connection has no command for, at once', () => {
    expect(() => (autoPipelined(redis) as unknown as Record<string, () => void>).notACommand()).to.throw(TypeError, 'Redis connection has no command notACommand');
  });

  it('reports a connection that is gone on every command, which throwFirstError throws', async () => {
    const closed = createRedisConnection(SHARED_REDIS_URL, 'state');
    await closed.ping();
    await closed.quit();
    const replies = await autoPipelined(closed).set(`${prefix}:x`, 'v').get(`${prefix}:x`).exec();
    expect(replies).to.have.length(2);
    for (const [error] of replies!) expect(error).to.be.instanceOf(Error);
    expect(replies![0][0]!.message).to.equal('Connection is closed.');
    expect(() => throwFirstError(replies)).to.throw('Connection is closed.');
    expect(await redis.exists(`${prefix}:x`)).to.equal(0);
  });
});

describe('throwFirstError', () => {
  it('gives back replies without an error, and throws the first error of any others', () => {
    const ok: [Error | null, unknown][] = [[null, 'OK'], [null, 2]];
    expect(throwFirstError(ok)).to.equal(ok);
    const first = new Error('first');
    expect(() => throwFirstError([[null, 'OK'], [first, null], [new Error('second'), null]])).to.throw(first);
    expect(() => throwFirstError(null)).to.throw('the transaction was aborted');
  });
});
