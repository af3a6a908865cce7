/**
 * The Redis keys `slack.*` actions keep across events, under the bridge prefix. One place names
 * them, so what Slack state the bridge holds (and what to clean up) is readable in one file.
 */

import { createHash } from 'node:crypto';

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
 * How long a learned name → ID pair is kept, in ms. Renames are rare, and a successful post whose
 * `channel` differs from the cached ID re-learns the pair; a day bounds a stale pair after a rename.
 */
export const SLACK_CHANNEL_ID_TTL_MS = 24 * 3600 * 1000;

/**
 * Least time between two conversations.list sweeps of all workers, in ms. conversations.list is
 * Tier 2 (20+ per minute) and pages through every channel: a sweep is for names that no post has
 * resolved yet, not for every miss.
 */
export const SLACK_CHANNEL_SWEEP_INTERVAL_MS = 10 * 60 * 1000;

// ---- Exactly once and threads (issue 12) ----

/**
 * The Redis key saying that a chat.postMessage of one action job left with an unknown outcome (a
 * crash after the call was sent, a timeout, `fatal_error`…): JSON {@link SlackSentRecord}. Written
 * before the call, kept for the completion window; a retry that finds it looks the job id up in
 * the channel's history before posting again.
 */
export function slackSentKey(keyPrefix: string, jobId: string): string {
  return `${keyPrefix}:slack:sent:${jobId}`;
}

/** What {@link slackSentKey} holds. */
export interface SlackSentRecord {
  /** When the first call of unknown outcome was sent, ms since the epoch. */
  readonly at: number;
  /** The channel as it was posted to (an ID when known). */
  readonly channel: string;
  /** The root the message replied to, when it was a thread reply (history does not list replies). */
  readonly threadTs?: string;
}

/**
 * The Redis key recording that one action job's message is in Slack (JSON {@link SlackPostedRecord}),
 * written as soon as Slack answers: a retry (the root update failed, or the job was cut short before
 * its completion record) goes on from there instead of posting again.
 */
export function slackPostedKey(keyPrefix: string, jobId: string): string {
  return `${keyPrefix}:slack:posted:${jobId}`;
}

/** What {@link slackPostedKey} holds. */
export interface SlackPostedRecord {
  readonly channel: string;
  readonly ts: string;
  /** The thread's root when the message was a reply. */
  readonly threadTs?: string;
  /** How the message was found: posted by this job, or found in the channel's history. */
  readonly via: 'posted' | 'history';
}

/**
 * The Redis key of one thread: a rendered `thread_key` in one channel (by ID when known, else its
 * normalized name). Holds `claim:<job id>` while the first message is being posted, then the JSON
 * {@link SlackThreadRoot}. The key is hashed: it is payload text, of any length.
 */
export function slackThreadKey(keyPrefix: string, channel: string, threadKey: string): string {
  const where = isSlackChannelId(channel) ? channel : normalizeSlackChannelName(channel);
  return `${keyPrefix}:slack:thread:${where}:${createHash('sha256').update(threadKey).digest('hex')}`;
}

/** A thread's root message, as {@link slackThreadKey} holds it once posted. */
export interface SlackThreadRoot {
  readonly channel: string;
  readonly ts: string;
}

/**
 * The Redis hash holding the latest wanted text of a thread's root (`seq`, `text`): each reply
 * writes its `root_text` with the next `seq`, and only the holder of the latest `seq` sends the
 * chat.update, so when several wait only the latest is sent.
 */
export function slackRootTextKey(keyPrefix: string, channelId: string, rootTs: string): string {
  return `${keyPrefix}:slack:root-text:${channelId}:${rootTs}`;
}

/** The Redis key pacing chat.update of one channel (like {@link slackPaceKey}, its own budget). */
export function slackUpdatePaceKey(keyPrefix: string, channelId: string): string {
  return `${keyPrefix}:pace:slack-update:${channelId}`;
}

/** The Redis key pacing conversations.history and .replies for the workspace (Tier 3). */
export function slackHistoryPaceKey(keyPrefix: string): string {
  return `${keyPrefix}:pace:slack-history:workspace`;
}
