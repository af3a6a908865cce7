import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { readSettings } from '../config/env-variable.js';
import { BridgeError } from '../errors.js';
import type { BridgeEvent } from '../events/event.js';
import type { RedisConnection } from '../infra/redis.js';
import type { BridgeMetrics } from '../observability/metrics.js';
import type { StoreOutcome } from '../queue/event-intake.js';
import type { SourceRegistry } from '../sources/registry.js';
import type { SecretScrubber } from '../sources/scrub-secrets.js';
import type { Source } from '../sources/source.js';
import type { BridgeConfig } from '../config/config.js';
import { collectSourceSecrets, createSecretScrubber } from '../sources/scrub-secrets.js';
import { EntityLedger, reconcileKeys, type LedgerClaim } from './ledger.js';
import type { ApiClientRuntime } from './reconciliation.js';
import { reconcileSource, type ReconcileMode, type ReconcileReport } from './run-reconciliation.js';
import { DELETE_IF_VALUE, LuaScript } from '../infra/lua-script.js';

/** Another run of the source holds its lock (a scheduled run on another worker, or `reconcile` by hand). */
export class ReconcileBusyError extends BridgeError {}

/** A run asked for something reconciliation cannot do (no credentials, a window past the ledger's horizon). */
export class ReconcileRequestError extends BridgeError {}

/** Options of {@link Reconciler}. */
export interface ReconcilerOptions {
  /** The connection for the bridge's own keys (ledger, watermark, lock). */
  readonly redis: RedisConnection;
  /** QUEUE_PREFIX. */
  readonly prefix: string;
  /** The sources; those with a `reconciliation` and their credentials set are reconciled. */
  readonly sources: SourceRegistry;
  /** The loaded config's `integrations`: each source's settings (its API credentials and URL). */
  readonly integrations: Readonly<Record<string, unknown>>;
  /** What the bridge has seen, compared with what the API lists. */
  readonly ledger: EntityLedger;
  /** How long the ledger keeps an object, in ms: no run looks further back than this. */
  readonly horizonMs: number;
  /** The span a scheduled run covers, in ms (RECONCILE_WINDOW). */
  readonly windowMs: number;
  /** The webhooks' intake: synthesized events are stored (and deduplicated) like deliveries. */
  readonly intake: { store(event: BridgeEvent): Promise<StoreOutcome> };
  /** STRIPPED_FIELDS. */
  readonly strippedFields: readonly string[];
  /** Scrubs every configured secret from synthesized payloads, as the webhook router does. */
  readonly secretScrubber: SecretScrubber | null;
  /** Where each run, each gap found and each retry are logged. */
  readonly logger: Logger;
  /** Where `bridge_reconciled_events_total` and `bridge_reconcile_runs_total` are counted. @defaultValue none */
  readonly metrics?: BridgeMetrics;
  /** The API clients' clock, sleep, timeout and retries. */
  readonly runtime: ApiClientRuntime;
  /** How long a run's lock lasts without renewal, in ms. @defaultValue 5 minutes (renewed every third of it while the run lives) */
  readonly lockTtlMs?: number;
}

/** What a run is asked to do. */
export interface ReconcileRequest {
  /** Objects created or changed since then; unset: a scheduled run (the window, or back to the watermark). */
  readonly since?: Date;
  /** List only. @defaultValue false */
  readonly dryRun?: boolean;
}

// Renews the lock only while this run still holds it.
const RENEW = new LuaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`);

/**
 * Runs reconciliation for one source at a time across every process: takes the source's lock in
 * Redis, chooses the window (a scheduled run resumes from the watermark the last successful run
 * left, so a run that failed is covered again), runs {@link reconcileSource}, and on success moves
 * the watermark and the last-success time the dashboard shows.
 */
export class Reconciler {
  readonly #options: ReconcilerOptions;

  constructor(options: ReconcilerOptions) {
    if (!options.redis) throw new TypeError('Reconciler needs a Redis connection');
    this.#options = options;
  }

  /** The sources that declare a reconciliation and have all its credentials set, in registry order. */
  configuredSources(): Source[] {
    return listReconciledSources(this.#options.sources, this.#options.integrations);
  }

  /** Reconciles every configured source in turn; each run's outcome is counted and logged, none throws. */
  async runScheduled(): Promise<void> {
    for (const source of this.configuredSources()) {
      try {
        await this.run(source.name, {});
      } catch (error) {
        if (error instanceof ReconcileBusyError) this.#options.logger.info({ source: source.name }, error.message);
        else this.#options.logger.error({ source: source.name, err: error }, `reconciliation of ${source.title} failed; the next run covers its span again`);
      }
    }
  }

  /**
   * One run for one source.
   * @throws ReconcileRequestError when the source cannot be reconciled or `since` is past the horizon.
   * @throws ReconcileBusyError when another run of the source holds its lock.
   * @throws the API client's errors when the run fails (the watermark stays).
   */
  async run(sourceName: string, request: ReconcileRequest): Promise<ReconcileReport> {
    const { redis, prefix, logger, metrics, runtime } = this.#options;
    const source = this.#sourceOrThrow(sourceName);
    const keys = reconcileKeys(prefix);
    const nowMs = runtime.now();
    const horizonStart = nowMs - this.#options.horizonMs;
    if (request.since && request.since.getTime() < horizonStart) {
      throw new ReconcileRequestError(
        'reconcile_since_too_far',
        `--since reaches back further than the entity ledger remembers (${Math.round(this.#options.horizonMs / 3_600_000)}h): older events cannot be told from missed ones`,
      );
    }
    const token = randomBytes(8).toString('hex');
    const lockTtlMs = this.#options.lockTtlMs ?? 5 * 60_000;
    const locked = await redis.set(keys.runLock(source.name), token, 'PX', lockTtlMs, 'NX');
    if (locked !== 'OK') {
      metrics?.reconcileRuns.inc({ source: source.name, outcome: 'skipped' });
      throw new ReconcileBusyError('reconcile_busy', `a reconciliation of ${source.title} is already running`);
    }
    const renewal = setInterval(() => void RENEW.run(redis, [keys.runLock(source.name)], [token, String(lockTtlMs)]).catch(() => undefined), lockTtlMs / 3);
    renewal.unref();
    try {
      const isScheduled = request.since === undefined;
      const watermark = isScheduled ? await redis.get(keys.watermark(source.name)) : null;
      const mode: ReconcileMode = request.dryRun ? 'dry-run' : isScheduled && watermark === null ? 'baseline' : 'synthesize';
      // A scheduled run covers the window, or back to where the last successful run ended when
      // runs have failed for longer than that (never past the ledger's horizon).
      const since = request.since?.getTime() ?? Math.max(horizonStart, Math.min(nowMs - this.#options.windowMs, watermark === null ? nowMs : Number(watermark)));
      const window = { since: new Date(since), until: new Date(nowMs) };
      const settings = readSettings({ integrations: this.#options.integrations }, source.env) as Record<string, unknown>;
      const api = source.reconciliation!.connect(settings, runtime);
      const report = await reconcileSource({
        source,
        api,
        ledger: this.#options.ledger,
        intake: this.#options.intake,
        window,
        mode,
        normalize: { strippedFields: this.#options.strippedFields, secretScrubber: this.#options.secretScrubber },
        logger,
        metrics,
        now: runtime.now,
      });
      if (mode !== 'dry-run') {
        const multi = redis.multi().set(keys.lastSuccess(source.name), String(nowMs));
        if (isScheduled) multi.set(keys.watermark(source.name), String(nowMs));
        await multi.exec();
      }
      metrics?.reconcileRuns.inc({ source: source.name, outcome: 'succeeded' });
      logger.info({ source: source.name, mode, since: window.since.toISOString(), checked: report.checked, missing: report.missing, synthesized: report.synthesized.length }, `reconciliation of ${source.title} done`);
      return report;
    } catch (error) {
      metrics?.reconcileRuns.inc({ source: source.name, outcome: 'failed' });
      throw error;
    } finally {
      clearInterval(renewal);
      await DELETE_IF_VALUE.run(redis, [keys.runLock(source.name)], [token]).catch(() => undefined);
    }
  }

  #sourceOrThrow(name: string): Source {
    const { sources } = this.#options;
    if (!Object.hasOwn(sources, name)) {
      throw new ReconcileRequestError('reconcile_unknown_source', `unknown source ${name}: ${Object.keys(sources).join(', ')}`);
    }
    const source = sources[name]!;
    const credentials = this.#credentialsOf(source);
    if (credentials === 'none') throw new ReconcileRequestError('reconcile_unsupported', `${source.title} has no API to reconcile from`);
    if (credentials !== 'set') throw new ReconcileRequestError('reconcile_not_configured', `${source.title} cannot be reconciled: set ${credentials.join(' and ')}`);
    return source;
  }

  #credentialsOf(source: Source): 'set' | 'none' | string[] {
    return readCredentialState(source, this.#options.integrations);
  }
}

/** 'set', 'none' (no reconciliation declared), or the unset credential variables. */
function readCredentialState(source: Source, integrations: Readonly<Record<string, unknown>>): 'set' | 'none' | string[] {
  if (!source.reconciliation) return 'none';
  const settings = readSettings({ integrations }, source.env) as Record<string, unknown>;
  const unset = source.reconciliation.credentials.filter((name) => settings[name] === null || settings[name] === undefined);
  return unset.length === 0 ? 'set' : unset;
}

/**
 * One sentence per source whose API credentials are only partly set (reconciliation stays off for
 * it), e.g. `FIRSTPROMOTER_API_KEY is set but FIRSTPROMOTER_ACCOUNT_ID is not: FirstPromoter is not reconciled`.
 */
export function describePartialCredentials(sources: SourceRegistry, integrations: Readonly<Record<string, unknown>>): string[] {
  return Object.values(sources).flatMap((source) => {
    const state = readCredentialState(source, integrations);
    if (state === 'set' || state === 'none' || state.length === source.reconciliation!.credentials.length) return [];
    const set = source.reconciliation!.credentials.filter((name) => !state.includes(name));
    return [`${set.join(' and ')} ${set.length === 1 ? 'is' : 'are'} set but ${state.join(' and ')} ${state.length === 1 ? 'is' : 'are'} not: ${source.title} is not reconciled`];
  });
}

/** The sources of `sources` that declare a reconciliation and have all its credentials set, in registry order. */
export function listReconciledSources(sources: SourceRegistry, integrations: Readonly<Record<string, unknown>>): Source[] {
  return Object.values(sources).filter((source) => readCredentialState(source, integrations) === 'set');
}

/**
 * How long the entity ledger keeps an object after its last event: the reconciliation window, and
 * at least DEDUP_TTL (how long a synthesized event id is remembered by intake deduplication).
 */
export function ledgerHorizonMs(config: { readonly reconcileWindowMs: number; readonly dedupTtlMs: number }): number {
  return Math.max(config.reconcileWindowMs, config.dedupTtlMs);
}

/** What {@link buildReconciler} wires together. */
export interface BuildReconcilerOptions {
  /** The loaded configuration (prefix, window, dedup window, stripped fields, the sources' settings). */
  readonly config: Pick<BridgeConfig, 'queuePrefix' | 'reconcileWindowMs' | 'dedupTtlMs' | 'strippedFields' | 'integrations' | 'actionTimeoutMs'>;
  /** The sources (the registry): those with credentials set are reconciled. */
  readonly sources: SourceRegistry;
  /** The connection for the bridge's own keys. */
  readonly redis: RedisConnection;
  /** The events queue's intake. */
  readonly intake: { store(event: BridgeEvent): Promise<StoreOutcome> };
  /** Where runs, gaps and retries are logged. */
  readonly logger: Logger;
  /** Where the reconciliation metrics are counted. @defaultValue none */
  readonly metrics?: BridgeMetrics;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
}

/** The ledger and the reconciler of a process (workers, or `affiliate-bridge reconcile`), from its config. */
export function buildReconciler(options: BuildReconcilerOptions): { ledger: EntityLedger; reconciler: Reconciler } {
  const { config, logger } = options;
  const horizonMs = ledgerHorizonMs(config);
  const ledger = new EntityLedger({ redis: options.redis, prefix: config.queuePrefix, ttlMs: horizonMs });
  const reconciler = new Reconciler({
    redis: options.redis,
    prefix: config.queuePrefix,
    sources: options.sources,
    integrations: config.integrations,
    ledger,
    horizonMs,
    windowMs: config.reconcileWindowMs,
    intake: options.intake,
    strippedFields: config.strippedFields,
    secretScrubber: createSecretScrubber(collectSourceSecrets(options.sources, { integrations: config.integrations })),
    logger,
    metrics: options.metrics,
    runtime: {
      now: options.now,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      timeoutMs: config.actionTimeoutMs,
      onRetry: ({ status, attempt, delayMs, path }) =>
        logger.warn({ status, attempt, delayMs, path }, `provider API answered ${status ?? 'nothing'}: retrying in ${delayMs} ms`),
    },
  });
  return { ledger, reconciler };
}

/**
 * Records each event's milestone in the ledger (events worker): null for an event of a source
 * without reconciliation, or one that announces no milestone.
 */
export function recordMilestoneWith(ledger: EntityLedger, sources: SourceRegistry, now: () => number): (event: BridgeEvent) => Promise<LedgerClaim | null> {
  return async (event) => {
    if (!Object.hasOwn(sources, event.source)) return null;
    const entry = (sources[event.source] as Source).reconciliation?.ledgerEntryOf(event) ?? null;
    return entry === null ? null : ledger.claim(event.source, entry, event, now());
  };
}
