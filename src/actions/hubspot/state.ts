/**
 * The Redis keys `hubspot.*` actions keep across events, under the bridge prefix. One place names
 * them, so what HubSpot state the bridge holds (and what to clean up) is readable in one file.
 */

/** The Redis key pacing HubSpot calls: one for the whole account (the limit is per token). */
export function hubspotPaceKey(keyPrefix: string): string {
  return `${keyPrefix}:pace:hubspot`;
}
