import type { Logger } from 'pino';
import { loadConfig, type BridgeConfig } from '../../config/config.js';
import { ConfigError } from '../../errors.js';
import { startBridge, type Roles, type RunningBridge } from '../../main.js';
import { createLogger } from '../../observability/logger.js';
import { BridgeMetrics, METRICS_MIN_RENDER_INTERVAL_MS } from '../../observability/metrics.js';
import { RuleLoadError } from '../../rules/problems.js';
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
 * `start`, `api`, `worker`: runs the bridge until SIGTERM/SIGINT, then shuts down within
 * SHUTDOWN_TIMEOUT and exits 0. An uncaught error is logged and exits 1 for the supervisor.
 */
export async function runBridgeCommand(roles: Roles, io: CommandIo): Promise<number | 'running'> {
  const config = readConfigOrReport(process.env, io);
  if (!config) return 1;
  const logger: Logger = createLogger({ level: config.logLevel });
  const metrics = new BridgeMetrics({ collectProcessMetrics: true, minRenderIntervalMs: METRICS_MIN_RENDER_INTERVAL_MS });

  let bridge: RunningBridge;
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
    return 1;
  }

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    bridge.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception: exiting for the supervisor to restart');
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled rejection: exiting for the supervisor to restart');
    process.exit(1);
  });
  return 'running';
}
