/**
 * Named retry policies for action jobs: exponential backoff with "equal jitter" (half the delay
 * fixed, half random), so retries after an outage spread out instead of arriving together.
 */
/** The BullMQ backoff type of action jobs; the actions worker's backoffStrategy computes it. */
export const ACTION_BACKOFF_TYPE = 'jittered-exponential';

export interface RetryPolicy {
  /** Total tries including the first. */
  readonly attempts: number;
  /** Delay before the first retry, in ms; each further retry doubles it. */
  readonly baseDelayMs: number;
  /** No single wait is longer than this, in ms. */
  readonly maxDelayMs: number;
}

/**
 * The default: 12 tries. Retry waits double from 15 s; with jitter the last try comes between
 * about 4 and 8¼ hours after the first failure, which rides out a multi-hour Slack or HubSpot outage.
 */
export const twelveAttemptsOverEightHours: RetryPolicy = {
  attempts: 12,
  baseDelayMs: 15_000,
  maxDelayMs: 4 * 60 * 60 * 1000,
};

/** For tests and local trials: the same shape, in milliseconds. */
export const fastRetriesForTests: RetryPolicy = { attempts: 4, baseDelayMs: 50, maxDelayMs: 500 };

/**
 * The wait before retry number `attemptsMade` (1 after the first failure). A `retryAfterMs` the
 * remote side gave is a floor.
 */
export function computeRetryDelay(
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>,
  attemptsMade: number,
  random: () => number = Math.random,
  retryAfterMs?: number,
): number {
  const exponential = Math.min(policy.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1), policy.maxDelayMs);
  const jittered = Math.round(exponential / 2 + (random() * exponential) / 2);
  return Math.max(jittered, retryAfterMs ?? 0);
}
