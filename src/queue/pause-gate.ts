import type { Logger } from 'pino';
import type { ActionName, ActionRunner } from '../actions/action.js';
import {
  PAUSE_LOG_INTERVAL_MS,
  PAUSE_PROBE_INTERVAL_MS,
  claimPauseLogLine,
  claimProbe,
  describePause,
  integrationOf,
  pauseIntegration,
  readPause,
  resumeIntegration,
  type IntegrationPause,
} from '../actions/pause.js';
import type { IntegrationPausedError } from '../errors.js';
import type { RedisConnection } from '../infra/redis.js';
import type { BridgeMetrics } from '../observability/metrics.js';

/** Options of {@link PauseGate}. */
export interface PauseGateOptions {
  /** The connection holding the pause keys (the bridge's state connection). */
  readonly redis: RedisConnection;
  /** The bridge's key prefix (the queue prefix). */
  readonly prefix: string;
  /** The connected runners by action name; a runner's `probe` tests its integration. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- runners of different params types
  readonly runners: Readonly<Record<ActionName, ActionRunner<any>>>;
  /** Where the pause, "still paused" and resume lines go. */
  readonly logger: Logger;
  /** Holds `bridge_integration_paused` and the `paused` action outcome. */
  readonly metrics: BridgeMetrics;
  /** The clock (ms since the epoch): when a pause began. */
  readonly now: () => number;
  /** Timeout of one probe call, in ms. */
  readonly probeTimeoutMs: number;
  /** Least time between probes of one integration across all workers. @defaultValue PAUSE_PROBE_INTERVAL_MS (30 s) */
  readonly probeIntervalMs?: number;
  /** Least time between "still paused" lines of one integration across all workers. @defaultValue PAUSE_LOG_INTERVAL_MS (60 s) */
  readonly logIntervalMs?: number;
}

/**
 * The actions worker's view of paused integrations (state in Redis, see actions/pause.ts): whether
 * a job may run, recording a pause, probing, and the bounded log lines. Integration-neutral: the
 * integration is the action name's first part, the probe is the runner's.
 */
export class PauseGate {
  readonly #options: PauseGateOptions;
  readonly probeIntervalMs: number;
  readonly #logIntervalMs: number;

  constructor(options: PauseGateOptions) {
    this.#options = options;
    this.probeIntervalMs = options.probeIntervalMs ?? PAUSE_PROBE_INTERVAL_MS;
    this.#logIntervalMs = options.logIntervalMs ?? PAUSE_LOG_INTERVAL_MS;
  }

  /**
   * Before a job of `action` runs: `run` when its integration runs (perhaps resumed just now by a
   * probe this call made); `wait` while it is paused. When the integration's runner has no probe,
   * the job whose turn it is to probe runs as the probe (`run_as_probe`): the caller calls
   * {@link resumeAfterProbeJob} when it succeeds.
   * @param pauseRead the integration's pause as {@link readPauseOf} just read it (the caller read it
   *   in the same round trip as something else); read here when not given.
   */
  async check(action: ActionName, pauseRead?: IntegrationPause | null): Promise<'run' | 'run_as_probe' | 'wait'> {
    const { redis, prefix } = this.#options;
    const integration = integrationOf(action);
    const pause = pauseRead === undefined ? await readPause(redis, prefix, integration) : pauseRead;
    if (pause === null) return 'run';
    if (await claimProbe(redis, prefix, integration, this.probeIntervalMs)) {
      const probe = this.#probeOf(integration);
      if (!probe) return 'run_as_probe';
      if (await this.#runProbe(integration, probe, pause)) return 'run';
    }
    await this.#logStillPaused(integration, pause);
    return 'wait';
  }

  /** The pause of `action`'s integration (null: it runs), for {@link check}. */
  readPauseOf(action: ActionName): Promise<IntegrationPause | null> {
    return readPause(this.#options.redis, this.#options.prefix, integrationOf(action));
  }

  /** A job that ran as its integration's probe succeeded: the integration resumes. */
  async resumeAfterProbeJob(action: ActionName): Promise<void> {
    const integration = integrationOf(action);
    const pause = await readPause(this.#options.redis, this.#options.prefix, integration);
    if (pause) await this.#runProbe(integration, async () => undefined, pause);
  }

  /** Probes every paused integration whose turn it is (a timer calls it, so a pause ends even with no jobs). */
  async probeAll(): Promise<void> {
    const { redis, prefix } = this.#options;
    for (const integration of new Set(Object.keys(this.#options.runners).map(integrationOf))) {
      const probe = this.#probeOf(integration);
      if (!probe) continue;
      const pause = await readPause(redis, prefix, integration);
      if (pause === null) continue;
      if (await claimProbe(redis, prefix, integration, this.probeIntervalMs)) await this.#runProbe(integration, probe, pause);
    }
  }

  /** Records the pause an action's error reports; the first probe comes one interval later. */
  async pause(action: ActionName, error: IntegrationPausedError): Promise<IntegrationPause> {
    const { redis, prefix, now, metrics, logger } = this.#options;
    const integration = integrationOf(action);
    const isNew = await pauseIntegration(redis, prefix, integration, error.code, now(), {
      probeIntervalMs: this.probeIntervalMs,
      logIntervalMs: this.#logIntervalMs,
    });
    const pause = (await readPause(redis, prefix, integration)) ?? { reason: error.code, since: now() };
    metrics.setIntegrationPause(integration, pause.reason);
    // One line when the pause starts; later ones come from check(), one a minute.
    if (isNew) {
      logger.error({ integration, reason: pause.reason }, `${describePause(integration, pause)}: ${error.message}; its jobs wait without spending attempts until a probe succeeds`);
    }
    return pause;
  }

  /** How long a job of a paused integration waits before it is tried again, in ms (jitter added by the caller). */
  get waitMs(): number {
    return this.probeIntervalMs;
  }

  #probeOf(integration: string): ((signal: AbortSignal) => Promise<void>) | undefined {
    for (const [name, runner] of Object.entries(this.#options.runners)) {
      if (integrationOf(name) === integration && runner.probe) return (signal) => runner.probe!(signal);
    }
    return undefined;
  }

  /** @returns true when the probe succeeded and the integration was resumed. */
  async #runProbe(integration: string, probe: (signal: AbortSignal) => Promise<void>, pause: IntegrationPause): Promise<boolean> {
    const { redis, prefix, logger, metrics, now, probeTimeoutMs } = this.#options;
    try {
      await probe(AbortSignal.timeout(probeTimeoutMs));
    } catch (error) {
      const code = error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : 'unexpected_error';
      logger.debug({ integration, code }, `${integration}: probe failed, still paused`);
      return false;
    }
    const hasResumed = await resumeIntegration(redis, prefix, integration);
    metrics.setIntegrationPause(integration, null);
    if (hasResumed) logger.info({ integration, pausedForMs: now() - pause.since }, `${integration}: resumed (the probe succeeded after ${describePause(integration, pause)})`);
    return true;
  }

  async #logStillPaused(integration: string, pause: IntegrationPause): Promise<void> {
    const { redis, prefix, logger, metrics, now } = this.#options;
    metrics.setIntegrationPause(integration, pause.reason);
    if (!(await claimPauseLogLine(redis, prefix, integration, this.#logIntervalMs))) return;
    const since = new Date(pause.since).toISOString();
    logger.warn({ integration, reason: pause.reason, since, pausedForMs: now() - pause.since }, `${describePause(integration, pause)} since ${since}: its jobs wait without spending attempts`);
  }
}
