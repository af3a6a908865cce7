import * as yup from 'yup';

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

// `celType: timestamp`: ISO 8601 text that conditions compare as CEL timestamps (rules/scope-types.ts).
const instant = yup.string().meta({ celType: 'timestamp' });

const actionFailedDataSchema = yup.object({
  stage: yup.string().oneOf(['run', 'plan']).required(),
  rule_id: yup.string().required(),
  rule_file: yup.string().required(),
  action: yup.string().required(),
  error: yup.string().required(),
  event_id: yup.string().required(),
  event_type: yup.string().required(),
  source: yup.string().required(),
  attempts: yup.number().integer().required(),
  failed_at: instant.required(),
  job_id: yup.string().required(),
  dead_letter_id: yup.string().required(),
  retry_command: yup.string().required(),
});

/** One internal event type: what rules/README.md says of it, and its `data` schema (typed rules). */
export interface InternalEventType {
  readonly description: string;
  readonly data: yup.ISchema<unknown>;
}

/**
 * Every internal event type, by its type after `bridge.`. The one list: `check`, `schema`, the
 * scope catalog, rules/README.md's list and `bridge_events_total`'s labels read it.
 */
export const INTERNAL_EVENT_TYPES: Readonly<Record<string, InternalEventType>> = Object.freeze({
  'action.failed': {
    description: 'an action failed for good (permanent error, last attempt, or it could not be planned): see "When an action fails" above',
    data: actionFailedDataSchema,
  },
});

/** `bridge.action.failed`, …: every internal event type in full. */
export const INTERNAL_EVENT_TYPE_NAMES: readonly string[] = Object.freeze(Object.keys(INTERNAL_EVENT_TYPES).map((type) => `${INTERNAL_SOURCE}.${type}`));

/** Whether `type` is one of the bridge's own event types (the loop guard's test). */
export function isInternalEventType(type: string): boolean {
  return type.startsWith(`${INTERNAL_SOURCE}.`);
}
