import * as yup from 'yup';
import { resolvePropertySpec, writeTypedValue } from './prepare.js';

/**
 * The HubSpot property types a rule may declare (`type:` in the object form). `hubspot
 * setup-properties` creates each as the matching HubSpot type; the action converts rendered text to
 * the wire form that type wants.
 */
export const HUBSPOT_PROPERTY_TYPES = ['string', 'number', 'datetime', 'bool', 'enumeration'] as const;
export type HubspotPropertyType = (typeof HUBSPOT_PROPERTY_TYPES)[number];

/** What an empty rendered value does: `skip` leaves the property out, `clear` sends "" (clears it). */
export const HUBSPOT_WHEN_EMPTY = ['skip', 'clear'] as const;
export type HubspotWhenEmpty = (typeof HUBSPOT_WHEN_EMPTY)[number];

/**
 * When a value is written: `always` (the default) overwrites what the contact holds; `if_empty`
 * writes only to a contact that has no value for the property (a new one, or an empty field), so a
 * delivery that names someone else's email cannot overwrite their name. HubSpot's batch upsert
 * cannot condition on the current value, so the action reads the contacts first (batch read by
 * email); an edit made between that read and the upsert is still overwritten.
 */
export const HUBSPOT_WRITE_MODES = ['always', 'if_empty'] as const;
export type HubspotWriteMode = (typeof HUBSPOT_WRITE_MODES)[number];

/** A property in the object form: `{ value, type, options, when_empty, write }`. */
export interface HubspotPropertySpec {
  value: string | number | boolean;
  /** @defaultValue 'string' */
  type?: HubspotPropertyType;
  /** The allowed internal values of an `enumeration` (required there, refused elsewhere). */
  options?: Array<string | number | boolean>;
  /** @defaultValue 'skip' */
  when_empty?: HubspotWhenEmpty;
  /** @defaultValue 'always' */
  write?: HubspotWriteMode;
}

/** One entry of `properties`: a plain value (template or scalar) or the object form. */
export type HubspotPropertyParam = string | number | boolean | HubspotPropertySpec;

/** Params of `hubspot.upsert_contact`, as written in a rule (strings may hold templates). */
export interface HubspotUpsertContactParams {
  email: string;
  properties?: Record<string, HubspotPropertyParam>;
}

/** HubSpot internal property names: lowercase letters, digits and underscores, starting with a letter. */
export const HUBSPOT_PROPERTY_NAME = /^[a-z][a-z0-9_]*$/;

/**
 * Contact properties whose value HubSpot sets itself: `modificationMetadata.readOnlyValue: true` in
 * GET /crm/v3/properties/contacts (HubSpot-public-api-spec-collection,
 * PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json, PropertyModificationMetadata),
 * and "Read-only and non-existent properties will result in an error"
 * (https://developers.hubspot.com/docs/api-reference/2026-03/crm/objects/contacts/update-contact.md).
 */
export const HUBSPOT_READ_ONLY_CONTACT_PROPERTIES: ReadonlySet<string> = new Set([
  'createdate',
  'hs_object_id',
  'lastmodifieddate',
  'hs_createdate',
  'hs_lastmodifieddate',
]);

/**
 * An address HubSpot accepts as a contact email (surrounding spaces and case do not matter: the
 * action trims and lower-cases it). HubSpot refuses an address without a dotted domain ending in
 * letters (INVALID_EMAIL), such as the obfuscated `[email protected]` a scraped page leaves behind.
 * Letters may be any script's (`Zoë.Ñandú@Exämple.com`): the bridge does not refuse what it
 * cannot show HubSpot refuses.
 * The first alternative lets a template pass at load: its rendered value is checked when planned.
 * The empty alternative leaves the empty case to `min(1)`, which says so exactly.
 * (A `matches` rule, so the planner's fast params check mirrors it without running yup.)
 */
export const HUBSPOT_EMAIL =
  /^(?:|.*(?:\{\{|\{%).*|\s*[^\s@"(),:;<>[\\\]]+@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)*\.\p{L}{2,}\s*)$/su;

const PROPERTY_SPEC_KEYS = ['value', 'type', 'options', 'when_empty', 'write'] as const;

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/**
 * The problem with one `properties` entry, or null. Only names, keys and value types are read,
 * never string contents: a rendered template keeps its shape (see rules/params-check.ts).
 */
function propertyProblem(name: string, value: unknown): string | null {
  if (!HUBSPOT_PROPERTY_NAME.test(name)) return `property name ${name} must be a HubSpot internal name: lowercase letters, digits and _`;
  if (HUBSPOT_READ_ONLY_CONTACT_PROPERTIES.has(name)) return `property ${name} is read-only in HubSpot (HubSpot sets it itself): remove it`;
  if (isScalar(value)) return null;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return `property ${name} must be a string, number, boolean or a mapping with value (and type, options, when_empty, write)`;
  }
  const spec = value as Record<string, unknown>;
  for (const key of Object.keys(spec)) {
    if (!(PROPERTY_SPEC_KEYS as readonly string[]).includes(key)) return `unknown key ${key} in property ${name}: a property takes ${PROPERTY_SPEC_KEYS.join(', ')}`;
  }
  if (!('value' in spec)) return `property ${name} needs value`;
  if (!isScalar(spec.value)) return `property ${name}: value must be a string, number or boolean`;
  if (spec.type !== undefined && !(HUBSPOT_PROPERTY_TYPES as readonly unknown[]).includes(spec.type)) {
    return `property ${name}: type must be one of ${HUBSPOT_PROPERTY_TYPES.join(', ')}`;
  }
  if (spec.when_empty !== undefined && !(HUBSPOT_WHEN_EMPTY as readonly unknown[]).includes(spec.when_empty)) {
    return `property ${name}: when_empty must be skip or clear`;
  }
  if (spec.write !== undefined && !(HUBSPOT_WRITE_MODES as readonly unknown[]).includes(spec.write)) {
    return `property ${name}: write must be always or if_empty`;
  }
  if (spec.type === 'enumeration') {
    if (!Array.isArray(spec.options) || spec.options.length === 0 || !spec.options.every(isScalar)) {
      return `property ${name}: an enumeration needs options, a non-empty list of its internal values`;
    }
  } else if (spec.options !== undefined) {
    return `property ${name}: options belong to type enumeration only`;
  }
  return renderedValueProblem(name, spec as unknown as HubspotPropertySpec);
}

/**
 * A rendered (or literal) typed value that HubSpot would refuse, such as `"12 EUR"` for a number or
 * a value that is not one of an enumeration's options. The planner validates rendered params with
 * this schema, so such a value is a plan error naming the property, not a job that fails after
 * planning. A value that still holds template markup is the rule as loaded, not a rendering: its
 * shape was checked above, its contents are checked once rendered. An empty value is left to
 * `when_empty` (prepare.ts).
 */
function renderedValueProblem(name: string, spec: HubspotPropertySpec): string | null {
  const value = String(spec.value);
  if (spec.type === undefined || spec.type === 'string' || value.trim() === '' || /\{\{|\{%/.test(value)) return null;
  const written = writeTypedValue(resolvePropertySpec(spec));
  return typeof written === 'string' ? null : `property ${name}: ${written.problem}`;
}

/**
 * `properties` for editors, from the same constants `propertyProblem` checks: the rule-file JSON
 * Schema (rules/rule-file-schema.ts) reads it from the schema's meta. Values of typed properties
 * are checked by `check` only (a template's rendering is not known while typing).
 */
const propertiesJsonSchema = {
  type: 'object',
  propertyNames: { pattern: HUBSPOT_PROPERTY_NAME.source, not: { enum: [...HUBSPOT_READ_ONLY_CONTACT_PROPERTIES] } },
  additionalProperties: {
    anyOf: [
      { type: ['string', 'number', 'boolean'] },
      {
        type: 'object',
        additionalProperties: false,
        required: ['value'],
        properties: {
          value: { type: ['string', 'number', 'boolean'] },
          type: { enum: [...HUBSPOT_PROPERTY_TYPES] },
          options: { type: 'array', minItems: 1, items: { type: ['string', 'number', 'boolean'] } },
          when_empty: { enum: [...HUBSPOT_WHEN_EMPTY] },
          write: { enum: [...HUBSPOT_WRITE_MODES] },
        } satisfies Record<(typeof PROPERTY_SPEC_KEYS)[number], unknown>,
        if: { required: ['type'], properties: { type: { const: 'enumeration' } } },
        then: { required: ['options'] },
        else: { not: { required: ['options'] } },
      },
    ],
  },
};

export const hubspotUpsertContactParams: yup.ObjectSchema<HubspotUpsertContactParams> = yup
  .object({
    // defined() rather than required(): required() also rejects "" and would report it twice.
    email: yup
      .string()
      .strict()
      .typeError('email must be a string')
      .defined('email is required')
      .min(1, 'email must not be empty')
      .matches(HUBSPOT_EMAIL, 'email ${value} is not an address HubSpot accepts'),
    properties: yup
      .mixed<Record<string, HubspotPropertyParam>>()
      .test('properties', (value, context) => {
        if (value === undefined) return true;
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          return context.createError({ message: 'properties must be a map of HubSpot property name to value' });
        }
        for (const [name, propertyValue] of Object.entries(value)) {
          const problem = propertyProblem(name, propertyValue);
          if (problem) return context.createError({ message: problem });
        }
        return true;
      })
      .meta({ jsonSchema: propertiesJsonSchema }),
  })
  .strict()
  .noUnknown(({ unknown }) => `unknown key ${String(unknown)}: hubspot.upsert_contact takes email, properties`) as yup.ObjectSchema<HubspotUpsertContactParams>;
