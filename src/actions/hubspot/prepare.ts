import type { HubspotPropertyParam, HubspotPropertySpec, HubspotPropertyType, HubspotUpsertContactParams, HubspotWriteMode } from './params.js';

/**
 * The contact email as the bridge sends it: trimmed and lower-cased. HubSpot's documentation does
 * not promise a case-insensitive match on `idProperty: email`, so `Jane.Doe@Example.COM` and
 * `jane.doe@example.com` must arrive as one id to be one contact.
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** One property's declaration, the plain form filled in with the defaults. */
export interface ResolvedPropertySpec {
  readonly value: string;
  readonly type: HubspotPropertyType;
  readonly options?: readonly string[];
  readonly whenEmpty: 'skip' | 'clear';
  readonly write: HubspotWriteMode;
}

/** The declaration of one `properties` entry (plain string/number/bool = string, skip when empty). */
export function resolvePropertySpec(param: HubspotPropertyParam): ResolvedPropertySpec {
  if (typeof param !== 'object' || param === null) return { value: String(param), type: 'string', whenEmpty: 'skip', write: 'always' };
  const spec = param as HubspotPropertySpec;
  return {
    value: String(spec.value),
    type: spec.type ?? 'string',
    ...(spec.options ? { options: spec.options.map(String) } : {}),
    whenEmpty: spec.when_empty ?? 'skip',
    write: spec.write ?? 'always',
  };
}

/** What the action sends for one upsert, and what it did to the rendered params on the way. */
export interface PreparedUpsert {
  /** The normalized email: the upsert id and the batcher's merge key. */
  readonly email: string;
  /** Property values in HubSpot's wire form (strings); left-out properties are absent. */
  readonly properties: Record<string, string>;
  /** Properties left out because they rendered empty and may not clear (`when_empty: skip`). */
  readonly omitted: readonly string[];
  /** Properties a typed value could not be written as: `name: reason`. Sending would be refused. */
  readonly invalid: readonly string[];
  /** Properties in `properties` written only to a contact that has no value for them (`write: if_empty`). */
  readonly writeIfEmpty: readonly string[];
  /** Human-readable lines for `simulate`, the trace and the result detail. */
  readonly notes: readonly string[];
}

/**
 * Turns rendered params into the upsert input. Pure.
 * - The email is trimmed and lower-cased.
 * - An empty value (after trimming) is left out unless the property says `when_empty: clear`:
 *   HubSpot clears a property sent as "" ("Properties values can be cleared by passing an empty
 *   string", https://developers.hubspot.com/docs/api-reference/2026-03/crm/objects/contacts/update-contact.md),
 *   so a template over a missing or null field must not reach it as "".
 * - Typed values are written in the form HubSpot's property types take (number without spaces,
 *   datetime as ISO 8601 UTC, bool as true/false, enumeration as one of its options). HubSpot
 *   refuses leading or trailing spaces on non-string properties (changelog "enhanced validations
 *   for non-string properties", April 2025), so they are trimmed.
 */
export function prepareUpsert(params: HubspotUpsertContactParams): PreparedUpsert {
  const email = normalizeEmail(params.email);
  const properties: Record<string, string> = {};
  const omitted: string[] = [];
  const invalid: string[] = [];
  const writeIfEmpty: string[] = [];
  const notes: string[] = [];
  if (email !== params.email) notes.push(`email sent as ${email} (trimmed, lower-cased; rendered ${JSON.stringify(params.email)})`);
  for (const [name, param] of Object.entries(params.properties ?? {})) {
    const spec = resolvePropertySpec(param);
    if (spec.value.trim() === '') {
      if (spec.whenEmpty === 'clear') {
        properties[name] = '';
        if (spec.write === 'if_empty') writeIfEmpty.push(name);
        notes.push(`property ${name} cleared: it rendered empty and says when_empty: clear`);
      } else {
        omitted.push(name);
        notes.push(`property ${name} left out: it rendered empty, and an empty value would clear it in HubSpot (when_empty: clear does that on purpose)`);
      }
      continue;
    }
    const written = writeTypedValue(spec);
    if (typeof written === 'string') {
      properties[name] = written;
      if (spec.write === 'if_empty') {
        writeIfEmpty.push(name);
        notes.push(`property ${name} written only if the contact has no value for it (write: if_empty; the contact is read first)`);
      }
    } else {
      invalid.push(`${name}: ${written.problem}`);
      notes.push(`property ${name} cannot be sent: ${written.problem}`);
    }
  }
  return { email, properties, omitted, invalid, writeIfEmpty, notes };
}

/** The wire form of a non-empty value, or why it has none. */
export function writeTypedValue(spec: ResolvedPropertySpec): string | { problem: string } {
  const text = spec.value.trim();
  switch (spec.type) {
    case 'string':
      return spec.value;
    case 'number':
      return /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(text) ? String(Number(text)) : { problem: `${JSON.stringify(spec.value)} is not a number` };
    case 'bool': {
      const lowered = text.toLowerCase();
      if (['true', 'yes', '1'].includes(lowered)) return 'true';
      if (['false', 'no', '0'].includes(lowered)) return 'false';
      return { problem: `${JSON.stringify(spec.value)} is not true or false` };
    }
    case 'datetime': {
      // Epoch milliseconds pass as they are; anything else must be a date Date.parse reads (ISO 8601).
      if (/^\d{10,}$/.test(text)) return text;
      const time = Date.parse(text);
      return Number.isFinite(time) ? new Date(time).toISOString() : { problem: `${JSON.stringify(spec.value)} is not a date and time (ISO 8601 or epoch milliseconds)` };
    }
    case 'enumeration':
      return spec.options?.includes(text) ? text : { problem: `${JSON.stringify(spec.value)} is not one of its options (${(spec.options ?? []).join(', ')})` };
  }
}
