/**
 * The Redis keys `slack.*` actions keep across events, under the bridge prefix. One place names
 * them, so what Slack state the bridge holds (and what to clean up) is readable in one file.
 */

/** The Redis key pacing posts to one channel, shared by every worker process. */
export function slackPaceKey(keyPrefix: string, channel: string): string {
  return `${keyPrefix}:pace:slack:${channel}`;
}
