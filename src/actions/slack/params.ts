import * as yup from 'yup';

/** Params of `slack.post_message`, as written in a rule (strings may hold templates). */
export interface SlackPostMessageParams {
  channel: string;
  text?: string;
  blocks?: Record<string, unknown>[];
  thread_ts?: string;
  unfurl_links?: boolean;
  // ---- Threads (issue 12) ----
  /** Messages of one channel whose rendered key is the same form one thread. */
  thread_key?: string;
  /** With thread_key: a reply also shows in the channel. */
  reply_broadcast?: boolean;
  /** With thread_key: the root is edited to this rendering after each reply. */
  root_text?: string;
}

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
      .max(50, 'blocks may hold at most 50 blocks'),
    thread_ts: yup.string().strict().typeError('thread_ts must be a string'),
    unfurl_links: yup.boolean().strict().typeError('unfurl_links must be true or false'),
    // ---- Threads (issue 12) ----
    // An empty rendered key is allowed: the message is then posted on its own (see post-message.ts).
    thread_key: yup.string().strict().typeError('thread_key must be a string'),
    reply_broadcast: yup.boolean().strict().typeError('reply_broadcast must be true or false'),
    root_text: yup.string().strict().typeError('root_text must be a string'),
  })
  .strict()
  .noUnknown(({ unknown }) => `unknown key ${String(unknown)}: slack.post_message takes channel, text, blocks, thread_ts, unfurl_links, thread_key, reply_broadcast, root_text`)
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
  ) as yup.ObjectSchema<SlackPostMessageParams>;
