import type { Logger } from 'pino';
import type { RedisConnection } from '../infra/redis.js';
import type { RuleProblem } from '../rules/problems.js';
import type { RuleStore } from '../rules/rule-store.js';
import { bridgeKeys } from './names.js';

/**
 * The problems of the rule files as the workers last (re)loaded them, kept in Redis beside the
 * queues: the dashboard runs in the `api` process, which in a split deployment (the shipped
 * docker-compose.yml: `api` and `worker` services) loads no rules of its own. Written by every
 * worker on each load outcome (they all read the same directory), read by the dashboard.
 */
export async function publishRuleProblems(redis: RedisConnection, prefix: string, problems: readonly RuleProblem[]): Promise<void> {
  const key = bridgeKeys(prefix).ruleLoadProblems;
  if (problems.length === 0) await redis.del(key);
  else await redis.set(key, JSON.stringify(problems));
}

/** The rule-file problems the workers last published; empty while the files load. */
export async function readRuleProblems(redis: RedisConnection, prefix: string): Promise<RuleProblem[]> {
  const stored = await redis.get(bridgeKeys(prefix).ruleLoadProblems);
  return stored ? (JSON.parse(stored) as RuleProblem[]) : [];
}

/**
 * Publishes `store`'s problems now (none, after a successful start: an earlier broken edit fixed
 * while no worker ran is cleared) and after each reload. A publication Redis refuses is logged; the
 * next reload publishes again.
 */
export async function shareRuleProblems(store: RuleStore, redis: RedisConnection, prefix: string, logger: Logger): Promise<void> {
  const publish = (problems: readonly RuleProblem[]) =>
    publishRuleProblems(redis, prefix, problems).catch((error: unknown) => logger.warn({ err: error }, 'rule-file problems could not be stored for the dashboard'));
  store.on('reloaded', () => void publish([]));
  store.on('reload_failed', (problems) => void publish(problems));
  await publish(store.problems);
}
