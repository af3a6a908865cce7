import { expect } from 'chai';
import { Queue, Worker } from 'bullmq';
import { Pipeline, Redis } from 'ioredis';
import { createRedisConnection } from '../../../src/infra/redis.js';
import { shareScriptsWithPipelines } from '../../../src/infra/pipeline-scripts.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL } from '../../support/redis.js';

/** A script defined the way BullMQ defines its own: a versioned name, keys counted. */
const ECHO = { name: 'echoKey:test', numberOfKeys: 1, lua: "return {KEYS[1], ARGV[1], 'one'}" };
const ECHO_OTHER_LUA = "return {KEYS[1], ARGV[1], 'two'}";

type Scripted = Record<string, (...args: unknown[]) => Promise<unknown>>;
const runEcho = (container: unknown, key: string, value: string) => (container as Scripted)[ECHO.name](key, value);

/** The properties a Pipeline holds of its own: ioredis copies each script's two methods there. */
const ownScriptMethods = (pipeline: unknown) => Object.keys(pipeline as object).filter((name) => name.startsWith('echoKey') || name === 'echo' || name === 'echoBuffer');

/**
 * Pipelines that share their connection's scripts instead of copying them (src/infra/pipeline-scripts.ts):
 * the same answers on every path a script takes (auto-pipelines, pipelines, MULTI, duplicated
 * connections, a script Redis has forgotten), each connection's own script, and ioredis's own copies
 * where sharing cannot apply. Real ioredis against the real Redis.
 */
describe('pipelines share their connection\'s scripts (real ioredis, real Redis)', () => {
  const connections: Redis[] = [];
  let prefix: string;

  const open = (options: { autoPipelining?: boolean } = {}) => {
    const redis = shareScriptsWithPipelines(new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1, enableAutoPipelining: options.autoPipelining ?? false }));
    connections.push(redis);
    return redis;
  };

  beforeEach(() => {
    prefix = randomPrefix('pipeline-scripts');
  });

  afterEach(async () => {
    const cleaner = new Redis(SHARED_REDIS_URL);
    await deleteKeys(cleaner, prefix);
    await cleaner.quit();
    await Promise.all(connections.splice(0).map((redis) => redis.quit().catch(() => undefined)));
  });

  it('builds pipelines without copies of the scripts, each finding its connection\'s script', async () => {
    const redis = open();
    redis.defineCommand(ECHO.name, ECHO);
    const pipeline = redis.pipeline();
    expect(pipeline).to.be.instanceOf(Pipeline);
    expect(ownScriptMethods(pipeline)).to.deep.equal([]);
    runEcho(pipeline, `${prefix}:a`, 'x');
    pipeline.set(`${prefix}:plain`, 'y');
    expect(await pipeline.exec()).to.deep.equal([[null, [`${prefix}:a`, 'x', 'one']], [null, 'OK']]);
  });

  it('runs scripts sent in one turn through an auto-pipeline, in order', async () => {
    const redis = open({ autoPipelining: true });
    redis.defineCommand(ECHO.name, ECHO);
    const answers = await Promise.all([1, 2, 3].map((n) => runEcho(redis, `${prefix}:${n}`, `v${n}`)));
    expect(answers).to.deep.equal([1, 2, 3].map((n) => [`${prefix}:${n}`, `v${n}`, 'one']));
    expect(redis.autoPipelineQueueSize).to.equal(0);
  });

  it('runs a script inside MULTI', async () => {
    const redis = open();
    redis.defineCommand(ECHO.name, ECHO);
    const multi = redis.multi();
    expect(ownScriptMethods(multi)).to.deep.equal([]);
    runEcho(multi, `${prefix}:m`, 'in-multi');
    multi.incr(`${prefix}:counter`);
    expect(await multi.exec()).to.deep.equal([[null, [`${prefix}:m`, 'in-multi', 'one']], [null, 1]]);
  });

  it('shares on a duplicated connection too, with the scripts defined on it afterwards (as BullMQ does for its blocking connection)', async () => {
    const duplicate = open().duplicate();
    connections.push(duplicate);
    duplicate.defineCommand(ECHO.name, ECHO);
    const pipeline = duplicate.pipeline();
    expect(ownScriptMethods(pipeline)).to.deep.equal([]);
    runEcho(pipeline, `${prefix}:d`, 'dup');
    expect(await pipeline.exec()).to.deep.equal([[null, [`${prefix}:d`, 'dup', 'one']]]);
  });

  it('runs each connection\'s own script when two connections define the same name differently', async () => {
    const first = open();
    const second = open();
    first.defineCommand(ECHO.name, ECHO);
    second.defineCommand(ECHO.name, { ...ECHO, lua: ECHO_OTHER_LUA });
    const [fromFirst, fromSecond] = [first.pipeline(), second.pipeline()];
    runEcho(fromFirst, `${prefix}:1`, 'a');
    runEcho(fromSecond, `${prefix}:2`, 'b');
    expect(await fromFirst.exec()).to.deep.equal([[null, [`${prefix}:1`, 'a', 'one']]]);
    expect(await fromSecond.exec()).to.deep.equal([[null, [`${prefix}:2`, 'b', 'two']]]);
  });

  it('reloads a script Redis has forgotten (SCRIPT FLUSH) and answers', async () => {
    const redis = open();
    redis.defineCommand(ECHO.name, ECHO);
    const warm = redis.pipeline();
    runEcho(warm, `${prefix}:w`, 'warm');
    await warm.exec();
    const admin = open();
    await admin.script('FLUSH');
    const pipeline = redis.pipeline();
    runEcho(pipeline, `${prefix}:f`, 'after-flush');
    const [[error, answer]] = (await pipeline.exec()) as [[Error | null, unknown]];
    expect(error).to.equal(null);
    expect(answer).to.deep.equal([`${prefix}:f`, 'after-flush', 'one']);
  });

  it('leaves ioredis\'s own copies on a connection whose script is named like a command of the pipeline (echo)', async () => {
    const redis = open();
    redis.defineCommand('echo', { numberOfKeys: 1, lua: "return 'scripted echo'" });
    const pipeline = redis.pipeline();
    expect(ownScriptMethods(pipeline)).to.deep.equal(['echo', 'echoBuffer']);
    (pipeline as unknown as Scripted).echo(`${prefix}:e`);
    expect(await pipeline.exec()).to.deep.equal([[null, 'scripted echo']]);
  });

  it('carries BullMQ (its 60-odd scripts, blocking connection and all) through a job on the bridge\'s connections', async () => {
    const queueConnection = createRedisConnection(SHARED_REDIS_URL, 'state');
    const workerConnection = createRedisConnection(SHARED_REDIS_URL, 'worker');
    connections.push(queueConnection, workerConnection);
    const queue = new Queue('shared-scripts', { connection: queueConnection, prefix });
    const done = new Promise<unknown>((resolve, reject) => {
      const worker = new Worker('shared-scripts', async (job) => ({ doubled: (job.data as { n: number }).n * 2 }), { connection: workerConnection, prefix });
      worker.on('completed', (_job, result) => void worker.close().then(() => resolve(result), reject));
      worker.on('failed', (_job, error) => reject(error));
    });
    await queue.add('double', { n: 21 });
    expect(await done).to.deep.equal({ doubled: 42 });
    expect(ownScriptMethods(workerConnection.pipeline())).to.deep.equal([]);
    expect(Object.keys(workerConnection.pipeline()).filter((name) => name.includes(':'))).to.deep.equal([]);
    await queue.close();
  });
});
