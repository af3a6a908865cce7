import type { EnvDeclaration } from '../config/env-variable.js';
import { CANONICAL_TYPE_NAMESPACE, type AffiliateDescription, type EventOrigin } from '../events/affiliate.js';
import type { BridgeEvent, SourceName } from '../events/event.js';
import { INTERNAL_SOURCE } from '../events/internal-events.js';
import type { SourceReconciliation } from '../reconcile/reconciliation.js';
import type { Secret } from '../secret.js';
import { checkEventAgainst, type EventSchemas } from './check-event.js';
import type { SecretScrubber } from './scrub-secrets.js';

/** What the HTTP layer hands a source: the raw bytes and the request's headers and query. */
export interface RawDelivery {
  readonly rawBody: Buffer;
  /** Header names lowercased, as Node gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly query: Readonly<Record<string, unknown>>;
}

/** A delivery before its body is read: what `verifyBeforeBody` may look at. */
export type BodylessDelivery = Omit<RawDelivery, 'rawBody'>;

export interface NormalizeOptions {
  /** When the delivery arrived; passed in so normalising stays pure. */
  readonly receivedAt: Date;
  /**
   * Dotted paths removed from `data` (and the envelope) before the event goes anywhere, e.g.
   * `promoter.auth_token`. A path matches at any depth of the payload (see strip-secrets.ts).
   */
  readonly strippedFields: readonly string[];
  /**
   * Replaces the values of the configured secrets wherever they occur in the payload and the
   * envelope (any depth, inside longer strings, in keys) before the event goes anywhere: providers
   * echo them, e.g. FirstPromoter's receiving URL with its `?token=`. The HTTP layer builds it from
   * every secret variable the sources declare (`collectSourceSecrets`).
   * @defaultValue none: nothing is scrubbed by value
   */
  readonly secretScrubber?: SecretScrubber | null;
  /**
   * Where the body comes from: a webhook delivery, or an object `reconcile` fetched from the
   * provider's API and turned into the delivery the webhook would have carried.
   * @defaultValue 'webhook'
   */
  readonly origin?: EventOrigin;
}

/**
 * A source's affiliate normalizer: the canonical types and normalized `affiliate` fields of one of
 * its events. Pure, and defensive: it runs on payloads that have not been schema-checked yet (a
 * field of the wrong type reads as null), and never throws.
 */
export type AffiliateNormalizer = (event: Pick<BridgeEvent, 'providerType' | 'data' | 'envelope'>) => AffiliateDescription;

/**
 * One webhook provider: everything the bridge knows about it, declared in its folder
 * (sources/<provider>/index.ts) and listed once in sources/registry.ts. Config, logger redaction,
 * event-type patterns, `simulate`'s source guessing, the HTTP app and the CLI read it from there.
 * `verify` runs first, on the raw bytes, and is the only way to get a parsed body, so an
 * unverified body cannot travel further by mistake.
 */
export interface Source<E extends EnvDeclaration = EnvDeclaration> {
  /** The name in `POST /webhooks/<name>`, event ids (`<name>-<id>`) and event types (`<name>.<type>`). */
  readonly name: SourceName;
  /** The provider's own spelling, for messages: `FirstPromoter`. */
  readonly title: string;
  /** The 2xx this provider must get once the event is stored (FirstPromoter 202, Rewardful 200). */
  readonly successStatus: 200 | 202;
  /**
   * The 2xx for one stored event when it depends on the event and the source's settings, e.g.
   * FirstPromoter's `fulfilment_pending` with FIRSTPROMOTER_FULFILMENT_ANSWER=fulfilled. Called only
   * once the event is stored (or known as a duplicate), never before.
   * @defaultValue `successStatus` for every event
   */
  // Settings by variable name, loosely typed: a descriptor spread into another with other
  // variables (a test's toy source) must still type-check.
  readonly successStatusFor?: (event: BridgeEvent, settings: Readonly<Record<string, unknown>>) => 200 | 202;
  /**
   * The provider's API version as an event carries it, and the versions this bridge's schemas were
   * written against. The HTTP layer warns once per process for every other version it meets.
   * @defaultValue none: versions are not tracked
   */
  readonly apiVersion?: SourceApiVersion;
  /** The environment variables this source reads (its webhook secret at least). */
  readonly env: E;
  /** Which of `env` authenticates deliveries; unset, the source answers 401 (see ALLOW_UNSIGNED_WEBHOOKS). */
  readonly webhookSecret: keyof E & string;
  /** Log paths pino redacts for this source: the headers its credentials travel in. */
  readonly redact: readonly string[];
  /**
   * Payload fields this provider sends that must never be stored (dotted paths, any depth); their
   * union over the registry is the default of STRIPPED_FIELDS.
   */
  readonly strippedFields: readonly string[];
  /** Every provider event type the source knows (`lead_signup`, `referral.created`); others are quarantined. */
  readonly eventTypes: readonly string[];
  /**
   * Provider types the source stores beside `eventTypes`, with no schema of their own, that rules
   * may still name: FirstPromoter's v2 test deliveries (`test.referral.created`). `check` knows them
   * and rules/README.md lists them; rules see their `data` untyped.
   * @defaultValue none
   */
  readonly testEventTypes?: readonly string[];
  /**
   * Whether a parsed body has this provider's envelope, to guess the source of a payload given to
   * `simulate` or a rule test without one. Cheap and shape-only: no schema check.
   */
  recognize(body: Record<string, unknown>): boolean;
  /** How `recognize` describes the envelope in a message: `a FirstPromoter data envelope`. */
  readonly envelopeDescription: string;
  /**
   * 1. Authenticates the delivery against `secret` in constant time (skipped only when `secret` is
   *    null, which the HTTP layer allows solely with ALLOW_UNSIGNED_WEBHOOKS=true).
   * 2. Parses the raw body as JSON.
   * @returns the parsed body.
   * @throws AuthError with a specific code (missing, mismatch…) when authentication fails.
   * @throws MalformedDeliveryError when the body is not JSON or not an object.
   */
  verify(delivery: RawDelivery, secret: Secret | null): Record<string, unknown>;
  /**
   * Checks what can be checked of the credentials before a byte of the body is read: a token in
   * the query or the Authorization header, or that a signature header is present and well formed.
   * The HTTP layer calls it first (only when a secret is set) and answers 401 without reading the
   * body, so a sender with no credential cannot make the bridge buffer or parse anything.
   * `verify` still checks everything again: this is an early refusal, not a second authority.
   * @throws AuthError as `verify` would for the same credentials.
   * @defaultValue none: the body is read (up to BODY_LIMIT) before it is authenticated
   */
  readonly verifyBeforeBody?: (delivery: BodylessDelivery, secret: Secret) => void;
  /**
   * Turns a verified body into the bridge's event, cheaply enough for the intake's hot path: the
   * envelope is read, secrets stripped and depth bounded. A body with no recognisable envelope (no
   * event id or type) throws MalformedDeliveryError. An unknown type, an unreadable timestamp, a
   * payload nested too deep or an array too long to check gives `status: 'quarantined'` with
   * `validationErrors`. The payload's schema is NOT checked here: see `checkSchema`.
   */
  normalize(body: Record<string, unknown>, options: NormalizeOptions): BridgeEvent;
  /**
   * Maps this provider's events onto the one affiliate model (canonical types and `affiliate`
   * fields); `defineSource` applies it to every event `normalize` returns.
   * @defaultValue none: the source's events get no canonical type, and rules see `affiliate` as null
   */
  readonly normalizeAffiliate?: AffiliateNormalizer;
  /** The schemas of a provider event type (its payload, and envelope fields if any); null when unknown. */
  schemasFor(providerType: string): EventSchemas | null;
  /**
   * Checks a normalised event's payload against its type's schema and returns every problem
   * (empty when valid). This is the expensive part (yup, ~0.2 ms for a seed payload), so the
   * events worker runs it, not the HTTP intake: see sources/check-event.ts.
   */
  checkSchema(event: BridgeEvent): string[];
  /** How `affiliate-bridge demo` posts this source's example deliveries; without it, they are skipped. */
  readonly example?: SourceExample;
  /**
   * How the bridge fetches, from the provider's REST API, the events its webhooks never delivered
   * (`affiliate-bridge reconcile` and the scheduled run); its variables are part of `env`.
   * @defaultValue none: the source is never reconciled
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each source has its own API client
  readonly reconciliation?: SourceReconciliation<any>;
}

/** How a source's events say which version of the provider's API they follow. */
export interface SourceApiVersion {
  /** The versions the schemas follow (Rewardful: `v1`); no warning for these. */
  readonly documented: readonly string[];
  /** The version an event carries (Rewardful: `envelope.api_version`); undefined when absent. */
  read(event: BridgeEvent): unknown;
}

/** What `demo` needs to send a provider's example delivery as the provider would. */
export interface SourceExample {
  /** Gives the parsed delivery a fresh event id (in place), so the demo can run again. */
  renewEventId(delivery: Record<string, unknown>): void;
  /** The headers that authenticate `rawBody` with the secret, as the provider sends them. */
  authenticate(rawBody: string, secret: string): Record<string, string>;
}

/** A source as its folder declares it; `checkSchema` is derived from `schemasFor` unless given. */
export type SourceDefinition<E extends EnvDeclaration> = Omit<Source<E>, 'checkSchema'> & Partial<Pick<Source<E>, 'checkSchema'>>;

/**
 * Declares a source. Checks what the type system cannot (the secret is one of its variables, a
 * name usable in URLs, event ids and event types) and freezes the result.
 * @throws TypeError naming the problem, at import time, so a broken descriptor never starts.
 */
export function defineSource<E extends EnvDeclaration>(definition: SourceDefinition<E>): Source<E> {
  if (!/^[a-z][a-z_]*$/.test(definition.name)) {
    throw new TypeError(`source name ${definition.name} must be lowercase letters and _ (it starts every event type)`);
  }
  if (definition.name === CANONICAL_TYPE_NAMESPACE) {
    throw new TypeError(`source name ${definition.name} is taken: canonical event types start with ${CANONICAL_TYPE_NAMESPACE}.`);
  }
  if (definition.name === INTERNAL_SOURCE) {
    throw new TypeError(`source name ${definition.name} is taken: the bridge's own event types start with ${INTERNAL_SOURCE}.`);
  }
  if (!Object.hasOwn(definition.env, definition.webhookSecret) || !definition.env[definition.webhookSecret]?.isSecret) {
    throw new TypeError(`source ${definition.name}: webhookSecret ${definition.webhookSecret} must be one of its secret variables`);
  }
  const { normalizeAffiliate } = definition;
  return Object.freeze({
    checkSchema: (event: BridgeEvent) => checkEventAgainst(definition.schemasFor(event.providerType), event),
    ...definition,
    // Every event the source builds carries its affiliate model, from the payload as stored
    // (secrets stripped and scrubbed first), so the model can hold no secret either.
    ...(normalizeAffiliate ? { normalize: (body, options) => describeAffiliateEvent(definition.normalize(body, options), normalizeAffiliate) } : {}),
  } satisfies Source<E>);
}

/**
 * The event with its canonical types and `affiliate` fields (re)derived by `normalizeAffiliate`
 * from its current payload: what `defineSource` does after `normalize`, and what tools do after
 * changing a field of a payload (`simulate --set`, a rule test's `set`), and what a stored trace's
 * reader does (queue/trace.ts keeps them out of Redis). New fields go just before the payload, last,
 * where the event job has them too (the intake serializes the payload last: serializeEventJob), so
 * the event reads in one order, fresh from a source, from its job or from its trace.
 * @param normalizeAffiliate the event's source's normalizer; undefined leaves the event unchanged.
 */
export function describeAffiliateEvent(event: BridgeEvent, normalizeAffiliate: AffiliateNormalizer | undefined): BridgeEvent {
  if (normalizeAffiliate === undefined) return event;
  const { canonicalTypes, affiliate } = normalizeAffiliate(event);
  const { data, ...described } = event;
  return { ...described, canonicalTypes, affiliate, data };
}
