import { Queue } from 'bullmq';
import { pino } from 'pino';
import { createRedisConnection } from '../../infra/redis.js';
import { parseDuration } from '../../infra/units.js';
import { createLogger } from '../../observability/logger.js';
import { EventIntake, type EventsQueueJobData } from '../../queue/event-intake.js';
import { EVENTS_QUEUE } from '../../queue/names.js';
import { buildReconciler } from '../../reconcile/reconciler.js';
import type { ReconcileReport } from '../../reconcile/run-reconciliation.js';
import { sourceRegistry } from '../../sources/registry.js';
import type { CommandIo } from '../io.js';
import { readConfigOrReport } from './run.js';

/** Options of `affiliate-bridge reconcile`. */
export interface ReconcileCommandOptions {
  /** One source; unset: every source whose API credentials are set. @defaultValue every configured source */
  readonly source?: string;
  /** How far back, as a duration (`24h`). @defaultValue 24h */
  readonly since?: string;
  /** List what is missing, store nothing. @defaultValue false */
  readonly dryRun?: boolean;
  /** Print the reports as JSON. @defaultValue false */
  readonly json?: boolean;
}

/**
 * `reconcile [--source S] [--since 24h] [--dry-run] [--json]`: for each source, lists the objects
 * its API shows created or changed since then, and stores the event of every creation or change the
 * bridge never received (the running workers process them like webhooks). Exits 1 when a source
 * cannot be reconciled or its API fails.
 */
export async function runReconcileCommand(options: ReconcileCommandOptions, io: CommandIo): Promise<number> {
  const sinceText = options.since ?? '24h';
  const sinceMs = parseDuration(sinceText);
  if (sinceMs === null || sinceMs <= 0) {
    io.stderr(`--since must be a duration such as 30m, 24h or 7d, not ${JSON.stringify(sinceText)}`);
    return 1;
  }
  const config = readConfigOrReport(process.env, io);
  if (!config) return 1;
  const redis = createRedisConnection(config.redisUrl, 'state', { maxRetriesPerRequest: 1, connectTimeout: 3_000 }, { cluster: config.redisCluster });
  redis.on('error', () => undefined);
  const eventsQueue = new Queue<EventsQueueJobData>(EVENTS_QUEUE, { connection: redis, prefix: config.queuePrefix });
  eventsQueue.on('error', () => undefined);
  // Log lines (one per gap, retries) go to stderr, so that --json output stays parseable.
  const logger = createLogger({ level: config.logLevel, destination: pino.destination(2) });
  try {
    const { reconciler } = buildReconciler({
      config,
      sources: sourceRegistry,
      redis,
      intake: new EventIntake({ queue: eventsQueue, dedupTtlMs: config.dedupTtlMs }),
      logger,
      now: Date.now,
    });
    const names = options.source ? [options.source] : reconciler.configuredSources().map((source) => source.name);
    if (names.length === 0) {
      io.stderr('No source can be reconciled: set FIRSTPROMOTER_API_KEY and FIRSTPROMOTER_ACCOUNT_ID, or REWARDFUL_API_SECRET.');
      return 1;
    }
    const since = new Date(Date.now() - sinceMs);
    const reports: ReconcileReport[] = [];
    let failed = false;
    for (const name of names) {
      try {
        reports.push(await reconciler.run(name, { since, dryRun: options.dryRun ?? false }));
      } catch (error) {
        failed = true;
        io.stderr(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (options.json) {
      io.stdout(JSON.stringify(options.source ? (reports[0] ?? null) : reports, null, 2));
    } else {
      for (const report of reports) printReport(report, options.dryRun ?? false, io);
    }
    return failed ? 1 : 0;
  } finally {
    await eventsQueue.close().catch(() => undefined);
    redis.disconnect();
    logger.flush();
  }
}

function printReport(report: ReconcileReport, isDryRun: boolean, io: CommandIo): void {
  const verb = isDryRun ? 'would synthesize' : 'synthesized';
  io.stdout(`${report.source}: ${report.checked} object(s) checked, ${report.missing} event(s) never received, ${report.synthesized.length} ${verb}`);
  for (const event of report.synthesized) io.stdout(`  ${event.eventId}  ${event.type}  (object ${event.objectId})`);
}
