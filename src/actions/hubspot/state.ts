/**
 * The Redis keys `hubspot.*` actions keep across events, under the bridge prefix. One place names
 * them, so what HubSpot state the bridge holds (and what to clean up) is readable in one file.
 */

/** The Redis key pacing HubSpot calls: one for the whole account (the limit is per token). */
export function hubspotPaceKey(keyPrefix: string): string {
  return `${keyPrefix}:pace:hubspot`;
}

/**
 * The Redis key holding the whole account after a 429, or once HubSpot's headers say the window has
 * no call left: until its value (ms since the epoch) no HubSpot call leaves any worker.
 */
export function hubspotHoldKey(keyPrefix: string): string {
  return `${keyPrefix}:hold:hubspot`;
}

/**
 * The Redis key holding the spacing HubSpot's own headers announce (X-HubSpot-RateLimit-Interval-
 * Milliseconds ÷ X-HubSpot-RateLimit-Max), in ms: the pacer never goes faster than that, whatever
 * HUBSPOT_REQUESTS_PER_10_SECONDS says. It expires so a plan change (more calls) is re-learned.
 */
export function hubspotIntervalFloorKey(keyPrefix: string): string {
  return `${keyPrefix}:pace:hubspot:announced-interval`;
}

/** How long an announced spacing is kept after the last response that announced it, in ms. */
export const HUBSPOT_ANNOUNCED_INTERVAL_TTL_MS = 60 * 60 * 1000;
