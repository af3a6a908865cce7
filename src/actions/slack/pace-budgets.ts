import { DEFAULT_MAX_WAIT_INTERVALS, type PaceBudget } from '../pacing.js';

/**
 * The two budgets every chat.postMessage spends, from SLACK_MESSAGES_PER_SECOND (per channel) and
 * SLACK_MESSAGES_PER_MINUTE (the workspace). Pure: the Slack poster turns them into Redis keys.
 *
 * Slack counts what *arrives* in a rolling window ("1 message per second to a specific channel";
 * the workspace's "several hundred messages per minute", docs.slack.dev/reference/methods/
 * chat.postMessage, "Rate limiting"), and the pacer hands out *departure* slots. A message reaches
 * Slack some milliseconds after its slot (event-loop lag, the connection, Slack's own front end), not
 * by the same amount each time: with slots spaced by exactly 1/N s, a first message that arrives a
 * little late and an (N+1)th that arrives on time land in one rolling second, and Slack answers 429
 * with a Retry-After of a whole second. So a channel's N slots are spread over
 * 1 s + {@link SLACK_ARRIVAL_ALLOWANCE_MS}: arrivals may differ that much and still keep to N a second.
 */

/** How much later than another a message may reach Slack without breaking its channel's limit, in ms. */
export const SLACK_ARRIVAL_ALLOWANCE_MS = 50;

/** Spacing of one channel's posts, in ms, for `messagesPerSecond` (SLACK_MESSAGES_PER_SECOND). */
export function slackChannelIntervalMs(messagesPerSecond: number): number {
  return (1000 + SLACK_ARRIVAL_ALLOWANCE_MS) / messagesPerSecond;
}

/**
 * The workspace budget for `messagesPerMinute` (SLACK_MESSAGES_PER_MINUTE), as a GCRA: a post may
 * leave up to `toleranceMs` ahead of the workspace's even spacing.
 *
 * Why a tolerance: each post reserves its channel's slot and the workspace's at the same instant, up
 * to the channel's longest wait ahead. Without a tolerance the workspace's next free instant is one
 * line every post waits in, so a slot one busy channel reserves a second ahead moves every other
 * channel's next post a second ahead too, and the posts leave in the order they reserved: a quiet
 * channel's alert waits behind another channel's backlog, and channels whose slots are free go
 * unused. With the tolerance as long as a channel's longest wait, channels reserve independently.
 *
 * Why the interval is longer than 60 s / N: a burst of up to `toleranceMs / intervalMs + 1` posts may
 * leave at once, and no rolling minute may hold more than N. After a burst, GCRA sends post k at
 * `k × interval − tolerance`, so N + 1 posts span `N × interval − tolerance`; with the interval at
 * `(60 s + tolerance + allowance) / N` that is a minute plus {@link SLACK_ARRIVAL_ALLOWANCE_MS}, as
 * for a channel. The long-run rate is under N by the tolerance's share of a minute (for the defaults,
 * 120 a minute and 1 a second per channel: about 110 a minute while the workspace stays saturated
 * for minutes, and 10 at once after a quiet spell).
 */
export function slackWorkspaceBudget(messagesPerMinute: number, channelIntervalMs: number): Required<Pick<PaceBudget, 'intervalMs' | 'toleranceMs'>> {
  const toleranceMs = DEFAULT_MAX_WAIT_INTERVALS * channelIntervalMs;
  return { intervalMs: (60_000 + toleranceMs + SLACK_ARRIVAL_ALLOWANCE_MS) / messagesPerMinute, toleranceMs };
}
