import { readSettings } from '../../config/env-variable.js';
import type { ActionContext, ActionDeps, ActionResult, ActionRunner } from '../action.js';
import { defineAction } from '../descriptor.js';
import type { Client } from '@hubspot/api-client';
import { PermanentActionError } from '../../errors.js';
import { holdUntil, waitForSlot } from '../pacing.js';
import { RetryableActionError } from '../../errors.js';
import {
  ContactUpsertBatcher,
  contactKey,
  type ContactBatchAnswer,
  type ContactUpsertInput,
  type ContactUpsertOutcome,
} from './batcher.js';
import { createHubspotClient, type HubspotClient, type HubspotResponseObserver } from './client.js';
import { hubspotEnv } from './env.js';
import { mapBatchInputError, numberHeader, type HubspotErrorBody } from './errors.js';
import { hubspotUpsertContactParams, type HubspotUpsertContactParams } from './params.js';
import { prepareUpsert, type PreparedUpsert } from './prepare.js';

/** The endpoint every upsert goes to, batched or not. */
export const HUBSPOT_BATCH_UPSERT_PATH = '/crm/v3/objects/contacts/batch/upsert';

/** Options of {@link connectHubspotUpsertContact} beyond the shared deps. */
export interface HubspotUpsertContactOptions {
  /**
   * How long concurrent upserts are collected into one batch call, in ms.
   * @defaultValue 50, applied by the batcher (`ContactUpsertBatcherOptions.windowMs`)
   */
  readonly batchWindowMs?: number;
  /**
   * Most inputs per batch call, at most 100.
   * @defaultValue 100 (HubSpot's maximum), applied by the batcher (`ContactUpsertBatcherOptions.maxInputs`)
   */
  readonly maxBatchInputs?: number;
  /**
   * Longest a batch sleeps for the account's next send slot, in ms; further away, its jobs are handed
   * back to the worker as `paced` (delayed without spending an attempt).
   * @defaultValue `DEFAULT_MAX_WAIT_INTERVALS` (5) × the account interval (about 0.56 s at the
   *   default 90 requests per 10 s), at least 50 ms, applied by {@link waitForSlot}
   */
  readonly maxPaceWaitMs?: number;
  /**
   * A prebuilt client (tests); used even when HUBSPOT_ACCESS_TOKEN is unset.
   * @defaultValue one built from the config (HUBSPOT_ACCESS_TOKEN, HUBSPOT_BASE_URL, ACTION_TIMEOUT)
   *   when the token is set; none otherwise, and the action runs as dry run
   */
  readonly client?: HubspotClient;
}

import { HUBSPOT_ANNOUNCED_INTERVAL_TTL_MS, hubspotHoldKey, hubspotIntervalFloorKey, hubspotPaceKey } from './state.js';
export { hubspotPaceKey };

/**
 * The batch input for one upsert, as it goes on the wire (the batcher adds objectWriteTraceId).
 * @throws PermanentActionError `invalid_property_value` when a typed value cannot be written: HubSpot
 *   would refuse it, so no call is spent on it.
 */
export function buildUpsertInput(params: HubspotUpsertContactParams): { prepared: PreparedUpsert; input: Omit<ContactUpsertInput, 'objectWriteTraceId'> } {
  const prepared = prepareUpsert(params);
  if (prepared.invalid.length > 0) {
    throw new PermanentActionError('invalid_property_value', `HubSpot would refuse these property values: ${prepared.invalid.join('; ')}`);
  }
  return {
    prepared,
    input: { id: prepared.email, idProperty: 'email', properties: prepared.properties, ...(prepared.writeIfEmpty.length > 0 ? { writeIfEmpty: prepared.writeIfEmpty } : {}) },
  };
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
  const settings = readSettings(config, hubspotEnv);
  const token = settings.HUBSPOT_ACCESS_TOKEN;
  const client =
    options.client ??
    (token
      ? createHubspotClient({
          accessToken: token,
          baseUrl: settings.HUBSPOT_BASE_URL,
          timeoutMs: config.actionTimeoutMs,
          now: deps.now,
        })
      : null);

  if (!client) {
    return {
      async execute(params: HubspotUpsertContactParams): Promise<ActionResult> {
        const { prepared, input } = buildUpsertInput(params);
        return {
          outcome: 'dry_run',
          // The trace id is the one a lone input of a fresh batcher gets.
          request: { method: 'POST', path: HUBSPOT_BATCH_UPSERT_PATH, body: { inputs: [toWireInput({ ...input, objectWriteTraceId: 't1' })] } },
          // What was left out and why, in the trace as for a real send (an empty value would clear it).
          ...(prepared.notes.length > 0 ? { detail: { notes: prepared.notes } } : {}),
        };
      },
    };
  }

  const intervalMs = 10_000 / settings.HUBSPOT_REQUESTS_PER_10_SECONDS;
  // Aborts pacing waits and calls in flight when the runner closes; a batch serves many jobs, so
  // no single job's signal may cancel it.
  const lifetime = new AbortController();

  const batcher = new ContactUpsertBatcher({
    windowMs: options.batchWindowMs,
    maxInputs: options.maxBatchInputs,
    send: async (inputs) => {
      const { toSend, keptByTraceId } = await applyWriteIfEmpty(inputs);
      await takeSlot();
      let announced: Parameters<HubspotResponseObserver>[0] | undefined;
      let response: Awaited<ReturnType<Client['crm']['contacts']['batchApi']['upsert']>>;
      try {
        response = await client.call(
          lifetime.signal,
          (sdk, callOptions) => sdk.crm.contacts.batchApi.upsert({ inputs: toSend }, callOptions),
          (seen) => (announced = seen),
        );
      } catch (error) {
        await adaptPacing(announced, error);
        throw error;
      }
      await adaptPacing(announced, undefined);
      return pairAnswer(inputs, response, keptByTraceId);
    },
  });

  /**
   * The account's budget for every worker, one slot per call: our own spacing, never faster than
   * HubSpot announces, and nothing at all while a 429 (or an exhausted window) holds the account.
   */
  async function takeSlot(): Promise<void> {
    await waitForSlot({
      redis: deps.redis,
      key: hubspotPaceKey(deps.keyPrefix),
      intervalMs,
      intervalFloorKey: hubspotIntervalFloorKey(deps.keyPrefix),
      holdKeys: [hubspotHoldKey(deps.keyPrefix)],
      maxWaitMs: options.maxPaceWaitMs,
      now: deps.now,
      signal: lifetime.signal,
    });
  }

  /**
   * `write: if_empty`: HubSpot's batch upsert overwrites whatever it is given and cannot condition
   * on the current value, so the contacts of the inputs that carry such properties are read first,
   * in one batch read by email (POST /crm/v3/objects/contacts/batch/read with `idProperty: "email"`,
   * developers.hubspot.com/docs/api-reference/latest/crm/objects/objects/batch/get-objects), and each
   * such property is left out where the contact already has a value. A contact the read does not find
   * (207 OBJECT_NOT_FOUND) is new: every property is written. The read takes its own pacing slot.
   * The race it leaves: a value written to the contact between this read and the upsert (by a person
   * or another system) is overwritten.
   */
  async function applyWriteIfEmpty(inputs: readonly ContactUpsertInput[]): Promise<{ toSend: WireInput[]; keptByTraceId: Map<string, string[]> }> {
    const keptByTraceId = new Map<string, string[]>();
    const conditional = inputs.filter((input) => (input.writeIfEmpty?.length ?? 0) > 0);
    if (conditional.length === 0) return { toSend: inputs.map(toWireInput), keptByTraceId };
    const names = [...new Set(['email', ...conditional.flatMap((input) => input.writeIfEmpty ?? [])])];
    await takeSlot();
    let announced: Parameters<HubspotResponseObserver>[0] | undefined;
    let read: Awaited<ReturnType<Client['crm']['contacts']['batchApi']['read']>>;
    try {
      read = await client!.call(
        lifetime.signal,
        (sdk, callOptions) =>
          sdk.crm.contacts.batchApi.read({ idProperty: 'email', inputs: conditional.map((input) => ({ id: input.id })), properties: names, propertiesWithHistory: [] }, false, callOptions),
        (seen) => (announced = seen),
      );
    } catch (error) {
      await adaptPacing(announced, error);
      throw error;
    }
    await adaptPacing(announced, undefined);
    const current = new Map<string, Record<string, string | null>>();
    for (const result of read.results ?? []) {
      const email = result.properties?.email;
      if (typeof email === 'string') current.set(contactKey(email), result.properties);
    }
    const toSend = inputs.map((input) => {
      const held = current.get(contactKey(input.id));
      if (!held || !input.writeIfEmpty) return toWireInput(input);
      const properties = { ...input.properties };
      const kept = input.writeIfEmpty.filter((name) => typeof held[name] === 'string' && held[name] !== '');
      for (const name of kept) delete properties[name];
      if (kept.length > 0) keptByTraceId.set(input.objectWriteTraceId, kept);
      return toWireInput({ ...input, properties });
    });
    return { toSend, keptByTraceId };
  }

  /**
   * Adapts the shared pacing to what HubSpot said (developers.hubspot.com/docs/developer-tooling/
   * platform/usage-guidelines, "Rate limits"): X-HubSpot-RateLimit-Max calls per
   * X-HubSpot-RateLimit-Interval-Milliseconds become a floor under our spacing; Remaining 0 holds the
   * account for a whole window (a rolling window: when its oldest call leaves is not said); a 429
   * holds it until its retry time (Retry-After, else the window, DAILY: midnight in the account's
   * time zone). Redis trouble here only loses the adaptation, never the call's own outcome.
   */
  async function adaptPacing(seen: Parameters<HubspotResponseObserver>[0] | undefined, error: unknown): Promise<void> {
    try {
      const now = deps.now();
      const max = numberHeader(seen?.headers, 'x-hubspot-ratelimit-max');
      const windowMs = numberHeader(seen?.headers, 'x-hubspot-ratelimit-interval-milliseconds');
      const remaining = numberHeader(seen?.headers, 'x-hubspot-ratelimit-remaining');
      if (max !== undefined && max > 0 && windowMs !== undefined && windowMs > 0) {
        await deps.redis.set(hubspotIntervalFloorKey(deps.keyPrefix), String(windowMs / max), 'PX', HUBSPOT_ANNOUNCED_INTERVAL_TTL_MS);
        if (remaining === 0) await holdUntil(deps.redis, hubspotHoldKey(deps.keyPrefix), now + windowMs, now);
      }
      if (error instanceof RetryableActionError && error.isRateLimit && error.retryAfterMs !== undefined) {
        await holdUntil(deps.redis, hubspotHoldKey(deps.keyPrefix), now + error.retryAfterMs, now);
      }
    } catch (redisError) {
      deps.logger.warn({ err: { name: redisError instanceof Error ? redisError.name : typeof redisError } }, 'could not adapt HubSpot pacing');
    }
  }

  return {
    async execute(params: HubspotUpsertContactParams, ctx: ActionContext): Promise<ActionResult> {
      const { prepared, input } = buildUpsertInput(params);
      const outcome = await batcher.upsert(input.id, input.properties, ctx.signal, prepared.writeIfEmpty);
      // `kept`: if_empty properties not written because the contact already had a value.
      const detail = outcome.keptExisting ? { contactId: outcome.contactId, isNew: outcome.isNew, kept: outcome.keptExisting } : { contactId: outcome.contactId, isNew: outcome.isNew };
      return { outcome: 'succeeded', detail: prepared.notes.length > 0 ? { ...detail, notes: prepared.notes } : detail };
    },
    async probe(signal: AbortSignal): Promise<void> {
      // One cheap authenticated read, not paced (two calls a minute at most, only while paused): the
      // `email` property's definition, GET /crm/v3/properties/contacts/email. It answers 401 for a bad
      // token. HubSpot has no write that changes nothing, so a 403 for a missing *write* scope may
      // pass this read: then the next upsert meets the 403 again and pauses again, one job per probe.
      await client.call(AbortSignal.any([signal, lifetime.signal]), (sdk, callOptions) =>
        sdk.crm.properties.coreApi.getByName('contacts', 'email', false, undefined, callOptions),
      );
    },
    async close() {
      await batcher.close();
      lifetime.abort();
      client.close();
    },
  };
}

/** One input as it goes on the wire: the write modes stay behind. */
type WireInput = Omit<ContactUpsertInput, 'writeIfEmpty'>;

function toWireInput(input: ContactUpsertInput): WireInput {
  return { id: input.id, idProperty: input.idProperty, objectWriteTraceId: input.objectWriteTraceId, properties: input.properties };
}

/**
 * Pairs HubSpot's answer with the inputs by objectWriteTraceId: HubSpot does not promise results in
 * input order. A result without a trace id is paired by its email (lower-cased), never by position.
 * Errors of a 207 carry the trace id in `context.objectWriteTraceId`.
 */
function pairAnswer(
  inputs: readonly ContactUpsertInput[],
  response: {
    results?: ReadonlyArray<{ id: string; _new?: boolean; objectWriteTraceId?: string; properties?: Record<string, string | null> }>;
    errors?: ReadonlyArray<unknown>;
  },
  keptByTraceId: ReadonlyMap<string, readonly string[]> = new Map(),
): ContactBatchAnswer {
  const traceIdByEmail = new Map(inputs.map((input) => [contactKey(input.id), input.objectWriteTraceId]));
  const results = new Map<string, ContactUpsertOutcome>();
  for (const result of response.results ?? []) {
    const email = result.properties?.email;
    const traceId = result.objectWriteTraceId ?? (typeof email === 'string' ? traceIdByEmail.get(contactKey(email)) : undefined);
    if (traceId === undefined) continue;
    const kept = keptByTraceId.get(traceId);
    results.set(traceId, kept ? { contactId: result.id, isNew: result._new, keptExisting: kept } : { contactId: result.id, isNew: result._new });
  }
  const errors = new Map<string, PermanentActionError>();
  for (const raw of response.errors ?? []) {
    const error = raw as HubspotErrorBody;
    const traceIds = error.context?.objectWriteTraceId;
    if (!Array.isArray(traceIds)) continue;
    const mapped = mapBatchInputError(error);
    for (const traceId of traceIds) if (typeof traceId === 'string') errors.set(traceId, mapped);
  }
  return { results, errors };
}

/** `hubspot.upsert_contact`: creates or updates the contact with this email. */
export const hubspotUpsertContact = defineAction<HubspotUpsertContactParams, typeof hubspotEnv>({
  name: 'hubspot.upsert_contact',
  params: hubspotUpsertContactParams,
  explain: (params) => prepareUpsert(params).notes,
  connect: (deps) => connectHubspotUpsertContact(deps),
  title: 'HubSpot',
  env: hubspotEnv,
  credential: 'HUBSPOT_ACCESS_TOKEN',
});
