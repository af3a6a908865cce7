import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HubSpot CRM API speaking the real wire format of the endpoints the bridge uses:
 * - `POST /crm/v3/objects/contacts/batch/upsert` (`idProperty: "email"`): validates like HubSpot
 *   (unknown property → PROPERTY_DOESNT_EXIST, bad email → INVALID_EMAIL, read-only property →
 *   READ_ONLY_VALUE, a value its type refuses → INVALID_OPTION / INVALID_LONG..., duplicate ids →
 *   400); one bad input fails the whole batch with 400 unless every input carries
 *   `objectWriteTraceId`, then the answer is 207 with one error per bad input; one conflicting
 *   contact fails the whole batch with 409 CONFLICT; results come in an order not matching the
 *   inputs; ids match exactly (case-sensitive); "" clears a property;
 * - `POST /crm/v3/objects/contacts/batch/read` (`idProperty: "email"`): the requested properties,
 *   null when unset; ids not found → 207 OBJECT_NOT_FOUND naming them in `context.ids`;
 * - `GET/POST /crm/v3/properties/contacts`, `GET /crm/v3/properties/contacts/{name}` and
 *   `GET/POST /crm/v3/properties/contacts/groups`;
 * - bearer auth (a wrong or revoked token: 401 INVALID_AUTHENTICATION on every endpoint; a 403
 *   MISSING_SCOPES by script); errors as `{ status: "error", message, correlationId, category }`; rate limits as
 *   429 `{ status: "error", message, errorType: "RATE_LIMIT", policyName, ... }`;
 * - `GET /account-info/v3/details` with the account's `timeZone`.
 *
 * Rate limits as the usage guidelines document them
 * (developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines, "Rate limits"), the less
 * forgiving reading where they are unclear:
 * - every authenticated answer carries X-HubSpot-RateLimit-Max, -Remaining and
 *   -Interval-Milliseconds ("The window of time that the X-HubSpot-RateLimit-Max and
 *   X-HubSpot-RateLimit-Remaining headers apply to"), and for private apps -Daily and
 *   -Daily-Remaining; the window is rolling (`announcedLimit`, enforced with `windowLimit`);
 * - over the window: 429 with policyName TEN_SECONDLY_ROLLING and no Retry-After (the guidelines
 *   show none), Remaining 0; a call arriving while the window is still full is refused again;
 * - DAILY: "The daily limit resets at midnight based on your time zone setting" (`timeZone`).
 */

/** One request the fake answered. */
export interface HubspotFakeCall {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
  readonly token: string | null;
  readonly status: number;
  readonly at: number;
}

/** A contact property as HubSpot describes it. */
export interface HubspotFakeProperty {
  readonly name: string;
  readonly label: string;
  readonly type: string;
  readonly fieldType: string;
  readonly groupName: string;
  /** An enumeration's (or bool's) options. */
  readonly options?: ReadonlyArray<{ readonly label: string; readonly value: string }>;
}

/** A custom property to start with: a name (single-line text), or a full description. */
export type HubspotFakePropertySeed = string | { readonly name: string; readonly type: string; readonly options?: readonly string[] };

/** One scripted behaviour; applies to the next `times` calls, or to every call for `forMs`. */
export type HubspotScriptStep =
  /** 429 with HubSpot's rate-limit body for `policy`; `Retry-After` only when given. */
  | {
      readonly kind: 'rate_limit';
      readonly policy: 'TEN_SECONDLY_ROLLING' | 'DAILY';
      readonly retryAfterSeconds?: number;
      readonly times?: number;
      readonly forMs?: number;
    }
  /** Any status; by default a HubSpot JSON error body, or `body` with `contentType`. */
  | {
      readonly kind: 'http_status';
      readonly status: number;
      readonly body?: string;
      readonly contentType?: string;
      readonly times?: number;
      readonly forMs?: number;
    }
  /** Holds the answer `ms` before handling the call normally (timeouts). */
  | { readonly kind: 'delay'; readonly ms: number; readonly times?: number; readonly forMs?: number }
  /** Destroys the socket without an answer. */
  | { readonly kind: 'drop_connection'; readonly times?: number; readonly forMs?: number };

/** Options of {@link startHubspotFake}. */
export interface HubspotFakeOptions {
  /** The access token the fake accepts. @defaultValue any bearer token */
  readonly token?: string;
  /** Custom contact properties that exist from the start (besides HubSpot's built-ins). */
  readonly properties?: readonly HubspotFakePropertySeed[];
  /**
   * Whether objectWriteTraceId on every input turns a batch with bad inputs into a 207. The error
   * handling guide documents it for batch *create*; `false` models an upsert that ignores it and
   * fails the whole batch with 400 anyway. @defaultValue true
   */
  readonly multiStatus?: boolean;
  /** Property groups that exist from the start (besides `contactinformation`). */
  readonly groups?: readonly string[];
  /**
   * Enforce at most `maxRequests` per rolling `windowMs`; over it: 429 TEN_SECONDLY_ROLLING, with
   * `Retry-After` only when `retryAfterSeconds` is given (HubSpot documents none).
   */
  readonly windowLimit?: { readonly maxRequests: number; readonly windowMs: number; readonly retryAfterSeconds?: number };
  /**
   * The window the rate-limit headers announce when no `windowLimit` is enforced.
   * @defaultValue 100 per 10 000 ms (Free and Starter, per app)
   */
  readonly announcedLimit?: { readonly maxRequests: number; readonly windowMs: number };
  /** The account's time zone, as account-info answers it. @defaultValue 'UTC' */
  readonly timeZone?: string;
}

export interface HubspotFake {
  /** Base path to give the client (`hubspotBaseUrl`). */
  readonly url: string;
  /** Contacts by lower-cased email → their properties. */
  readonly contacts: Map<string, Record<string, string>>;
  readonly calls: HubspotFakeCall[];
  /** Contact properties by name. */
  readonly properties: Map<string, HubspotFakeProperty>;
  readonly groups: Map<string, { name: string; label: string; displayOrder: number }>;
  /** How many 429s the fake has sent (scripted or from the window limit). */
  readonly rateLimited: () => number;
  /** Calls that arrived while the fake's window limit was exhausted (after a 429 said so). */
  readonly callsInFullWindow: () => number;
  script(...steps: HubspotScriptStep[]): void;
  resetScript(): void;
  /**
   * How many times each contact (lower-cased email) was upserted by a call answered 200: a count
   * above 1 means the same upsert went out again (harmless for HubSpot, but countable).
   */
  upsertsByEmail(): Map<string, number>;
  /**
   * Changes the access token the fake accepts from now on (`undefined`: any): a token rotated by the
   * operator, or revoked (every call then answers 401 INVALID_AUTHENTICATION).
   */
  setToken(token: string | undefined): void;
  /** Makes `secondary` an additional email of the contact `primary`: upserting `secondary` then conflicts (409). */
  addSecondaryEmail(primary: string, secondary: string): void;
  close(): Promise<void>;
}

/** HubSpot's built-in contact properties the fake knows (a subset). */
export const HUBSPOT_BUILT_IN_CONTACT_PROPERTIES = [
  'email',
  'firstname',
  'lastname',
  'phone',
  'company',
  'website',
  'lifecyclestage',
  'hs_object_id',
  'createdate',
  'lastmodifieddate',
] as const;

const UPSERT_PATH = '/crm/v3/objects/contacts/batch/upsert';
const BATCH_READ_PATH = '/crm/v3/objects/contacts/batch/read';
const PROPERTIES_PATH = '/crm/v3/properties/contacts';
const GROUPS_PATH = '/crm/v3/properties/contacts/groups';
const ACCOUNT_DETAILS_PATH = '/account-info/v3/details';

/** Built-ins whose value HubSpot sets itself (`modificationMetadata.readOnlyValue: true`). */
const READ_ONLY_VALUES = new Set(['hs_object_id', 'createdate', 'lastmodifieddate']);

// HubSpot checks the RFC 2822 shape and that the domain ends in a real TLD; letters only is close enough.
const EMAIL = /^[^\s@"]+@[^\s@]+\.[A-Za-z]{2,}$/;

interface ActiveStep {
  readonly step: HubspotScriptStep;
  remaining: number;
  until?: number;
}

/** Starts the fake on 127.0.0.1, port 0. */
export async function startHubspotFake(options: HubspotFakeOptions = {}): Promise<HubspotFake> {
  const contacts = new Map<string, Record<string, string>>();
  const contactIds = new Map<string, string>();
  /** Additional email → the primary email of the contact that has it. */
  const secondaryEmails = new Map<string, string>();
  const calls: HubspotFakeCall[] = [];
  const properties = new Map<string, HubspotFakeProperty>();
  let acceptedToken = options.token;
  const groups = new Map<string, { name: string; label: string; displayOrder: number }>();
  let steps: ActiveStep[] = [];
  let rateLimitedCount = 0;
  let nextContactId = 1001;
  const windowHits: number[] = [];
  let callsInFullWindow = 0;
  /** Set by the first 429 of a full window, cleared when the window admits a call again. */
  let isWindowKnownFull = false;
  let dailyUsed = 0;
  const window = options.windowLimit ?? options.announcedLimit ?? { maxRequests: 100, windowMs: 10_000 };
  /** The X-HubSpot-RateLimit-* headers for the window as it stands now. */
  const rateLimitHeaders = (): Record<string, string> => {
    const now = Date.now();
    while (windowHits.length > 0 && now - windowHits[0] >= window.windowMs) windowHits.shift();
    return {
      'x-hubspot-ratelimit-max': String(window.maxRequests),
      'x-hubspot-ratelimit-remaining': String(Math.max(0, window.maxRequests - windowHits.length)),
      'x-hubspot-ratelimit-interval-milliseconds': String(window.windowMs),
      'x-hubspot-ratelimit-daily': '250000',
      'x-hubspot-ratelimit-daily-remaining': String(Math.max(0, 250_000 - dailyUsed)),
    };
  };

  groups.set('contactinformation', { name: 'contactinformation', label: 'Contact information', displayOrder: -1 });
  for (const name of options.groups ?? []) groups.set(name, { name, label: name, displayOrder: -1 });
  for (const seed of [...HUBSPOT_BUILT_IN_CONTACT_PROPERTIES, ...(options.properties ?? [])]) {
    const { name, type = 'string', options: values } = typeof seed === 'string' ? { name: seed } : seed;
    properties.set(name, {
      name,
      label: name,
      type,
      fieldType: type === 'string' ? 'text' : type === 'enumeration' ? 'select' : type === 'datetime' ? 'date' : type === 'bool' ? 'booleancheckbox' : type,
      groupName: 'contactinformation',
      ...(values ? { options: values.map((value) => ({ label: value, value })) } : {}),
    });
  }

  const nextStep = (): HubspotScriptStep | undefined => {
    const now = Date.now();
    while (steps.length > 0) {
      const head = steps[0];
      if (head.step.forMs !== undefined) {
        head.until ??= now + head.step.forMs;
        if (now < head.until) return head.step;
        steps.shift();
        continue;
      }
      if (head.remaining > 0) {
        head.remaining -= 1;
        if (head.remaining === 0) steps.shift();
        return head.step;
      }
      steps.shift();
    }
    return undefined;
  };

  const errorBody = (message: string, category: string, extra: Record<string, unknown> = {}) => ({
    status: 'error',
    message,
    correlationId: randomUUID(),
    category,
    ...extra,
  });

  const rateLimitBody = (policy: 'TEN_SECONDLY_ROLLING' | 'DAILY') => ({
    status: 'error',
    message: policy === 'DAILY' ? 'You have reached your daily limit.' : 'You have reached your ten_secondly_rolling limit.',
    errorType: 'RATE_LIMIT',
    correlationId: randomUUID(),
    policyName: policy,
    groupName: policy === 'DAILY' ? 'publicapi:private-app-api-calls-daily:1' : 'publicapi:private-app-api-calls-ten-secondly:1',
  });

  const handle = async (req: IncomingMessage, rawBody: string): Promise<{ status: number; body: unknown; headers?: Record<string, string>; raw?: { contentType: string; text: string } } | 'drop'> => {
    let step = nextStep();
    while (step?.kind === 'delay') {
      const ms = step.ms;
      await new Promise((resolve) => setTimeout(resolve, ms));
      step = nextStep();
    }
    if (step?.kind === 'drop_connection') return 'drop';
    if (step?.kind === 'rate_limit') {
      rateLimitedCount += 1;
      return {
        status: 429,
        body: rateLimitBody(step.policy),
        headers: step.retryAfterSeconds === undefined ? {} : { 'retry-after': String(step.retryAfterSeconds) },
      };
    }
    if (step?.kind === 'http_status') {
      if (step.body !== undefined) {
        return { status: step.status, body: null, raw: { contentType: step.contentType ?? 'application/json', text: step.body } };
      }
      return { status: step.status, body: defaultErrorBody(step.status, errorBody) };
    }

    const authorization = req.headers.authorization;
    const token = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : null;
    if (!token || (acceptedToken !== undefined && token !== acceptedToken)) {
      return {
        status: 401,
        body: errorBody(
          'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
          'INVALID_AUTHENTICATION',
        ),
      };
    }

    const now = Date.now();
    while (windowHits.length > 0 && now - windowHits[0] >= window.windowMs) windowHits.shift();
    if (options.windowLimit && windowHits.length >= options.windowLimit.maxRequests) {
      rateLimitedCount += 1;
      if (isWindowKnownFull) callsInFullWindow += 1;
      isWindowKnownFull = true;
      return {
        status: 429,
        body: rateLimitBody('TEN_SECONDLY_ROLLING'),
        headers: {
          ...rateLimitHeaders(),
          ...(options.windowLimit.retryAfterSeconds === undefined ? {} : { 'retry-after': String(options.windowLimit.retryAfterSeconds) }),
        },
      };
    }
    windowHits.push(now);
    isWindowKnownFull = false;
    dailyUsed += 1;

    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    let body: unknown;
    try {
      body = rawBody ? JSON.parse(rawBody) : undefined;
    } catch {
      return { status: 400, body: errorBody('Invalid input JSON on line 1', 'VALIDATION_ERROR') };
    }

    if (req.method === 'GET' && path === ACCOUNT_DETAILS_PATH) {
      // GET /account-info/v3/details (developers.hubspot.com/docs/api-reference/latest/account/
      // account-information/get-account-details): every field the reference marks required.
      return {
        status: 200,
        body: {
          portalId: 2519445,
          accountType: 'STANDARD',
          timeZone: options.timeZone ?? 'UTC',
          companyCurrency: 'USD',
          additionalCurrencies: [],
          utcOffset: '+00:00',
          utcOffsetMilliseconds: 0,
          uiDomain: 'app.hubspot.com',
          dataHostingLocation: 'na1',
        },
      };
    }
    if (req.method === 'POST' && path === UPSERT_PATH) return upsert(body);
    if (req.method === 'POST' && path === BATCH_READ_PATH) return batchRead(body);
    if (req.method === 'GET' && path === PROPERTIES_PATH) return { status: 200, body: { results: [...properties.values()].map(describeProperty) } };
    if (req.method === 'POST' && path === PROPERTIES_PATH) return createProperty(body);
    // GET /crm/v3/properties/{objectType}/{propertyName}: one property, or 404 when it does not exist
    // (PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json). The bridge's pause probe.
    if (req.method === 'GET' && path.startsWith(`${PROPERTIES_PATH}/`) && path !== GROUPS_PATH && !path.startsWith(`${GROUPS_PATH}/`)) {
      const property = properties.get(decodeURIComponent(path.slice(PROPERTIES_PATH.length + 1)));
      return property ? { status: 200, body: describeProperty(property) } : { status: 404, body: errorBody('Resource not found', 'OBJECT_NOT_FOUND') };
    }
    if (req.method === 'GET' && path === GROUPS_PATH) {
      return { status: 200, body: { results: [...groups.values()].map((group) => ({ ...group, archived: false })) } };
    }
    if (req.method === 'POST' && path === GROUPS_PATH) return createGroup(body);
    return { status: 404, body: errorBody(`Unable to route ${req.method} request to ${path}`, 'OBJECT_NOT_FOUND') };
  };

  // POST /crm/v3/objects/contacts/batch/upsert, as documented in HubSpot-public-api-spec-collection
  // PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json (200 BatchResponseSimplePublicUpsertObject,
  // 207 BatchResponseSimplePublicUpsertObjectWithErrors, default: Error). Where the documentation
  // is silent the fake takes the less forgiving reading, each noted below.
  const upsert = (body: unknown) => {
    const inputs = (body as { inputs?: unknown } | undefined)?.inputs;
    if (!Array.isArray(inputs) || inputs.length === 0) {
      return { status: 400, body: errorBody('inputs must not be empty', 'VALIDATION_ERROR') };
    }
    if (inputs.length > 100) {
      return { status: 400, body: errorBody(`Batch input size ${inputs.length} exceeds the limit of 100`, 'VALIDATION_ERROR') };
    }
    // Exact match on the id: the documentation does not promise a case-insensitive email match,
    // so `Jane@Example.com` and `jane@example.com` are two ids here (and two contacts).
    const ids = inputs.map((input: { id?: unknown }) => String(input.id));
    const duplicates = ids.filter((id, index) => ids.indexOf(id) !== index);
    if (duplicates.length > 0) {
      return { status: 400, body: errorBody(`Duplicate IDs found in batch input: [${duplicates.join(', ')}]. IDs must be unique`, 'VALIDATION_ERROR') };
    }
    const typed = inputs as Array<{ id?: unknown; idProperty?: unknown; objectWriteTraceId?: unknown; properties?: Record<string, unknown> }>;
    for (const input of typed) {
      if (input.idProperty !== 'email') {
        return { status: 400, body: errorBody(`Unsupported idProperty ${String(input.idProperty)}`, 'VALIDATION_ERROR') };
      }
    }
    // One conflicting contact fails the whole batch with 409, trace ids or not, and the message
    // names the existing record, not the input: `{"status":"error","message":"Contact already
    // exists. Existing ID: 37765128953","category":"CONFLICT"}` (HubSpot/hubspot-api-nodejs#545,
    // stape-io/hubspot-tag#7). Here an id that is another contact's secondary email conflicts.
    for (const input of typed) {
      const owner = secondaryEmails.get(String(input.id));
      if (owner !== undefined) {
        return { status: 409, body: errorBody(`Contact already exists. Existing ID: ${contactIds.get(owner)}`, 'CONFLICT') };
      }
    }
    const problemsByInput = typed.map((input) => inputProblems(input));
    const isMultiStatus = options.multiStatus !== false && typed.every((input) => typeof input.objectWriteTraceId === 'string' && input.objectWriteTraceId !== '');
    const allProblems = problemsByInput.flat();
    // Without an objectWriteTraceId on every input, one bad input fails the whole batch with 400
    // (https://developers.hubspot.com/docs/api-reference/error-handling, "Multi-status errors").
    if (allProblems.length > 0 && !isMultiStatus) {
      return { status: 400, body: errorBody(`Property values were not valid: ${JSON.stringify(allProblems)}`, 'VALIDATION_ERROR') };
    }
    const now = new Date().toISOString();
    const results: Array<Record<string, unknown>> = [];
    const errors: Array<Record<string, unknown>> = [];
    typed.forEach((input, index) => {
      const problems = problemsByInput[index];
      if (problems.length > 0) {
        // 207: the error names its input only through context.objectWriteTraceId.
        errors.push({
          status: 'error',
          category: 'VALIDATION_ERROR',
          message: `Property values were not valid: ${JSON.stringify(problems)}`,
          context: { objectWriteTraceId: [input.objectWriteTraceId] },
          errors: [],
          links: {},
        });
        return;
      }
      const key = String(input.id);
      const isNew = !contacts.has(key);
      if (isNew) contactIds.set(key, String(nextContactId++));
      const id = contactIds.get(key)!;
      const merged: Record<string, string> = { ...(contacts.get(key) ?? { createdate: now }) };
      for (const [name, value] of Object.entries(input.properties ?? {})) {
        // "Properties values can be cleared by passing an empty string"
        // (https://developers.hubspot.com/docs/api-reference/2026-03/crm/objects/contacts/update-contact.md).
        if (value === '') delete merged[name];
        else merged[name] = value as string;
      }
      Object.assign(merged, { email: key, hs_object_id: id, lastmodifieddate: now });
      contacts.set(key, merged);
      results.push({
        id,
        properties: merged,
        createdAt: merged.createdate,
        updatedAt: now,
        archived: false,
        new: isNew,
        ...(typeof input.objectWriteTraceId === 'string' ? { objectWriteTraceId: input.objectWriteTraceId } : {}),
      });
    });
    // HubSpot does not promise results in input order: answer them reversed, so pairing by
    // position fails here.
    results.reverse();
    if (errors.length > 0) {
      return { status: 207, body: { status: 'COMPLETE', results, numErrors: errors.length, errors, startedAt: now, completedAt: now } };
    }
    return { status: 200, body: { status: 'COMPLETE', results, startedAt: now, completedAt: now } };
  };

  // POST /crm/v3/objects/contacts/batch/read, as documented in HubSpot-public-api-spec-collection
  // PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json (BatchReadInputSimplePublicObjectId:
  // `inputs` of `{ id }`, `properties`, `propertiesWithHistory`, `idProperty`; 200
  // BatchResponseSimplePublicObject, 207 BatchResponseSimplePublicObjectWithErrors) and
  // developers.hubspot.com/docs/api-reference/latest/crm/objects/objects/batch/get-objects.
  // Less forgiving readings where the documentation is silent, each noted below.
  const batchRead = (body: unknown) => {
    const input = (body ?? {}) as { inputs?: unknown; properties?: unknown; idProperty?: unknown };
    if (!Array.isArray(input.inputs) || input.inputs.length === 0) {
      return { status: 400, body: errorBody('inputs must not be empty', 'VALIDATION_ERROR') };
    }
    if (input.inputs.length > 100) {
      return { status: 400, body: errorBody(`Batch input size ${input.inputs.length} exceeds the limit of 100`, 'VALIDATION_ERROR') };
    }
    // Without idProperty the ids are record ids; the bridge reads by email only.
    if (input.idProperty !== 'email') {
      return { status: 400, body: errorBody(`Unsupported idProperty ${String(input.idProperty)}`, 'VALIDATION_ERROR') };
    }
    const wanted = Array.isArray(input.properties) ? input.properties.map(String) : [];
    const now = new Date().toISOString();
    const results: Array<Record<string, unknown>> = [];
    const missing: string[] = [];
    for (const entry of input.inputs as Array<{ id?: unknown }>) {
      // Exact match on the id, as for upserts (the documentation promises no case-insensitive match).
      const key = String(entry.id);
      const contact = contacts.get(key);
      if (!contact) {
        missing.push(key);
        continue;
      }
      // "Properties are opt-in on reads": only the requested ones (and hs_object_id, createdate,
      // lastmodifieddate, which every read returns); a requested property with no value is null.
      const shown: Record<string, string | null> = {
        hs_object_id: contact.hs_object_id,
        createdate: contact.createdate,
        lastmodifieddate: contact.lastmodifieddate,
      };
      for (const name of wanted) shown[name] = contact[name] ?? null;
      results.push({ id: contact.hs_object_id, properties: shown, createdAt: contact.createdate, updatedAt: contact.lastmodifieddate, archived: false });
    }
    // Results in no promised order: reversed here, as for upserts.
    results.reverse();
    if (missing.length === 0) return { status: 200, body: { status: 'COMPLETE', results, startedAt: now, completedAt: now } };
    // Ids not found: 207 with one OBJECT_NOT_FOUND error listing them in context.ids, even when
    // none was found (answers quoted in public client tests, e.g. `"message": "Could not get some
    // CONTACT objects, they may be deleted or not exist. Check that ids are valid."`).
    return {
      status: 207,
      body: {
        status: 'COMPLETE',
        results,
        numErrors: 1,
        errors: [
          {
            status: 'error',
            category: 'OBJECT_NOT_FOUND',
            message: 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
            context: { ids: missing },
          },
        ],
        startedAt: now,
        completedAt: now,
      },
    };
  };

  /** What HubSpot's property validation would say about one input (empty when it is valid). */
  const inputProblems = (input: { id?: unknown; properties?: Record<string, unknown> }): Array<Record<string, unknown>> => {
    const problems: Array<Record<string, unknown>> = [];
    const email = String(input.id);
    if (!EMAIL.test(email)) {
      problems.push({ isValid: false, message: `Email address ${email} is invalid`, error: 'INVALID_EMAIL', name: 'email', localizedErrorMessage: `Email address ${email} is invalid` });
    }
    for (const [name, value] of Object.entries(input.properties ?? {})) {
      const property = properties.get(name);
      if (!property) {
        problems.push({ isValid: false, message: `Property "${name}" does not exist`, error: 'PROPERTY_DOESNT_EXIST', name, localizedErrorMessage: `Property "${name}" does not exist` });
      } else if (typeof value !== 'string') {
        problems.push({ isValid: false, message: `${JSON.stringify(value)} is not a valid value for ${name}`, error: 'INVALID_OPTION', name });
      } else if (READ_ONLY_VALUES.has(name)) {
        // modificationMetadata.readOnlyValue (PublicApiSpecs/CRM/Properties/.../properties.json);
        // "Read-only and non-existent properties will result in an error" (update-contact.md).
        problems.push({ isValid: false, message: `${name} is a read only property; its value cannot be set.`, error: 'READ_ONLY_VALUE', name });
      } else if (value !== '') {
        const typeProblem = valueProblem(property, value);
        if (typeProblem) problems.push({ isValid: false, name, ...typeProblem });
      }
    }
    return problems;
  };

  const createProperty = (body: unknown) => {
    const input = (body ?? {}) as Partial<HubspotFakeProperty>;
    if (!input.name || !input.label || !input.type || !input.fieldType || !input.groupName) {
      return { status: 400, body: errorBody('Property name, label, type, fieldType and groupName are required', 'VALIDATION_ERROR') };
    }
    if (properties.has(input.name)) {
      return { status: 409, body: errorBody(`Property already exists`, 'OBJECT_ALREADY_EXISTS') };
    }
    if (!groups.has(input.groupName)) {
      return { status: 400, body: errorBody(`Property group ${input.groupName} does not exist`, 'VALIDATION_ERROR') };
    }
    // "options: A list of valid options for the property. This field is required for enumerated
    // properties." (PropertyCreate, PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json)
    if ((input.type === 'enumeration' || input.type === 'bool') && (!Array.isArray(input.options) || input.options.length === 0)) {
      return { status: 400, body: errorBody(`Property ${input.name} of type ${input.type} needs options`, 'VALIDATION_ERROR') };
    }
    const property: HubspotFakeProperty = {
      name: input.name,
      label: input.label,
      type: input.type,
      fieldType: input.fieldType,
      groupName: input.groupName,
      ...(input.options ? { options: input.options.map((option) => ({ label: option.label, value: option.value })) } : {}),
    };
    properties.set(property.name, property);
    return { status: 201, body: describeProperty(property) };
  };

  const createGroup = (body: unknown) => {
    const input = (body ?? {}) as { name?: string; label?: string; displayOrder?: number };
    if (!input.name || !input.label) return { status: 400, body: errorBody('Group name and label are required', 'VALIDATION_ERROR') };
    if (groups.has(input.name)) return { status: 409, body: errorBody('Property group already exists', 'OBJECT_ALREADY_EXISTS') };
    const group = { name: input.name, label: input.label, displayOrder: input.displayOrder ?? -1 };
    groups.set(group.name, group);
    return { status: 201, body: { ...group, archived: false } };
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const authorization = req.headers.authorization;
      const token = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : null;
      const path = new URL(req.url ?? '/', 'http://fake').pathname;
      handle(req, rawBody)
        .then((answer) => {
          if (answer === 'drop') {
            calls.push({ method: req.method ?? '', path, body: safeParse(rawBody), token, status: 0, at: Date.now() });
            req.socket.destroy();
            return;
          }
          calls.push({ method: req.method ?? '', path, body: safeParse(rawBody), token, status: answer.status, at: Date.now() });
          // Authenticated answers carry the rate-limit headers (a 401 has no account to count for).
          if (answer.status !== 401) answer.headers = { ...rateLimitHeaders(), ...answer.headers };
          if (answer.raw) {
            res.writeHead(answer.status, { 'content-type': answer.raw.contentType, ...answer.headers });
            res.end(answer.raw.text);
            return;
          }
          res.writeHead(answer.status, { 'content-type': 'application/json;charset=utf-8', ...answer.headers });
          res.end(JSON.stringify(answer.body));
        })
        .catch((error: unknown) => {
          if (!res.headersSent) {
            res.writeHead(500, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ status: 'error', message: `fake crashed: ${String(error)}` }));
          }
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    contacts,
    calls,
    properties,
    groups,
    rateLimited: () => rateLimitedCount,
    callsInFullWindow: () => callsInFullWindow,
    script(...newSteps) {
      steps.push(...newSteps.map((step) => ({ step, remaining: step.times ?? 1 })));
    },
    resetScript() {
      steps = [];
    },
    upsertsByEmail() {
      const counts = new Map<string, number>();
      for (const call of calls) {
        if (call.path !== UPSERT_PATH || (call.status !== 200 && call.status !== 207)) continue;
        const inputs = (call.body as { inputs?: Array<{ id?: unknown }> } | undefined)?.inputs ?? [];
        for (const input of inputs) {
          const key = String(input.id);
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
      return counts;
    },
    setToken(token) {
      acceptedToken = token;
    },
    addSecondaryEmail(primary, secondary) {
      if (!contactIds.has(primary)) throw new Error(`no contact ${primary}`);
      secondaryEmails.set(secondary, primary);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Whether a value fits its property's type, as HubSpot's property validation answers it (types:
 * PropertyCreate.type in PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json).
 */
function valueProblem(property: HubspotFakeProperty, value: string): { message: string; error: string } | null {
  switch (property.type) {
    case 'number':
      return /^-?\d+(\.\d+)?(?:[eE][+-]?\d+)?$/.test(value) ? null : { message: `${value} was not a valid number.`, error: 'INVALID_LONG' };
    case 'bool':
      return value === 'true' || value === 'false' ? null : { message: `${value} was not a valid boolean.`, error: 'INVALID_BOOLEAN' };
    case 'datetime':
      return /^\d+$/.test(value) || /^\d{4}-\d{2}-\d{2}T/.test(value) ? null : { message: `${value} was not a valid datetime.`, error: 'INVALID_DATE' };
    case 'enumeration':
      return property.options?.some((option) => option.value === value)
        ? null
        : { message: `${value} was not one of the allowed options: [${(property.options ?? []).map((option) => option.value).join(', ')}]`, error: 'INVALID_OPTION' };
    default:
      return null;
  }
}

function describeProperty(property: HubspotFakeProperty) {
  return {
    ...property,
    description: '',
    options: property.options ?? [],
    displayOrder: -1,
    calculated: false,
    externalOptions: false,
    hasUniqueValue: property.name === 'email',
    hidden: false,
    formField: true,
    createdAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:00.000Z',
    archived: false,
    modificationMetadata: { archivable: true, readOnlyDefinition: false, readOnlyValue: READ_ONLY_VALUES.has(property.name) },
  };
}

function defaultErrorBody(
  status: number,
  errorBody: (message: string, category: string) => Record<string, unknown>,
): Record<string, unknown> {
  if (status === 401) return errorBody('Authentication credentials not found.', 'INVALID_AUTHENTICATION');
  if (status === 403) {
    return errorBody('This app hasn\'t been granted all required scopes to make this call.', 'MISSING_SCOPES');
  }
  if (status === 404) return errorBody('Resource not found', 'OBJECT_NOT_FOUND');
  if (status === 400) return errorBody('Invalid input', 'VALIDATION_ERROR');
  if (status === 409) return errorBody('Contact already exists. Existing ID: 1001', 'CONFLICT');
  return errorBody('internal error', 'INTERNAL_ERROR');
}

function safeParse(raw: string): unknown {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
