import { DEFAULT_EVENT_ORIGIN } from '../events/affiliate.js';
import type { BridgeEvent, SourceName } from '../events/event.js';
import type { NormalizeOptions } from './source.js';
import { MAX_LISTED_PROBLEMS, isJsonObject } from './schema-fields.js';
import { copyPayload } from './strip-secrets.js';

/**
 * Deepest container kept in stored data (the data object is depth 0). Real payloads nest about 5
 * deep; `JSON.stringify`, which stores the event, overflows the stack near 4,000.
 */
export const MAX_PAYLOAD_DEPTH = 32;

/**
 * Longest array a schema check reads. yup spends about 10 ms per 1,000 objects, and builds one
 * error per bad element; a longer array skips the check and quarantines the event instead.
 */
export const MAX_CHECKED_ARRAY_ITEMS = 1000;

/**
 * Event ids become BullMQ job ids (`<source>-<id>`), which must not contain `:`; this also keeps
 * log lines and Redis keys tidy. UUIDs and integers pass.
 */
const SAFE_EVENT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Event types become metric labels and rule targets: `lead_signup`, `referral.created`. */
const SAFE_EVENT_TYPE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** Whether a provider event id can become part of the bridge's event id (and a job id). */
export function isSafeEventId(value: string): boolean {
  return SAFE_EVENT_ID.test(value);
}

/** Whether a provider event type can become part of the bridge's event type. */
export function isSafeEventType(value: string): boolean {
  return SAFE_EVENT_TYPE.test(value);
}

/** What a provider's normaliser found in the envelope, ready to become a BridgeEvent. */
export interface EventDraft {
  readonly source: SourceName;
  /** The provider's event id, already checked with `isSafeEventId`. */
  readonly providerEventId: string;
  readonly providerType: string;
  /** The instant from the envelope (`toISOString()`), or null when missing or unreadable. */
  readonly occurredAt: string | null;
  /** The provider's payload, as parsed; anything but an object quarantines the event. */
  readonly data: unknown;
  /** Envelope fields kept beside the payload; omitted from the event when undefined. */
  readonly envelope?: Record<string, unknown>;
  /** Problems already found (unknown type, unreadable timestamp), listed first. */
  readonly problems: readonly string[];
}

/**
 * Assembles the event: strips secret fields, replaces secret values (`options.secretScrubber`) in
 * the payload, the envelope and the problems, bounds the depth and the arrays a schema check would have
 * to read, and sets `status`. The schema itself is checked later (`checkSchema`, in the events
 * worker). Never throws for a payload's content: whatever is wrong with it ends up in
 * `validationErrors` of a quarantined event, with the (stripped) data still stored.
 */
export function buildBridgeEvent(draft: EventDraft, options: NormalizeOptions): BridgeEvent {
  const problems = [...draft.problems];
  const receivedAt = options.receivedAt.toISOString();

  const isDataObject = isJsonObject(draft.data);
  const data: Record<string, unknown> = isDataObject ? (draft.data as Record<string, unknown>) : {};
  if (!isDataObject) problems.push(draft.data === undefined ? 'data is missing' : 'data must be an object');

  const scrubber = options.secretScrubber ?? null;
  const copiedData = copyPayload(data, {
    strippedFields: options.strippedFields,
    maxDepth: MAX_PAYLOAD_DEPTH,
    maxArrayItems: MAX_CHECKED_ARRAY_ITEMS,
    scrubber,
  });
  const copiedEnvelope =
    draft.envelope === undefined
      ? undefined
      : copyPayload(draft.envelope, {
          strippedFields: options.strippedFields,
          maxDepth: MAX_PAYLOAD_DEPTH,
          maxArrayItems: MAX_CHECKED_ARRAY_ITEMS,
          scrubber,
        });

  // yup needs seconds for a million-element array, so such a payload is never checked: it is
  // quarantined here, where reading the array's length costs nothing.
  if (isDataObject && copiedData.oversizedArray) problems.push(describeOversizedArray('data', copiedData.oversizedArray));
  if (copiedEnvelope?.oversizedArray) problems.push(describeOversizedArray('envelope', copiedEnvelope.oversizedArray));
  if (copiedData.isTruncated) problems.push(describeTruncation('data'));
  if (copiedEnvelope?.isTruncated) problems.push(describeTruncation('envelope'));

  // A problem may quote a key as sent (the path of an oversized array): scrub those too.
  const scrubbedProblems = scrubber === null ? problems : problems.map((problem) => scrubber.scrub(problem));
  const listed =
    scrubbedProblems.length > MAX_LISTED_PROBLEMS
      ? [...scrubbedProblems.slice(0, MAX_LISTED_PROBLEMS), `and ${scrubbedProblems.length - MAX_LISTED_PROBLEMS} more problems`]
      : scrubbedProblems;

  return {
    id: `${draft.source}-${draft.providerEventId}`,
    source: draft.source,
    type: `${draft.source}.${draft.providerType}`,
    providerType: draft.providerType,
    // An unreadable timestamp is already one of the problems; the arrival time stands in.
    occurredAt: draft.occurredAt ?? receivedAt,
    receivedAt,
    status: listed.length === 0 ? 'valid' : 'quarantined',
    origin: options.origin ?? DEFAULT_EVENT_ORIGIN,
    ...(listed.length > 0 ? { validationErrors: listed } : {}),
    ...(copiedEnvelope ? { envelope: copiedEnvelope.value } : {}),
    data: copiedData.value,
  };
}

function describeOversizedArray(prefix: string, oversizedArray: { path: string; length: number }): string {
  const path = oversizedArray.path === '' ? prefix : `${prefix}.${oversizedArray.path}`;
  return `${path} holds ${oversizedArray.length} items, more than the ${MAX_CHECKED_ARRAY_ITEMS} a schema check reads; ${prefix} was not checked`;
}

function describeTruncation(prefix: string): string {
  return `${prefix} nests deeper than ${MAX_PAYLOAD_DEPTH} levels; deeper values were replaced by "[truncated]"`;
}
