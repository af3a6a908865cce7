import * as yup from 'yup';

/** Params of `slack.post_message`, as written in a rule (strings may hold templates). */
export interface SlackPostMessageParams {
  channel: string;
  text?: string;
  blocks?: Record<string, unknown>[];
  thread_ts?: string;
  unfurl_links?: boolean;
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
  })
  .strict()
  .noUnknown(({ unknown }) => `unknown key ${String(unknown)}: slack.post_message takes channel, text, blocks, thread_ts, unfurl_links`)
  .test('text-or-blocks', 'slack.post_message needs text or blocks', (params) =>
    Boolean(params && (params.text !== undefined || params.blocks !== undefined)),
  )
  // The same rule for editors: the rule-file JSON Schema (rules/rule-file-schema.ts) reads it here.
  .meta({ jsonSchema: { anyOf: [{ required: ['text'] }, { required: ['blocks'] }] } }) as yup.ObjectSchema<SlackPostMessageParams>;
