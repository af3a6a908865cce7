import type { BridgeEvent } from '../events/event.js';
import { MalformedDeliveryError } from '../errors.js';
import { buildBridgeEvent, isSafeEventId, isSafeEventType } from './build-event.js';
import { isJsonObject, readIsoInstant } from './schema-fields.js';
import type { NormalizeOptions, Source } from './source.js';

/*
 * The envelope plumbing every provider's normaliser shares: check the event id and type (or
 * refuse the body as not this provider's webhook), note an unknown type or an unreadable
 * timestamp as quarantine problems, and build the event. A normaliser only says where its
 * envelope keeps these fields.
 */

/** What every id and type requirement says when a value cannot be used. */
export const SAFE_TOKEN_REQUIREMENT = "must be a string of letters, digits, '_', '.' or '-'";

/** One envelope field, by its place in the body (`event.id`) for messages. */
export interface EnvelopeField {
  /** Where the field sits in the body, as messages name it: `event.id`, `event_type`. */
  readonly path: string;
  readonly value: unknown;
}

export interface EnvelopeReading {
  /** The provider's event id; by default a string usable in job ids. */
  readonly id: EnvelopeField & {
    /** @defaultValue a string accepted by `isSafeEventId` */
    readonly isUsable?: (value: unknown) => boolean;
    /** The sentence after the path when the id is not usable. @defaultValue SAFE_TOKEN_REQUIREMENT */
    readonly requirement?: string;
  };
  /** The provider's event type (checked with `isSafeEventType`). */
  readonly type: EnvelopeField;
  /** Another spelling of a provider type, e.g. FirstPromoter's `promoter_signs_up`. @defaultValue none */
  readonly typeAliases?: Readonly<Record<string, string>>;
  /** Whether the (aliased) type is one this envelope knows; an unknown one quarantines the event. */
  readonly isKnownType: (providerType: string) => boolean;
  /** When the event happened. */
  readonly occurredAt: EnvelopeField & {
    /** @defaultValue `readIsoInstant`: an ISO 8601 date-time with a zone */
    readonly read?: (value: unknown) => string | null;
    /** @defaultValue 'must be an ISO 8601 date-time with a time zone' */
    readonly requirement?: string;
  };
  /** The payload the rules see as `data`. */
  readonly data: unknown;
  /** Envelope fields kept beside the payload. @defaultValue none */
  readonly envelope?: Record<string, unknown>;
}

/**
 * Reads a provider's envelope into the bridge's event.
 * @throws MalformedDeliveryError `envelope_unrecognised` (`Body is not a <title> webhook: …`)
 *   when the id or the type is missing or unusable, or holds a configured secret: there is no
 *   event to store, let alone quarantine.
 */
export function normalizeEnvelope(source: Pick<Source, 'name' | 'title'>, reading: EnvelopeReading, options: NormalizeOptions): BridgeEvent {
  const { id, type, occurredAt: time } = reading;
  const problems: string[] = [];
  if (id.value === undefined) problems.push(`missing ${id.path}`);
  else if (!(id.isUsable ?? isUsableStringId)(id.value)) problems.push(`${id.path} ${id.requirement ?? SAFE_TOKEN_REQUIREMENT}`);
  if (type.value === undefined) problems.push(`missing ${type.path}`);
  else if (typeof type.value !== 'string' || !isSafeEventType(type.value)) problems.push(`${type.path} ${SAFE_TOKEN_REQUIREMENT}`);
  if (problems.length > 0) throw createUnrecognisedEnvelopeError(source, problems);
  // The id and the type become job ids, Redis keys, metric labels and log fields, where a scrubbed
  // `[redacted]` cannot stand: a delivery whose id or type holds a configured secret is refused.
  const scrubber = options.secretScrubber ?? null;
  if (scrubber !== null) {
    const leaks = [id, type].filter((field) => scrubber.isFoundIn(String(field.value))).map((field) => `${field.path} holds a configured secret`);
    if (leaks.length > 0) throw createUnrecognisedEnvelopeError(source, leaks);
  }

  const rawType = type.value as string;
  // Own keys only: a type named `constructor` must not pick up Object.prototype's.
  const providerType = reading.typeAliases && Object.hasOwn(reading.typeAliases, rawType) ? (reading.typeAliases[rawType] as string) : rawType;
  const occurredAt = (time.read ?? readIsoInstant)(time.value);
  return buildBridgeEvent(
    {
      source: source.name,
      providerEventId: String(id.value),
      providerType,
      occurredAt,
      data: reading.data,
      ...(reading.envelope !== undefined ? { envelope: reading.envelope } : {}),
      problems: [
        ...(reading.isKnownType(providerType) ? [] : [`Unknown ${source.title} event type "${providerType}"`]),
        ...(occurredAt === null
          ? [time.value === undefined ? `${time.path} is missing` : `${time.path} ${time.requirement ?? 'must be an ISO 8601 date-time with a time zone'}`]
          : []),
      ],
    },
    options,
  );
}

/**
 * The object an envelope keeps its event fields in (`event` in both classic envelopes), or `{}`
 * when absent, so the missing fields are reported one by one.
 * @throws MalformedDeliveryError `envelope_unrecognised` when it is present but not an object.
 */
export function readEnvelopeObject(source: Pick<Source, 'title'>, body: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = body[key];
  if (value === undefined) return {};
  if (!isJsonObject(value)) throw createUnrecognisedEnvelopeError(source, [`${key} must be an object`]);
  return value;
}

/** `Body is not a <title> webhook: <problems>`, the 400 answer to a body without a usable envelope. */
export function createUnrecognisedEnvelopeError(source: Pick<Source, 'title'>, problems: readonly string[]): MalformedDeliveryError {
  return new MalformedDeliveryError('envelope_unrecognised', `Body is not a ${source.title} webhook: ${problems.join('; ')}`);
}

function isUsableStringId(value: unknown): boolean {
  return typeof value === 'string' && isSafeEventId(value);
}
