import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HubSpot CRM API speaking the real wire format of the endpoints the bridge uses:
 * - `POST /crm/v3/objects/contacts/batch/upsert` (`idProperty: "email"`): validates like HubSpot
 *   (unknown property → 400 PROPERTY_DOESNT_EXIST, bad email → 400 INVALID_EMAIL, duplicate ids →
 *   400), answers 200 `{ status: "COMPLETE", results: [{ id, properties, new, ... }], ... }`;
 * - `GET/POST /crm/v3/properties/contacts` and `GET/POST /crm/v3/properties/contacts/groups`;
 * - bearer auth; errors as `{ status: "error", message, correlationId, category }`; rate limits as
 *   429 `{ status: "error", message, errorType: "RATE_LIMIT", policyName, ... }`.
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
}

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
  readonly properties?: readonly string[];
  /** Property groups that exist from the start (besides `contactinformation`). */
  readonly groups?: readonly string[];
  /** Enforce at most `maxRequests` per rolling `windowMs`; over it: 429 TEN_SECONDLY_ROLLING. */
  readonly windowLimit?: { readonly maxRequests: number; readonly windowMs: number; readonly retryAfterSeconds?: number };
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
  script(...steps: HubspotScriptStep[]): void;
  resetScript(): void;
  /**
   * How many times each contact (lower-cased email) was upserted by a call answered 200: a count
   * above 1 means the same upsert went out again (harmless for HubSpot, but countable).
   */
  upsertsByEmail(): Map<string, number>;
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
const PROPERTIES_PATH = '/crm/v3/properties/contacts';
const GROUPS_PATH = '/crm/v3/properties/contacts/groups';

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
  const calls: HubspotFakeCall[] = [];
  const properties = new Map<string, HubspotFakeProperty>();
  const groups = new Map<string, { name: string; label: string; displayOrder: number }>();
  let steps: ActiveStep[] = [];
  let rateLimitedCount = 0;
  let nextContactId = 1001;
  const windowHits: number[] = [];

  groups.set('contactinformation', { name: 'contactinformation', label: 'Contact information', displayOrder: -1 });
  for (const name of options.groups ?? []) groups.set(name, { name, label: name, displayOrder: -1 });
  for (const name of [...HUBSPOT_BUILT_IN_CONTACT_PROPERTIES, ...(options.properties ?? [])]) {
    properties.set(name, { name, label: name, type: 'string', fieldType: 'text', groupName: 'contactinformation' });
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
    if (!token || (options.token !== undefined && token !== options.token)) {
      return {
        status: 401,
        body: errorBody(
          'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
          'INVALID_AUTHENTICATION',
        ),
      };
    }

    if (options.windowLimit) {
      const now = Date.now();
      while (windowHits.length > 0 && now - windowHits[0] >= options.windowLimit.windowMs) windowHits.shift();
      if (windowHits.length >= options.windowLimit.maxRequests) {
        rateLimitedCount += 1;
        return {
          status: 429,
          body: rateLimitBody('TEN_SECONDLY_ROLLING'),
          headers: { 'retry-after': String(options.windowLimit.retryAfterSeconds ?? 1) },
        };
      }
      windowHits.push(now);
    }

    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    let body: unknown;
    try {
      body = rawBody ? JSON.parse(rawBody) : undefined;
    } catch {
      return { status: 400, body: errorBody('Invalid input JSON on line 1', 'VALIDATION_ERROR') };
    }

    if (req.method === 'POST' && path === UPSERT_PATH) return upsert(body);
    if (req.method === 'GET' && path === PROPERTIES_PATH) return { status: 200, body: { results: [...properties.values()].map(describeProperty) } };
    if (req.method === 'POST' && path === PROPERTIES_PATH) return createProperty(body);
    if (req.method === 'GET' && path === GROUPS_PATH) {
      return { status: 200, body: { results: [...groups.values()].map((group) => ({ ...group, archived: false })) } };
    }
    if (req.method === 'POST' && path === GROUPS_PATH) return createGroup(body);
    return { status: 404, body: errorBody(`Unable to route ${req.method} request to ${path}`, 'OBJECT_NOT_FOUND') };
  };

  const upsert = (body: unknown) => {
    const inputs = (body as { inputs?: unknown } | undefined)?.inputs;
    if (!Array.isArray(inputs) || inputs.length === 0) {
      return { status: 400, body: errorBody('inputs must not be empty', 'VALIDATION_ERROR') };
    }
    if (inputs.length > 100) {
      return { status: 400, body: errorBody(`Batch input size ${inputs.length} exceeds the limit of 100`, 'VALIDATION_ERROR') };
    }
    const ids = inputs.map((input: { id?: unknown }) => String(input.id).toLowerCase());
    const duplicates = ids.filter((id, index) => ids.indexOf(id) !== index);
    if (duplicates.length > 0) {
      return { status: 400, body: errorBody(`Duplicate IDs found in batch input: [${duplicates.join(', ')}]. IDs must be unique`, 'VALIDATION_ERROR') };
    }
    const problems: Array<Record<string, unknown>> = [];
    for (const input of inputs as Array<{ id?: unknown; idProperty?: unknown; properties?: Record<string, unknown> }>) {
      if (input.idProperty !== 'email') {
        return { status: 400, body: errorBody(`Unsupported idProperty ${String(input.idProperty)}`, 'VALIDATION_ERROR') };
      }
      const email = String(input.id);
      if (!EMAIL.test(email)) {
        problems.push({ isValid: false, message: `Email address ${email} is invalid`, error: 'INVALID_EMAIL', name: 'email', localizedErrorMessage: `Email address ${email} is invalid` });
      }
      for (const [name, value] of Object.entries(input.properties ?? {})) {
        if (!properties.has(name)) {
          problems.push({ isValid: false, message: `Property "${name}" does not exist`, error: 'PROPERTY_DOESNT_EXIST', name, localizedErrorMessage: `Property "${name}" does not exist` });
        } else if (typeof value !== 'string') {
          problems.push({ isValid: false, message: `${JSON.stringify(value)} is not a valid value for ${name}`, error: 'INVALID_OPTION', name });
        }
      }
    }
    if (problems.length > 0) {
      return { status: 400, body: errorBody(`Property values were not valid: ${JSON.stringify(problems)}`, 'VALIDATION_ERROR') };
    }
    const now = new Date().toISOString();
    const results = (inputs as Array<{ id: string; properties?: Record<string, string> }>).map((input) => {
      const key = input.id.toLowerCase();
      const isNew = !contacts.has(key);
      if (isNew) contactIds.set(key, String(nextContactId++));
      const id = contactIds.get(key)!;
      const merged: Record<string, string> = { ...(contacts.get(key) ?? { createdate: now }), ...(input.properties ?? {}), email: key, hs_object_id: id, lastmodifieddate: now };
      contacts.set(key, merged);
      return { id, properties: merged, createdAt: merged.createdate, updatedAt: now, archived: false, new: isNew };
    });
    return { status: 200, body: { status: 'COMPLETE', results, startedAt: now, completedAt: now } };
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
    const property: HubspotFakeProperty = { name: input.name, label: input.label, type: input.type, fieldType: input.fieldType, groupName: input.groupName };
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
    script(...newSteps) {
      steps.push(...newSteps.map((step) => ({ step, remaining: step.times ?? 1 })));
    },
    resetScript() {
      steps = [];
    },
    upsertsByEmail() {
      const counts = new Map<string, number>();
      for (const call of calls) {
        if (call.path !== UPSERT_PATH || call.status !== 200) continue;
        const inputs = (call.body as { inputs?: Array<{ id?: unknown }> } | undefined)?.inputs ?? [];
        for (const input of inputs) {
          const key = String(input.id).toLowerCase();
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
      return counts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function describeProperty(property: HubspotFakeProperty) {
  return {
    ...property,
    description: '',
    options: [],
    displayOrder: -1,
    calculated: false,
    externalOptions: false,
    hasUniqueValue: property.name === 'email',
    hidden: false,
    formField: true,
    createdAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:00.000Z',
    archived: false,
    modificationMetadata: { archivable: true, readOnlyDefinition: false, readOnlyValue: false },
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
