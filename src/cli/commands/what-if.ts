import type { ActionCatalog } from '../../actions/action.js';
import { actionRegistry } from '../../actions/registry.js';
import type { BridgeConfig } from '../../config/config.js';
import type { BridgeEvent } from '../../events/event.js';
import { createRedisConnection } from '../../infra/redis.js';
import { parseDuration } from '../../infra/units.js';
import { readStoredEvents } from '../../queue/stored-events.js';
import { loadRules } from '../../rules/load-rules.js';
import type { RuleSet } from '../../rules/rule-set.js';
import { formatCoverageReport, measureRuleCoverage, toCoverageJson } from '../../rules/tooling/rule-coverage.js';
import { diffRuleSets, formatRuleSetDiff, toDiffJson } from '../../rules/tooling/rule-diff.js';
import { reportRuleProblems, type CommandIo } from '../io.js';
import { readConfigOrReport } from './run.js';

/** The window `--since` takes when not given. */
export const DEFAULT_WHAT_IF_WINDOW = '7d';

/** What `diff` and `coverage` share: where the stored events and the live rules are. */
export interface WhatIfCommandOptions {
  /** How far back to read stored events, as a duration (`24h`, `7d`). @defaultValue DEFAULT_WHAT_IF_WINDOW (7d) */
  readonly since?: string;
  /** Print JSON instead of lines. @defaultValue false */
  readonly json?: boolean;
  /** The actions rules may name. @defaultValue actionRegistry */
  readonly actions?: ActionCatalog;
  /** Where REDIS_URL, QUEUE_PREFIX, RULES_DIR and DEDUP_TTL come from. @defaultValue process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Milliseconds since the epoch; the window ends now. @defaultValue Date.now */
  readonly now?: () => number;
}

export interface DiffCommandOptions extends WhatIfCommandOptions {
  /** The candidate rules directory, compared with the live rules (RULES_DIR). */
  readonly rulesDir: string;
}

/**
 * `affiliate-bridge diff --rules DIR [--since 7d] [--json]`: plans the stored events of the window
 * with the live rules (RULES_DIR) and with DIR, and prints per rule the actions added, removed,
 * changed (with the rendered difference) and unchanged, with up to 3 sample event ids each. Sends
 * nothing; only reads Redis.
 * @returns 0 once printed; 1 when the options, either rule set or Redis cannot be used.
 */
export function runDiffCommand(options: DiffCommandOptions, io: CommandIo): Promise<number> {
  return withStoredEvents(options, io, async ({ config, live, events }) => {
    const candidate = await loadRuleSetOrReport(options.rulesDir, options.actions ?? actionRegistry, io);
    if (!candidate) return 1;
    const diff = diffRuleSets(live, candidate, events);
    if (options.json === true) io.stdout(JSON.stringify(toDiffJson(diff), null, 2));
    else for (const line of formatRuleSetDiff(diff, { live: config.rulesDir, candidate: options.rulesDir })) io.stdout(line);
    return 0;
  });
}

/**
 * `affiliate-bridge coverage [--since 7d] [--json]`: the event types received in the window that
 * no live rule handles, with counts, and the live rules that matched none of the window's events,
 * with how many events of their types arrived. Only reads Redis.
 * @returns 0 once printed; 1 when the options, the rules or Redis cannot be used.
 */
export function runCoverageCommand(options: WhatIfCommandOptions, io: CommandIo): Promise<number> {
  return withStoredEvents(options, io, ({ live, events }) => {
    const report = measureRuleCoverage(live, events);
    if (options.json === true) io.stdout(JSON.stringify(toCoverageJson(report), null, 2));
    else for (const line of formatCoverageReport(report)) io.stdout(line);
    return Promise.resolve(0);
  });
}

interface WhatIfInputs {
  readonly config: BridgeConfig;
  readonly live: RuleSet;
  readonly events: readonly BridgeEvent[];
}

/** Checks the window, loads the live rules, reads the window's stored events, runs `work`, closes Redis. */
async function withStoredEvents(options: WhatIfCommandOptions, io: CommandIo, work: (inputs: WhatIfInputs) => Promise<number>): Promise<number> {
  const since = options.since ?? DEFAULT_WHAT_IF_WINDOW;
  const windowMs = parseDuration(since);
  if (windowMs === null) {
    io.stderr(`--since must be a duration such as 24h or 7d, not ${JSON.stringify(since)}`);
    return 1;
  }
  const config = readConfigOrReport(options.env ?? process.env, io);
  if (!config) return 1;
  const live = await loadRuleSetOrReport(config.rulesDir, options.actions ?? actionRegistry, io);
  if (!live) return 1;
  if (windowMs > config.dedupTtlMs) {
    // Said once, on stderr, so --json output stays clean: the window silently being shorter would mislead.
    io.stderr(`note: stored events are kept for DEDUP_TTL (${describeDuration(config.dedupTtlMs)}), so --since ${since} reaches no further back than that`);
  }
  const redis = createRedisConnection(config.redisUrl, 'state', { maxRetriesPerRequest: 1, connectTimeout: 3_000 }, { cluster: config.redisCluster });
  redis.on('error', () => undefined);
  try {
    const events = await readStoredEvents(redis, config.queuePrefix, (options.now ?? Date.now)() - windowMs);
    return await work({ config, live, events });
  } catch (error) {
    io.stderr(error instanceof Error ? error.message : String(error));
    return 1;
  } finally {
    redis.disconnect();
  }
}

async function loadRuleSetOrReport(dir: string, actions: ActionCatalog, io: CommandIo): Promise<RuleSet | null> {
  const loaded = await loadRules(dir, { actions });
  if (loaded.ok) return loaded.ruleSet;
  reportRuleProblems(io, loaded.problems, `the rules in ${dir} do not load`);
  return null;
}

/** `7d`, `36h`, `90m`, `45s` or `500ms`: the largest unit that divides the duration. */
function describeDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
