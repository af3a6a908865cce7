import type { Action, ActionContext, ActionDeps, ActionResult, ActionRunner } from '../action.js';
import { waitForSlot } from '../pacing.js';
import {
  ContactUpsertBatcher,
  contactKey,
  type ContactUpsertInput,
  type ContactUpsertOutcome,
} from './batcher.js';
import { createHubspotClient, type HubspotClient } from './client.js';
import { hubspotUpsertContactParams, type HubspotUpsertContactParams } from './params.js';

/** The endpoint every upsert goes to, batched or not. */
export const HUBSPOT_BATCH_UPSERT_PATH = '/crm/v3/objects/contacts/batch/upsert';

/** Options of {@link connectHubspotUpsertContact} beyond the shared deps. */
export interface HubspotUpsertContactOptions {
  /** How long concurrent upserts are collected into one batch call, in ms. @defaultValue 50 */
  readonly batchWindowMs?: number;
  /** Most inputs per batch call. @defaultValue 100 (HubSpot's maximum) */
  readonly maxBatchInputs?: number;
  /**
   * Longest a batch sleeps for the account's next send slot, in ms; further away, its jobs are handed
   * back to the worker as `paced` (delayed without spending an attempt).
   * @defaultValue 5 × the account interval (about 0.56 s at the default 90 requests per 10 s)
   */
  readonly maxPaceWaitMs?: number;
  /** A prebuilt client (tests); by default one is built from the config. */
  readonly client?: HubspotClient;
}

import { hubspotPaceKey } from './state.js';
export { hubspotPaceKey };

/** HubSpot property values are strings on the wire: numbers and booleans are written as text. */
export function toHubspotProperties(
  properties: HubspotUpsertContactParams['properties'],
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(properties ?? {})) result[name] = String(value);
  return result;
}

/** The batch input for one upsert, as it goes on the wire. */
export function buildUpsertInput(params: HubspotUpsertContactParams): ContactUpsertInput {
  return { id: params.email, idProperty: 'email', properties: toHubspotProperties(params.properties) };
}

/**
 * Builds the runner of `hubspot.upsert_contact`. Concurrent executes in this process are batched
 * (see ContactUpsertBatcher); each batch call takes one slot of the account's Redis pacer. With no
 * `hubspotAccessToken` it runs as dry-run: nothing is sent or paced.
 */
export function connectHubspotUpsertContact(
  deps: ActionDeps,
  options: HubspotUpsertContactOptions = {},
): ActionRunner<HubspotUpsertContactParams> {
  const { config } = deps;
  const token = config.hubspotAccessToken;
  const client =
    options.client ??
    (token
      ? createHubspotClient({
          accessToken: token,
          baseUrl: config.hubspotBaseUrl,
          timeoutMs: config.actionTimeoutMs,
          now: deps.now,
        })
      : null);

  if (!client) {
    return {
      async execute(params: HubspotUpsertContactParams): Promise<ActionResult> {
        return {
          outcome: 'dry_run',
          request: { method: 'POST', path: HUBSPOT_BATCH_UPSERT_PATH, body: { inputs: [buildUpsertInput(params)] } },
        };
      },
    };
  }

  const intervalMs = 10_000 / config.hubspotRequestsPer10Seconds;
  // Aborts pacing waits and calls in flight when the runner closes; a batch serves many jobs, so
  // no single job's signal may cancel it.
  const lifetime = new AbortController();

  const batcher = new ContactUpsertBatcher({
    windowMs: options.batchWindowMs,
    maxInputs: options.maxBatchInputs,
    send: async (inputs) => {
      await waitForSlot({
        redis: deps.redis,
        key: hubspotPaceKey(deps.keyPrefix),
        intervalMs,
        maxWaitMs: options.maxPaceWaitMs,
        now: deps.now,
        signal: lifetime.signal,
      });
      const response = await client.call(lifetime.signal, (sdk, callOptions) =>
        sdk.crm.contacts.batchApi.upsert({ inputs: inputs.map((input) => ({ ...input })) }, callOptions),
      );
      return matchOutcomes(inputs, response.results ?? []);
    },
  });

  return {
    async execute(params: HubspotUpsertContactParams, ctx: ActionContext): Promise<ActionResult> {
      const input = buildUpsertInput(params);
      const outcome = await batcher.upsert(input.id, input.properties, ctx.signal);
      return { outcome: 'succeeded', detail: { contactId: outcome.contactId, isNew: outcome.isNew } };
    },
    async close() {
      await batcher.close();
      lifetime.abort();
      client.close();
    },
  };
}

/**
 * Pairs HubSpot's results with the inputs by email (results carry the `email` property); results
 * without one are paired by position, the order HubSpot answers in.
 */
function matchOutcomes(
  inputs: readonly ContactUpsertInput[],
  results: ReadonlyArray<{ id: string; _new?: boolean; properties?: Record<string, string | null> }>,
): Map<string, ContactUpsertOutcome> {
  const outcomes = new Map<string, ContactUpsertOutcome>();
  results.forEach((result, index) => {
    const email = result.properties?.email ?? inputs[index]?.id;
    if (typeof email !== 'string') return;
    outcomes.set(contactKey(email), { contactId: result.id, isNew: result._new });
  });
  return outcomes;
}

/** `hubspot.upsert_contact`: creates or updates the contact with this email. */
export const hubspotUpsertContact: Action<HubspotUpsertContactParams> = {
  name: 'hubspot.upsert_contact',
  params: hubspotUpsertContactParams,
  renderFormat: 'plain',
  connect: (deps) => connectHubspotUpsertContact(deps),
};
