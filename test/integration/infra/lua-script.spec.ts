import { expect } from 'chai';
import { Redis } from 'ioredis';
import { LuaScript } from '../../../src/infra/lua-script.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL } from '../../support/redis.js';

/**
 * The bridge's own Lua scripts go by SHA (src/infra/lua-script.ts): the text only when Redis does
 * not have it (first use, a restart, SCRIPT FLUSH), and a script's own error is not mistaken for
 * that. Real Redis; the script's text is unique to each run so that no earlier run loaded it.
 */
describe('Lua scripts by SHA (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let script: LuaScript;

  beforeEach(() => {
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
    prefix = randomPrefix('lua-script');
    script = new LuaScript(`-- ${prefix}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`);
  });

  afterEach(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it('loads the script with its first run, then sends only the SHA, and loads it again after Redis forgot it', async () => {
    expect(await redis.script('EXISTS', script.sha)).to.deep.equal([0]);
    const sent: string[] = [];
    const monitor = await redis.monitor();
    // MONITOR sees every client of the shared Redis: only this script's calls are kept.
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0] === 'evalsha' && args[1] === script.sha) sent.push(`evalsha ${script.sha}`);
      if (args[0] === 'eval' && args[1]?.includes(prefix)) sent.push('eval text');
    });
    try {
      expect(await script.run(redis, [`${prefix}:n`], [2])).to.equal(2);
      expect(await script.run(redis, [`${prefix}:n`], [3])).to.equal(5);
      await redis.script('FLUSH');
      expect(await script.run(redis, [`${prefix}:n`], [1])).to.equal(6);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      monitor.disconnect();
    }
    expect(sent).to.deep.equal([`evalsha ${script.sha}`, 'eval text', `evalsha ${script.sha}`, `evalsha ${script.sha}`, 'eval text']);
  });

  it('lets the script\'s own error through, changing nothing', async () => {
    await redis.set(`${prefix}:n`, 'not a number');
    let error: unknown;
    try {
      await script.run(redis, [`${prefix}:n`], [1]);
    } catch (caught) {
      error = caught;
    }
    expect(String(error)).to.include('not an integer');
    expect(await redis.get(`${prefix}:n`)).to.equal('not a number');
  });
});
