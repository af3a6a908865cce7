/**
 * The Redis keys `slack.*` actions keep across events, under the bridge prefix. One place names
 * them, so what Slack state the bridge holds (and what to clean up) is readable in one file.
 */

/**
 * Slack's conversation IDs: `C…` public channels, `G…` private channels and group DMs, `D…` DMs
 * (chat.postMessage `channel`: "an encoded ID, or a name"). Anything else is a name.
 */
const CHANNEL_ID = /^[CGD][A-Z0-9]{6,}$/;

/** Whether `channel` is a conversation ID rather than a name. */
export function isSlackChannelId(channel: string): boolean {
  return CHANNEL_ID.test(channel);
}

/**
 * The one spelling of a channel name: `#Affiliates`, `affiliates` and `#affiliates` are one channel
 * (Slack channel names are lower case, and chat.postMessage takes them with or without `#`).
 */
export function normalizeSlackChannelName(channel: string): string {
  return `#${channel.replace(/^#/, '').toLowerCase()}`;
}

/**
 * The Redis key pacing posts to one channel, shared by every worker process: by the channel's ID
 * when known (pass the ID), else by its normalized name (a name not resolved yet).
 */
export function slackPaceKey(keyPrefix: string, channel: string): string {
  return `${keyPrefix}:pace:slack:${isSlackChannelId(channel) ? channel : normalizeSlackChannelName(channel)}`;
}

/**
 * The Redis key pacing every post of the workspace (one bot token is one workspace). Channel keys
 * end in `#name` or an upper-case ID, so `workspace` cannot collide with one.
 */
export function slackWorkspacePaceKey(keyPrefix: string): string {
  return `${keyPrefix}:pace:slack:workspace`;
}

/**
 * The Redis key holding a channel after a 429 (see pacing `holdUntil`): until its value (ms since
 * the epoch) no post to that channel leaves any worker. Keyed like {@link slackPaceKey}.
 */
export function slackHoldKey(keyPrefix: string, channel: string): string {
  return `${keyPrefix}:hold:slack:${isSlackChannelId(channel) ? channel : normalizeSlackChannelName(channel)}`;
}

/** The Redis key caching the ID of one channel name (a string, with a TTL). */
export function slackChannelIdKey(keyPrefix: string, name: string): string {
  return `${keyPrefix}:slack:channel-id:${normalizeSlackChannelName(name)}`;
}

/**
 * The Redis key that marks a conversations.list sweep as done or under way (SET NX with a TTL), so
 * that all workers together list the channels at most once per {@link SLACK_CHANNEL_SWEEP_INTERVAL_MS}.
 */
export function slackChannelSweepKey(keyPrefix: string): string {
  return `${keyPrefix}:slack:channel-sweep`;
}

/**
 * How long a learned name → ID pair is kept, in ms. Renames are rare, and every successful post
 * re-learns the pair from chat.postMessage's `channel`; a day bounds a stale pair after a rename.
 */
export const SLACK_CHANNEL_ID_TTL_MS = 24 * 3600 * 1000;

/**
 * Least time between two conversations.list sweeps of all workers, in ms. conversations.list is
 * Tier 2 (20+ per minute) and pages through every channel: a sweep is for names that no post has
 * resolved yet, not for every miss.
 */
export const SLACK_CHANNEL_SWEEP_INTERVAL_MS = 10 * 60 * 1000;
