import * as yup from 'yup';

/*
 * yup field builders shared by the provider schemas. Every message names the path and never the
 * value: yup's default type errors quote the value (`…but the final value was: "jane@…"`), and
 * these messages are stored with quarantined events and shown to operators. Schemas are used with
 * `strict: true` (see `checkPayload`), so nothing is coerced: "200" is not a number.
 */

// yup schemas are immutable (`.nullable()`, `.required()` return new schemas), so the field
// types below are shared constants.

/** A whole number: ids, counts, and amounts in the currency's smallest unit (cents). */
export const integer = yup.number().typeError('${path} must be a number').integer('${path} must be an integer');

/** A number that may have a fraction: percentages, discount amounts. */
export const decimal = yup.number().typeError('${path} must be a number');

/** A string. Email fields are plain strings: provider examples hold `[email protected]`. */
export const text = yup.string().typeError('${path} must be a string');

/** `true` or `false`. */
export const flag = yup.boolean().typeError('${path} must be a boolean');

/** An ISO 8601 date or date-time string (`2024-10-03T13:45:20.103Z`, `2024-10-03`). */
export const timestamp = yup
  .string()
  .typeError('${path} must be an ISO 8601 timestamp')
  .test('iso-8601', '${path} must be an ISO 8601 timestamp', (value) => value == null || isIsoDateOrDateTime(value))
  // Rule conditions compare it as a CEL timestamp (rules/scope-types.ts reads this).
  .meta({ celType: 'timestamp' });

/** An object whose contents are not described (custom fields, change sets). Null allowed. */
export const anyObject = yup
  .mixed<Record<string, unknown>>()
  .test('object', '${path} must be an object', (value) => value == null || isJsonObject(value))
  .meta({ celType: 'map<string, dyn>' })
  .nullable();

/** Defines an object with these documented fields; other fields are allowed (providers add fields). */
export function defineRecord<S extends yup.ObjectShape>(shape: S) {
  return yup.object(shape).typeError('${path} must be an object');
}

/** Defines an array whose every item matches `of`. */
export function defineList<T extends yup.ISchema<unknown>>(of: T) {
  return yup.array(of).typeError('${path} must be an array');
}

/**
 * A balance broken down by unit, e.g. `{ "cash": 50744, "free_months": 3 }`: whole amounts in each
 * unit's smallest denomination. Null when the promoter has none.
 */
export const amountsByUnit = yup
  .mixed<Record<string, number>>()
  .test(
    'amounts-by-unit',
    '${path} must be an object of whole amounts by unit',
    (value) => value == null || (isJsonObject(value) && Object.values(value).every((amount) => Number.isSafeInteger(amount))),
  )
  .meta({ celType: 'map<string, int>' })
  .nullable();

/**
 * A non-negative count that some documents type as a string of digits (`"12"`) and others as a
 * number. Null allowed.
 */
export const countLike = yup
  .mixed<number | string>()
  .test(
    'count',
    '${path} must be a whole number',
    (value) =>
      value == null ||
      (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) ||
      (typeof value === 'string' && /^[0-9]{1,15}$/.test(value)),
  )
  .nullable();

/** Most problems listed on one event; the rest are counted. */
export const MAX_LISTED_PROBLEMS = 20;

// Wrapping a schema under a named key makes yup's messages carry that prefix (`data.amount must be
// an integer`), which is where the field lives in the stored event. Cached per schema.
const wrappedSchemas = new Map<string, WeakMap<yup.ISchema<unknown>, yup.ObjectSchema<yup.AnyObject>>>();

/**
 * Checks `value` against `schema` strictly (no coercion) and collects every problem.
 * @param prefix the value's place in the stored event, e.g. `data` or `envelope`.
 * @returns yup's messages with paths (`data.amount must be an integer`), never field values; empty
 *   when the value is valid.
 */
export function checkPayload(schema: yup.ISchema<unknown>, value: unknown, prefix: string): string[] {
  let byPrefix = wrappedSchemas.get(prefix);
  if (!byPrefix) {
    byPrefix = new WeakMap();
    wrappedSchemas.set(prefix, byPrefix);
  }
  let wrapped = byPrefix.get(schema);
  if (!wrapped) {
    wrapped = yup.object({ [prefix]: schema as yup.AnySchema });
    byPrefix.set(schema, wrapped);
  }
  try {
    wrapped.validateSync({ [prefix]: value }, { strict: true, abortEarly: false });
    return [];
  } catch (error) {
    if (error instanceof yup.ValidationError) return error.errors;
    throw error;
  }
}

/** A plain JSON object: not null, not an array. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const ISO_DATE_OR_DATE_TIME =
  /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

const ISO_DATE_TIME_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)$/;

function isIsoDateOrDateTime(value: string): boolean {
  return ISO_DATE_OR_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value));
}

/**
 * Reads an envelope timestamp: an ISO 8601 date-time with a zone (`Z` or an offset). A time without
 * a zone is refused, as it would be read in the server's local zone.
 * @returns the instant as `toISOString()` (UTC, milliseconds), or null when unreadable.
 */
export function readIsoInstant(value: unknown): string | null {
  if (typeof value !== 'string' || !ISO_DATE_TIME_WITH_ZONE.test(value)) return null;
  const time = Date.parse(value);
  return Number.isNaN(time) ? null : new Date(time).toISOString();
}
