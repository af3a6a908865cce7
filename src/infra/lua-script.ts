import { createHash } from 'node:crypto';
import type { RedisConnection } from './redis.js';

/**
 * One of the bridge's own Lua scripts, sent by its SHA (EVALSHA): Redis then neither receives nor
 * hashes its text again. The text goes (EVAL) only the first time a Redis sees it and after it
 * forgot it (a restart, SCRIPT FLUSH: NOSCRIPT).
 *
 * Not ioredis's `defineCommand`: that adds a method to the connection lazily, and an auto-pipelined
 * batch opened before the method existed loses the call (ioredis then throws outside any handler
 * and the worker dies).
 */
export class LuaScript {
  /** The SHA1 of the text, as Redis names a cached script. */
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** Runs the script with `keys` and `args` on `redis` and answers its reply. */
  async run(redis: RedisConnection, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

/**
 * Deletes KEYS[1] only while it still holds ARGV[1] (a lock or claim released by its holder alone);
 * answers 1 when it deleted, 0 otherwise.
 */
export const DELETE_IF_VALUE = new LuaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`);
