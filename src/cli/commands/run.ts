import type { Logger } from 'pino';
import { loadConfig, type BridgeConfig } from '../../config/config.js';
import { readEnvFile } from '../../config/env-file.js';
import { ConfigError } from '../../errors.js';
import { describeManagedRedisAdopted, describeManagedRedisStarted, ensureRedis, type ManagedRedis } from '../../infra/managed-redis.js';
import { startBridge, type Roles, type RunningBridge } from '../../main.js';
import { createLogger } from '../../observability/logger.js';
import { BridgeMetrics, METRICS_MIN_RENDER_INTERVAL_MS } from '../../observability/metrics.js';
import { RuleLoadError } from '../../rules/problems.js';
import { actionRegistry } from '../../actions/registry.js';
import { describeStart } from '../../roles/describe-start.js';
import { sourceRegistry } from '../../sources/registry.js';
import type { CommandIo } from '../io.js';

/**
 * Reads the configuration or prints one line per problem. Returns null when start-up must stop.
 */
export function readConfigOrReport(env: NodeJS.ProcessEnv, io: CommandIo): BridgeConfig | null {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) io.stderr(`config: ${problem}`);
      return null;
    }
    throw error;
  }
}

/**
 * How long past SHUTDOWN_TIMEOUT a shutdown may take before the process exits regardless: the
 * lifecycle's own abort grace (1 s) plus a second to close servers and connections.
 */
const FORCED_EXIT_GRACE_MS = 2_000;

/** Options of {@link runBridgeCommand}. */
export interface RunBridgeOptions {
  /**
   * A `.env` file read before the configuration, when it exists (`npm start` passes `--dotenv .env`);
   * variables already in the environment win over it. @defaultValue undefined (no file is read)
   */
  readonly dotenv?: string;
}

/**
 * Adds the file's variables to process.env (the one place the process's environment is written:
 * every later reader, the configuration included, then sees one environment) and says so in one line.
 */
function applyEnvFile(file: string, io: CommandIo): void {
  const contents = readEnvFile(process.env, file);
  if (!contents) return;
  for (const name of contents.applied) process.env[name] = contents.variables[name];
  const overridden = Object.keys(contents.variables).length - contents.applied.length;
  io.stdout(`Read ${contents.applied.length} setting${contents.applied.length === 1 ? '' : 's'} from ${file}${overridden > 0 ? ` (${overridden} already set in the environment, which wins)` : ''}.`);
}

/**
 * `start`, `api`, `worker`: runs the bridge until SIGTERM/SIGINT, then shuts down within
 * SHUTDOWN_TIMEOUT and exits 0. An uncaught error is logged and exits 1 for the supervisor.
 */
export async function runBridgeCommand(roles: Roles, io: CommandIo, options: RunBridgeOptions = {}): Promise<number | 'running'> {
  if (options.dotenv !== undefined) applyEnvFile(options.dotenv, io);
  const config = readConfigOrReport(process.env, io);
  if (!config) return 1;
  const logger: Logger = createLogger({ level: config.logLevel });
  const metrics = new BridgeMetrics({ collectProcessMetrics: true, minRenderIntervalMs: METRICS_MIN_RENDER_INTERVAL_MS });

  // Signals are handled from the start, not only once start-up is done: with Redis unreachable,
  // start-up waits on it, and a supervisor's SIGTERM must still end the process in time.
  let bridge: RunningBridge | undefined;
  let managedRedis: ManagedRedis | undefined;
  let stopRequested: string | null = null;
  // The managed Redis stops last: the bridge's shutdown still writes to it.
  const stopBridge = (running: RunningBridge) =>
    running.stop().then(
      async () => {
        await managedRedis?.stop();
        process.exit(0);
      },
      async (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        await managedRedis?.stop();
        process.exit(1);
      },
    );
  const shutdown = (signal: string) => {
    if (stopRequested !== null) return;
    stopRequested = signal;
    logger.info({ signal }, 'shutting down');
    // The lifecycle returns in-flight jobs past SHUTDOWN_TIMEOUT, but closing BullMQ and Redis
    // waits on Redis itself: whatever Redis does, the process ends by this deadline.
    setTimeout(() => {
      logger.error(
        { shutdownTimeoutMs: config.shutdownTimeoutMs },
        'shutdown did not finish in time (Redis unreachable?): exiting anyway; jobs still locked return to their queue when their lock expires',
      );
      logger.flush?.();
      managedRedis?.stopNow();
      process.exit(1);
    }, config.shutdownTimeoutMs + FORCED_EXIT_GRACE_MS).unref();
    if (bridge) void stopBridge(bridge);
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  // `start` is the one-command trial: with REDIS_URL unset and no Redis at the default address, it
  // runs a redis-server of its own rather than retrying a Redis that will never come.
  if (roles.api && roles.workers) {
    const redis = await ensureRedis({ url: config.redisUrl, isUrlSet: config.isRedisUrlSet });
    if (redis.kind === 'failed') {
      io.stderr(redis.line);
      return 1;
    }
    if (redis.kind === 'managed') {
      managedRedis = redis.redis;
      const line = redis.isAdopted ? describeManagedRedisAdopted(managedRedis.pid, managedRedis.url) : describeManagedRedisStarted(managedRedis.binary, managedRedis.pid, managedRedis.url);
      logger.info({ redisPid: managedRedis.pid, redis: managedRedis.url }, line);
      managedRedis.onUnexpectedExit((reason) => logger.warn({ redisPid: managedRedis?.pid }, `The managed redis-server (pid ${managedRedis?.pid ?? 0}) exited (${reason}) while the bridge runs: restart the bridge to start it again`));
    }
  }

  try {
    bridge = await startBridge({ config, roles, logger, metrics });
  } catch (error) {
    if (error instanceof RuleLoadError) {
      io.stderr(`The rule files in ${config.rulesDir} are invalid; the bridge did not start:`);
      io.stderr(error.message);
    } else {
      logger.fatal({ err: error }, 'start-up failed');
    }
    logger.flush?.();
    await managedRedis?.stop();
    return 1;
  }
  // A signal that came during start-up stops the bridge as soon as it is up.
  if (stopRequested !== null) void stopBridge(bridge);
  // On a terminal, someone just ran `npm start`: words about what to do next. Piped or collected,
  // the output stays JSON lines only.
  if (process.stdout.isTTY && stopRequested === null) {
    io.stdout(describeStart({ baseUrl: `http://localhost:${bridge.port}`, config, sources: sourceRegistry, actions: actionRegistry }).join('\n'));
  }
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception: exiting for the supervisor to restart');
    managedRedis?.stopNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled rejection: exiting for the supervisor to restart');
    managedRedis?.stopNow();
    process.exit(1);
  });
  return 'running';
}
