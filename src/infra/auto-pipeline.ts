import type { ChainableCommander } from 'ioredis';
import type { RedisConnection } from './redis.js';

/** A pipeline's replies: one `[error, result]` per command, in order. */
type Replies = [error: Error | null, result: unknown][];

type CommandMethods = Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>;

/**
 * Commands chained as on a pipeline (`.set(…).zadd(…)`, then `exec()` for the replies in a
 * pipeline's shape), but sent through the connection's auto-pipeline instead of a pipeline of
 * their own.
 *
 * Why: an explicit `pipeline()` or `multi()` is written to the socket on its own when it runs,
 * while commands issued on an auto-pipelining connection (every role's, src/infra/redis.ts) are
 * gathered until the event loop's next check phase and written together. When the events worker
 * plans the events of a job of deliveries side by side, each event's trace pipeline was one socket
 * write (a system call, and a read for Redis) per event; issued this way, the traces of the events
 * planned in the same turn share one. Under the burst bench's 5,000 events the socket writes were
 * about a seventh of the bridge's busy CPU.
 *
 * What a pipeline guarantees holds here too: the commands reach Redis in the order they were
 * chained, one after the other on one connection, and not atomically (use `multi()` for that).
 * A command that fails (a wrong type) is reported at its index, the others run, as a pipeline
 * reports them; a connection that fails fails every command. On a connection without
 * auto-pipelining each command is a write of its own: the same replies, only slower.
 */
export function autoPipelined(redis: RedisConnection): ChainableCommander {
  const replies: Promise<Replies[number]>[] = [];
  const commands = redis as unknown as CommandMethods;
  const chain: ChainableCommander = new Proxy({} as ChainableCommander, {
    get(_target, name) {
      if (name === 'exec') return (): Promise<Replies> => Promise.all(replies);
      // Not a thenable, whatever the connection has: awaiting the chain by mistake must not send anything.
      if (typeof name !== 'string' || name === 'then') return undefined;
      const command = commands[name];
      if (typeof command !== 'function') throw new TypeError(`Redis connection has no command ${name}`);
      return (...args: unknown[]): ChainableCommander => {
        replies.push(
          command.apply(redis, args).then(
            (result): Replies[number] => [null, result],
            (error: unknown): Replies[number] => [error instanceof Error ? error : new Error(String(error)), null],
          ),
        );
        return chain;
      };
    },
  });
  return chain;
}

/**
 * The replies of a pipeline, a MULTI or an {@link autoPipelined} chain, or its first command's
 * error thrown: for callers whose writes must all be in Redis before they go on.
 */
export function throwFirstError(results: Replies | null): Replies {
  if (results === null) throw new Error('the transaction was aborted');
  const failed = results.find(([error]) => error !== null);
  if (failed) throw failed[0]!;
  return results;
}
