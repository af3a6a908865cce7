import type { RedisConnection } from '../infra/redis.js';
import type { ActionName } from './action.js';

/**
 * Paused integrations, shared by every worker through Redis.
 *
 * When an integration's credentials stop working (Slack `invalid_auth`, HubSpot 401), every one of
 * its jobs would fail the same way; dead-lettering them one by one buries the alerts and hides the
 * one fact an operator needs. Instead the first worker to see it records a pause here, and every
 * worker of every process then delays that integration's jobs without spending their attempts
 * until a probe (at most one per {@link PAUSE_PROBE_INTERVAL_MS}, across all workers) finds the
 * token working again.
 *
 * Keys, under the bridge prefix:
 * - `<prefix>:pause:<integration>`: the pause, JSON `{ reason, since }` (no expiry: it ends only
 *   when a probe succeeds, so a bridge restart does not forget it);
 * - `<prefix>:pause:<integration>:probe`: taken with SET NX PX by the one worker that probes;
 * - `<prefix>:pause:<integration>:log`: taken with SET NX PX by the one worker that logs this minute.
 */

/** Least time between two probes of a paused integration, across all workers, in ms. */
export const PAUSE_PROBE_INTERVAL_MS = 30_000;

/** Least time between two "still paused" log lines of one integration, across all workers, in ms. */
export const PAUSE_LOG_INTERVAL_MS = 60_000;

/** A pause as stored. */
export interface IntegrationPause {
  /** The remote side's reason, e.g. `invalid_auth` or `unauthorized`. */
  readonly reason: string;
  /** When the pause began, ms since the epoch. */
  readonly since: number;
}

/** The integration an action belongs to: `slack` for `slack.post_message`. */
export function integrationOf(action: ActionName | string): string {
  const dot = action.indexOf('.');
  return dot < 0 ? action : action.slice(0, dot);
}

/** The integrations of a registry's actions, each once, in registry order. */
export function integrationsOf(actions: Iterable<string>): string[] {
  return [...new Set([...actions].map(integrationOf))];
}

/** The Redis key holding an integration's pause. */
export function pauseKey(keyPrefix: string, integration: string): string {
  return `${keyPrefix}:pause:${integration}`;
}

/** How a pause reads on /readyz and the dashboard: `slack: paused (invalid_auth)`. */
export function describePause(integration: string, pause: IntegrationPause): string {
  return `${integration}: paused (${pause.reason})`;
}

/**
 * Records a pause. A pause already in place keeps its `since` (the outage began then); its reason
 * is updated to the latest one seen. Starting a pause also takes the probe turn (the token failed
 * a moment ago: the first probe comes one interval later) and the log turn (the caller logs the
 * start; the next "still paused" line comes a minute later), in one MULTI with the pause itself,
 * so no other worker can see the pause before those turns are taken.
 * @returns true when this call started the pause (it was not paused before).
 */
export async function pauseIntegration(
  redis: RedisConnection,
  keyPrefix: string,
  integration: string,
  reason: string,
  now: number,
  intervals: { readonly probeIntervalMs?: number; readonly logIntervalMs?: number } = {},
): Promise<boolean> {
  const key = pauseKey(keyPrefix, integration);
  const results = await redis
    .multi()
    .set(key, JSON.stringify({ reason, since: now }), 'NX')
    .set(`${key}:probe`, '1', 'PX', intervals.probeIntervalMs ?? PAUSE_PROBE_INTERVAL_MS, 'NX')
    .set(`${key}:log`, '1', 'PX', intervals.logIntervalMs ?? PAUSE_LOG_INTERVAL_MS, 'NX')
    .exec();
  const isNew = results?.[0]?.[1] === 'OK';
  if (!isNew) {
    const current = await readPause(redis, keyPrefix, integration);
    if (current && current.reason !== reason) await redis.set(key, JSON.stringify({ reason, since: current.since }), 'XX');
  }
  return isNew;
}

/** The integration's pause, or null when it runs. A stored value that does not parse counts as paused with reason `unknown`. */
export async function readPause(redis: RedisConnection, keyPrefix: string, integration: string): Promise<IntegrationPause | null> {
  const raw = await redis.get(pauseKey(keyPrefix, integration));
  if (raw === null) return null;
  try {
    const parsed = JSON.parse(raw) as Partial<IntegrationPause>;
    return { reason: typeof parsed.reason === 'string' ? parsed.reason : 'unknown', since: typeof parsed.since === 'number' ? parsed.since : 0 };
  } catch {
    return { reason: 'unknown', since: 0 };
  }
}

/** The pause of each integration (null: running), read in one round trip. */
export async function readPauses(redis: RedisConnection, keyPrefix: string, integrations: readonly string[]): Promise<Map<string, IntegrationPause | null>> {
  const entries = await Promise.all(integrations.map(async (integration) => [integration, await readPause(redis, keyPrefix, integration)] as const));
  return new Map(entries);
}

/**
 * Ends a pause (after a successful probe). The probe turn is left to expire: two workers whose
 * probes both succeeded must not both report the resume.
 * @returns true when this call ended it (false: it had ended already).
 */
export async function resumeIntegration(redis: RedisConnection, keyPrefix: string, integration: string): Promise<boolean> {
  return (await redis.del(pauseKey(keyPrefix, integration))) > 0;
}

/**
 * Takes the probe turn: true for exactly one caller per {@link PAUSE_PROBE_INTERVAL_MS}, whichever
 * worker or process asks first, so a paused integration costs the remote API two calls a minute.
 */
export async function claimProbe(redis: RedisConnection, keyPrefix: string, integration: string, intervalMs = PAUSE_PROBE_INTERVAL_MS): Promise<boolean> {
  return (await redis.set(`${pauseKey(keyPrefix, integration)}:probe`, '1', 'PX', intervalMs, 'NX')) === 'OK';
}

/** Takes the log turn: true for exactly one caller per {@link PAUSE_LOG_INTERVAL_MS}, across all workers. */
export async function claimPauseLogLine(redis: RedisConnection, keyPrefix: string, integration: string, intervalMs = PAUSE_LOG_INTERVAL_MS): Promise<boolean> {
  return (await redis.set(`${pauseKey(keyPrefix, integration)}:log`, '1', 'PX', intervalMs, 'NX')) === 'OK';
}
