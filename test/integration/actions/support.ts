import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import type { ActionContext, ActionDeps } from '../../../src/actions/action.js';
import { loadConfig, type BridgeConfig } from '../../../src/config/config.js';
import { createLogger, type Logger } from '../../../src/observability/logger.js';

/** The Redis the tests use; each test gets its own key prefix, deleted afterwards. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A real Redis connection and a random key prefix, with cleanup. */
export interface TestRedis {
  readonly redis: Redis;
  readonly keyPrefix: string;
  /** Deletes every key under the prefix and closes the connection. */
  cleanup(): Promise<void>;
}

export async function openTestRedis(): Promise<TestRedis> {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  const keyPrefix = `test-actions:${randomUUID()}`;
  return {
    redis,
    keyPrefix,
    async cleanup() {
      await deleteKeys(redis, `${keyPrefix}*`);
      await redis.quit();
    },
  };
}

export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** A pino logger at trace level whose lines are kept for assertions. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger({ level: 'trace', destination }), lines };
}

/** Overrides of the default configuration; `integrations` (settings by variable name) is merged. */
export type TestConfigOverrides = Partial<Omit<BridgeConfig, 'integrations'>> & {
  readonly integrations?: Readonly<Record<string, unknown>>;
};

/** The default configuration with test overrides (no tokens unless given). */
export function testConfig(overrides: TestConfigOverrides = {}): BridgeConfig {
  const defaults = loadConfig({});
  return { ...defaults, ...overrides, integrations: { ...defaults.integrations, ...overrides.integrations } };
}

export function testDeps(parts: {
  config: BridgeConfig;
  redis: Redis;
  keyPrefix: string;
  logger: Logger;
  now?: () => number;
}): ActionDeps {
  return { now: () => Date.now(), ...parts };
}

export function testContext(logger: Logger, overrides: Partial<ActionContext> = {}): ActionContext {
  return {
    jobId: `job-${randomUUID()}`,
    eventId: 'firstpromoter-22736304',
    ruleId: 'self-referral-alert',
    attempt: 1,
    logger,
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** Resolves with what `promise` rejects with; fails when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${inspect(value)}`);
  } catch (error) {
    return error;
  }
}

/**
 * Every rendering of an error a logger or a developer might see: message, stack, JSON, and
 * util.inspect with hidden fields, for the error and each `cause` down the chain.
 */
export function renderErrorChain(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current !== undefined && current !== null; depth += 1) {
    if (current instanceof Error) {
      parts.push(current.message, current.stack ?? '');
    }
    try {
      parts.push(JSON.stringify(current, Object.getOwnPropertyNames(current as object)));
    } catch {
      parts.push('[unserialisable]');
    }
    parts.push(inspect(current, { depth: 10, showHidden: true }));
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}
