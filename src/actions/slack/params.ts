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
    channel: yup.string().strict().required('channel is required').min(1, 'channel must not be empty'),
    text: yup.string().strict(),
    blocks: yup
      .array(yup.object().strict().json() as unknown as yup.Schema<Record<string, unknown>>)
      .strict()
      .min(1, 'blocks must hold at least one block')
      .max(50, 'blocks may hold at most 50 blocks'),
    thread_ts: yup.string().strict(),
    unfurl_links: yup.boolean().strict(),
  })
  .strict()
  .noUnknown(({ unknown }) => `unknown key ${String(unknown)}: slack.post_message takes channel, text, blocks, thread_ts, unfurl_links`)
  .test('text-or-blocks', 'slack.post_message needs text or blocks', (params) =>
    Boolean(params && (params.text !== undefined || params.blocks !== undefined)),
  ) as yup.ObjectSchema<SlackPostMessageParams>;
