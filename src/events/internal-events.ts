import * as yup from 'yup';
import type { BridgeEvent } from './event.js';

/*
 * The bridge's own events: what it tells rules about itself, so a rule can route the bridge's
 * failures to an ops channel like any provider event (`on: bridge.action.failed`).
 *
 * Why a declared list here and not a source in sources/registry.ts: a source is a webhook provider,
 * and everything that reads the registry treats it as one: `POST /webhooks/<source>`, a webhook
 * secret it must declare (defineSource refuses one without), the start-up lines listing sources that
 * accept deliveries, `simulate`'s envelope guessing, `demo`, reconciliation, the secrets warnings.
 * `bridge` is none of that: nobody may POST its events (a POST to /webhooks/bridge stays 404), they
 * have no envelope and no provider. So this is the one list of internal event types; what rules
 * need of it (`on:` validation with did-you-mean, typed conditions and templates, `schema`, the
 * event-type list in rules/README.md, the metrics label) reads it from here, beside the registry.
 */

/** The source name of the bridge's own events (`event.source`, the prefix of their types and ids). Never a provider's name. */
export const INTERNAL_SOURCE = 'bridge';

/** The type of the event emitted when an action failed for good (see queue/failure-events.ts). */
export const ACTION_FAILED_TYPE = `${INTERNAL_SOURCE}.action.failed`;

/** `run`: the action job failed for good (a permanent error, or its last attempt); `plan`: the action could not be planned. */
export type ActionFailureStage = 'run' | 'plan';

/** What a `bridge.action.failed` event carries as `data` (snake_case, as providers' payloads are). */
export interface ActionFailedData {
  readonly stage: ActionFailureStage;
  readonly rule_id: string;
  readonly rule_file: string;
  readonly action: string;
  /** `code: message`, secrets scrubbed, at most ACTION_FAILED_ERROR_LENGTH characters. */
  readonly error: string;
  /** The event whose action failed. */
  readonly event_id: string;
  readonly event_type: string;
  /** The source of the event whose action failed (`firstpromoter`). */
  readonly source: string;
  /** Attempts made (0 for an action that could not be planned). */
  readonly attempts: number;
  /** ISO 8601. */
  readonly failed_at: string;
  /** The action job's id (for `plan`: the id the job would have had). */
  readonly job_id: string;
  /** The id `actions failed` and the dashboard list it under. */
  readonly dead_letter_id: string;
  /** The command that sends it again (`run`), or that replays the event once the rule is fixed (`plan`). */
  readonly retry_command: string;
}

/** The longest error text an event carries: the rest is in `actions failed`, the dashboard and the logs. */
export const ACTION_FAILED_ERROR_LENGTH = 1_000;

// Messages name the field, never its value (yup's default type errors quote it): `test` and
// `simulate` show them for a hand-written bridge payload (rules/tooling/event-from-payload.ts).
const text = yup.string().typeError('${path} must be a string');
// `celType: timestamp`: ISO 8601 text that conditions compare as CEL timestamps (rules/scope-types.ts).
const instant = text
  .test('iso-8601', '${path} must be an ISO 8601 timestamp', (value) => value == null || (/^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value))))
  .meta({ celType: 'timestamp' });

const actionFailedDataSchema = yup.object({
  stage: text.oneOf(['run', 'plan'], '${path} must be run or plan').required(),
  rule_id: text.required(),
  rule_file: text.required(),
  action: text.required(),
  error: text.required(),
  event_id: text.required(),
  event_type: text.required(),
  source: text.required(),
  attempts: yup.number().typeError('${path} must be a number').integer('${path} must be an integer').required(),
  failed_at: instant.required(),
  job_id: text.required(),
  dead_letter_id: text.required(),
  retry_command: text.required(),
});

/**
 * The id of the report of a failure: derived from the dead letter and the run that found it (see
 * queue/failure-events.ts, "Dedup"), never a bare integer.
 * @param runStartedAtMs when that run started, milliseconds since the epoch.
 */
export function formatActionFailedEventId(deadLetterId: string, runStartedAtMs: number): string {
  return `${INTERNAL_SOURCE}-${deadLetterId}.${runStartedAtMs.toString(36)}`;
}

/** One internal event type: what rules/README.md says of it, and its `data` schema (typed rules). */
export interface InternalEventType {
  readonly description: string;
  readonly data: yup.ISchema<unknown>;
  /** The `data` field that says when it happened: the event's `occurredAt`. */
  readonly occurredAtField: string;
  /**
   * The id of an event written without one (a rule test's or `simulate`'s payload): the id the
   * bridge would give it, from its data (already checked against `data`).
   */
  readonly defaultIdOf: (data: Readonly<Record<string, unknown>>) => string;
}

/**
 * Every internal event type, by its type after `bridge.`. The one list: `check`, `schema`, the
 * scope catalog, rules/README.md's list and `bridge_events_total`'s labels read it.
 */
export const INTERNAL_EVENT_TYPES: Readonly<Record<string, InternalEventType>> = Object.freeze({
  'action.failed': {
    description: 'an action failed for good (permanent error, last attempt, or it could not be planned): see "When an action fails" above',
    data: actionFailedDataSchema,
    occurredAtField: 'failed_at',
    // The run that found a failure started at most a moment before it: its failure time stands for it.
    defaultIdOf: (data) => formatActionFailedEventId(String(data.dead_letter_id), Date.parse(String(data.failed_at))),
  },
});

/** `bridge.action.failed`, …: every internal event type in full. */
export const INTERNAL_EVENT_TYPE_NAMES: readonly string[] = Object.freeze(Object.keys(INTERNAL_EVENT_TYPES).map((type) => `${INTERNAL_SOURCE}.${type}`));

/** Whether `type` is one of the bridge's own event types (the loop guard's test). */
export function isInternalEventType(type: string): boolean {
  return type.startsWith(`${INTERNAL_SOURCE}.`);
}

/** The declaration of internal event type `type` (`bridge.action.failed`), or null when there is none. */
export function findInternalEventType(type: string): InternalEventType | null {
  const providerType = type.slice(INTERNAL_SOURCE.length + 1);
  return isInternalEventType(type) && Object.hasOwn(INTERNAL_EVENT_TYPES, providerType) ? (INTERNAL_EVENT_TYPES[providerType] as InternalEventType) : null;
}

/**
 * The event the bridge stores for one of its own events, from its type and data: pure, and the one
 * envelope of internal events, used by the failure reporter (queue/failure-events.ts) and by
 * `test`/`simulate` for a bridge payload, so a rule sees the same event in both. No affiliate model
 * (rules see `affiliate` as null) and no schema check: the bridge builds the data itself.
 * @param type a declared type in full (`bridge.action.failed`).
 * @param data its `data`, already checked against the type's schema by a caller that did not build it.
 * @throws TypeError for a type that is not declared in INTERNAL_EVENT_TYPES.
 */
export function buildInternalEvent(
  type: string,
  data: Readonly<Record<string, unknown>>,
  envelope: { readonly id: string; readonly receivedAtMs: number },
): BridgeEvent {
  const declared = findInternalEventType(type);
  if (declared === null) throw new TypeError(`${type} is not an internal event type: use ${INTERNAL_EVENT_TYPE_NAMES.join(' or ')}`);
  return {
    id: envelope.id,
    source: INTERNAL_SOURCE,
    type,
    providerType: type.slice(INTERNAL_SOURCE.length + 1),
    occurredAt: String(data[declared.occurredAtField]),
    receivedAt: new Date(envelope.receivedAtMs).toISOString(),
    status: 'valid',
    data: { ...data },
  };
}
