import type { ActionCatalog } from '../../actions/action.js';
import { actionRegistry } from '../../actions/registry.js';
import type { BridgeConfig } from '../../config/config.js';
import type { BridgeEvent } from '../../events/event.js';
import { createRedisConnection } from '../../infra/redis.js';
import { parseDuration } from '../../infra/units.js';
import { readStoredEventBatches } from '../../queue/stored-events.js';
import { loadRules } from '../../rules/load-rules.js';
import type { RuleSet } from '../../rules/rule-set.js';
import { formatCoverageReport, RuleCoverageCounter, toCoverageJson } from '../../rules/tooling/rule-coverage.js';
import { formatRuleSetDiff, RuleSetDiffer, toDiffJson } from '../../rules/tooling/rule-diff.js';
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
export async function runDiffCommand(options: DiffCommandOptions, io: CommandIo): Promise<number> {
  const inputs = await prepareWhatIf(options, io);
  if (!inputs) return 1;
  const candidate = await loadRuleSetOrReport(options.rulesDir, options.actions ?? actionRegistry, io);
  if (!candidate) return 1;
  const differ = new RuleSetDiffer(inputs.live, candidate);
  if (!(await forEachStoredEvent(inputs, io, (event) => differ.add(event)))) return 1;
  const diff = differ.result();
  if (options.json === true) io.stdout(JSON.stringify(toDiffJson(diff), null, 2));
  else for (const line of formatRuleSetDiff(diff, { live: inputs.config.rulesDir, candidate: options.rulesDir })) io.stdout(line);
  return 0;
}

/**
 * `affiliate-bridge coverage [--since 7d] [--json]`: the event types received in the window that
 * no live rule handles, with counts, and the live rules that matched none of the window's events,
 * with how many events of their types arrived. Only reads Redis.
 * @returns 0 once printed; 1 when the options, the rules or Redis cannot be used.
 */
export async function runCoverageCommand(options: WhatIfCommandOptions, io: CommandIo): Promise<number> {
  const inputs = await prepareWhatIf(options, io);
  if (!inputs) return 1;
  const counter = new RuleCoverageCounter(inputs.live);
  if (!(await forEachStoredEvent(inputs, io, (event) => counter.add(event)))) return 1;
  const report = counter.result();
  if (options.json === true) io.stdout(JSON.stringify(toCoverageJson(report), null, 2));
  else for (const line of formatCoverageReport(report)) io.stdout(line);
  return 0;
}

interface WhatIfInputs {
  readonly config: BridgeConfig;
  readonly live: RuleSet;
  /** The window's start, in ms since the epoch. */
  readonly sinceMs: number;
}

/** Checks the window and the environment and loads the live rules; null once the problem is printed. */
async function prepareWhatIf(options: WhatIfCommandOptions, io: CommandIo): Promise<WhatIfInputs | null> {
  const since = options.since ?? DEFAULT_WHAT_IF_WINDOW;
  const windowMs = parseDuration(since);
  if (windowMs === null) {
    io.stderr(`--since must be a duration such as 24h or 7d, not ${JSON.stringify(since)}`);
    return null;
  }
  const config = readConfigOrReport(options.env ?? process.env, io);
  if (!config) return null;
  const live = await loadRuleSetOrReport(config.rulesDir, options.actions ?? actionRegistry, io);
  if (!live) return null;
  if (windowMs > config.dedupTtlMs) {
    // Said once, on stderr, so --json output stays clean: the window silently being shorter would mislead.
    io.stderr(`note: stored events are kept for DEDUP_TTL (${describeDuration(config.dedupTtlMs)}), so --since ${since} reaches no further back than that`);
  }
  return { config, live, sinceMs: (options.now ?? Date.now)() - windowMs };
}

/** Hands every stored event of the window to `visit`, a batch at a time; false once a Redis problem is printed. */
async function forEachStoredEvent({ config, sinceMs }: WhatIfInputs, io: CommandIo, visit: (event: BridgeEvent) => void): Promise<boolean> {
  const redis = createRedisConnection(config.redisUrl, 'state', { maxRetriesPerRequest: 1, connectTimeout: 3_000 }, { cluster: config.redisCluster });
  redis.on('error', () => undefined);
  try {
    for await (const batch of readStoredEventBatches(redis, config.queuePrefix, sinceMs)) for (const event of batch) visit(event);
    return true;
  } catch (error) {
    io.stderr(error instanceof Error ? error.message : String(error));
    return false;
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
