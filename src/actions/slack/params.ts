import * as yup from 'yup';
import { parseDuration } from '../../infra/units.js';
import { listBlockProblems } from './blocks.js';

/** Params of `slack.post_message`, as written in a rule (strings may hold templates). */
export interface SlackPostMessageParams {
  channel: string;
  text?: string;
  blocks?: Record<string, unknown>[];
  thread_ts?: string;
  unfurl_links?: boolean;
  // --- digests (issue 12, points 6-7): see ./grouping.ts ---
  group?: SlackGroupParams;
  digest_text?: string;
  // ---- Threads (issue 12) ----
  /** Messages of one channel whose rendered key is the same form one thread. */
  thread_key?: string;
  /** With thread_key: a reply also shows in the channel. */
  reply_broadcast?: boolean;
  /** With thread_key: the root is edited to this rendering after each reply. */
  root_text?: string;
}

// --- digests (issue 12, points 6-7) ---

/** `group: { by, wait, max }`: messages of one rule and channel with the same rendered `by` within `wait` become one digest. */
export interface SlackGroupParams {
  by: string;
  /** A duration (`30s`, `2m`) from the group's first message. @defaultValue 30s */
  wait?: string;
  /** The most messages one digest carries (the max-th posts it at once). @defaultValue 50 */
  max?: number;
}

/** `group.wait` when a rule leaves it out. */
export const DEFAULT_GROUP_WAIT = '30s';
/** `group.max` when a rule leaves it out. */
export const DEFAULT_GROUP_MAX = 50;
/** Longest `group.wait`: a digest is an alert, and an open group holds its events back. */
export const MAX_GROUP_WAIT_MS = 3_600_000;
/** Largest `group.max`: 100 lines of up to 400 characters fit Slack's 40,000-character text. */
export const MAX_GROUP_MAX = 100;

const slackGroupParams = yup
  .object({
    by: yup
      .string()
      .strict()
      .typeError('group by must be a template such as "{{ data.promoter.id }}"')
      .defined('group needs by: a template such as "{{ data.promoter.id }}"')
      .min(1, 'group by must be a template such as "{{ data.promoter.id }}"'),
    wait: yup
      .string()
      .strict()
      .typeError('group wait must be a duration such as 30s or 2m, at most 1h')
      .test('duration', 'group wait must be a duration such as 30s or 2m, at most 1h', (value) => {
        if (value === undefined) return true;
        const ms = parseDuration(value);
        return ms !== null && ms <= MAX_GROUP_WAIT_MS;
      }),
    max: yup
      .number()
      .strict()
      .typeError(`group max must be a whole number from 2 to ${MAX_GROUP_MAX}`)
      .integer(`group max must be a whole number from 2 to ${MAX_GROUP_MAX}`)
      .min(2, `group max must be a whole number from 2 to ${MAX_GROUP_MAX}`)
      .max(MAX_GROUP_MAX, `group max must be a whole number from 2 to ${MAX_GROUP_MAX}`),
  })
  .strict()
  .noUnknown(({ unknown }) => `unknown key ${String(unknown)}: group takes by, wait, max`)
  .default(undefined) as unknown as yup.ObjectSchema<SlackGroupParams | undefined>;

// --- end of digests ---

export const slackPostMessageParams: yup.ObjectSchema<SlackPostMessageParams> = yup
  .object({
    // defined() rather than required(): required() also rejects "" and would report it twice.
    channel: yup.string().strict().typeError('channel must be a string').defined('channel is required').min(1, 'channel must not be empty'),
    text: yup.string().strict().typeError('text must be a string'),
    blocks: yup
      .array(yup.object().strict().typeError('each block must be a mapping').json() as unknown as yup.Schema<Record<string, unknown>>)
      .strict()
      .typeError('blocks must be a list of Block Kit blocks')
      .min(1, 'blocks must hold at least one block')
      .max(50, 'blocks may hold at most 50 blocks')
      // --- Block Kit structure (issue 12, point 9): see ./blocks.ts ---
      .test('block-kit', 'blocks must be valid Block Kit', function checkBlocks(blocks) {
        const problems = Array.isArray(blocks) ? listBlockProblems(blocks) : [];
        if (problems.length === 0) return true;
        return new yup.ValidationError(problems.map((problem) => this.createError({ path: problem.path, message: problem.message })));
      }),
    thread_ts: yup.string().strict().typeError('thread_ts must be a string'),
    unfurl_links: yup.boolean().strict().typeError('unfurl_links must be true or false'),
    // --- digests (issue 12, points 6-7) ---
    group: slackGroupParams,
    digest_text: yup.string().strict().typeError('digest_text must be a template over events and count').min(1, 'digest_text must not be empty'),
    // --- end of digests ---
    // ---- Threads (issue 12) ----
    // An empty rendered key is allowed: the message is then posted on its own (see post-message.ts).
    thread_key: yup.string().strict().typeError('thread_key must be a string'),
    reply_broadcast: yup.boolean().strict().typeError('reply_broadcast must be true or false'),
    root_text: yup.string().strict().typeError('root_text must be a string'),
  })
  .strict()
  .noUnknown(({ unknown }) => `unknown key ${String(unknown)}: slack.post_message takes channel, text, blocks, thread_ts, unfurl_links, group, digest_text, thread_key, reply_broadcast, root_text`)
  .test('text-or-blocks', 'slack.post_message needs text or blocks', (params) =>
    Boolean(params && (params.text !== undefined || params.blocks !== undefined)),
  )
  // ---- Threads (issue 12) ----
  .test('thread-key-or-ts', 'thread_key and thread_ts cannot be used together: thread_key finds the thread itself', (params) =>
    !(params?.thread_key !== undefined && params.thread_ts !== undefined),
  )
  .test('root-text-needs-key', 'root_text needs thread_key: it is the text of the thread\'s root', (params) =>
    !(params?.root_text !== undefined && params.thread_key === undefined),
  )
  .test('broadcast-needs-thread', 'reply_broadcast needs thread_key or thread_ts: only a reply can be broadcast', (params) =>
    !(params?.reply_broadcast !== undefined && params.thread_key === undefined && params.thread_ts === undefined),
  )
  // --- digests (issue 12, points 6-7) ---
  .test('digest-needs-group', 'digest_text needs group: it renders the digest of a group', (params) => !params || params.digest_text === undefined || params.group !== undefined)
  .test('group-needs-text', 'group needs text: a digest lists each message\'s text (blocks are not grouped)', (params) =>
    !params || params.group === undefined || (params.text !== undefined && params.blocks === undefined),
  )
  .test('group-or-thread', 'group cannot be used with thread_key or thread_ts: a digest is one message of its own', (params) =>
    !params || params.group === undefined || (params.thread_key === undefined && params.thread_ts === undefined),
  )
  // The same rule for editors: the rule-file JSON Schema (rules/rule-file-schema.ts) reads it here.
  .meta({ jsonSchema: { anyOf: [{ required: ['text'] }, { required: ['blocks'] }] } }) as yup.ObjectSchema<SlackPostMessageParams>;
