import type * as yup from 'yup';

/*
 * Generates "wrong type in a documented field" deliveries from the payload schemas themselves, so
 * a field added to a schema is covered without editing the hostile-input suite. Works on yup's
 * `describe()` output (plain data), not on yup internals.
 */

/** The parts of yup's SchemaDescription this module reads. */
interface Description {
  readonly type: string;
  readonly optional: boolean;
  readonly nullable: boolean;
  readonly tests: ReadonlyArray<{ readonly name?: string }>;
  readonly fields?: Readonly<Record<string, Description>>;
  readonly innerType?: Description;
}

/** The field builders of src/sources/schema-fields.ts, told apart by type and test name. */
export type FieldKind = 'text' | 'timestamp' | 'integer' | 'decimal' | 'flag' | 'any_object' | 'amounts' | 'count' | 'list' | 'record';

export type PathSegment = string | number;

/** One delivery to build: `path` (inside `part`) holds `wrong`, a value of the wrong type for `kind`. */
export interface WrongTypeCase {
  readonly eventType: string;
  readonly part: 'data' | 'envelope';
  readonly path: readonly PathSegment[];
  readonly kind: FieldKind;
  readonly wrong: unknown;
  /** A value of the right type, for the control payload. */
  readonly right: unknown;
}

export function describeSchema(schema: yup.ISchema<unknown>): Description {
  return (schema as unknown as { describe(): Description }).describe();
}

export function kindOf(description: Description): FieldKind {
  const testNames = description.tests.map((test) => test.name);
  switch (description.type) {
    case 'string':
      return testNames.includes('iso-8601') ? 'timestamp' : 'text';
    case 'number':
      return testNames.includes('integer') ? 'integer' : 'decimal';
    case 'boolean':
      return 'flag';
    case 'array':
      return 'list';
    case 'object':
      return 'record';
    case 'mixed':
      if (testNames.includes('object')) return 'any_object';
      if (testNames.includes('amounts-by-unit')) return 'amounts';
      if (testNames.includes('count')) return 'count';
  }
  throw new Error(`schema-cases: no kind for a ${description.type} field with tests ${testNames.join(', ')}`);
}

/**
 * The wrong value per kind: the mistake a sender plausibly makes (a number sent as a string, a
 * string where an object belongs). Schemas check strictly, so none of these is coerced.
 */
const WRONG: Readonly<Record<FieldKind, unknown>> = {
  text: 12,
  timestamp: 1727963120,
  integer: '12',
  decimal: '1.5',
  flag: 'true',
  any_object: 'not an object',
  amounts: 'not an object',
  count: true,
  list: 'not a list',
  record: 'not an object',
};

/** A valid value of the field (a record: its required fields only). */
export function rightValue(description: Description): unknown {
  switch (kindOf(description)) {
    case 'text':
      return 'text';
    case 'timestamp':
      return '2024-10-03T13:45:20.103Z';
    case 'integer':
      return 7;
    case 'decimal':
      return 7.5;
    case 'flag':
      return true;
    case 'any_object':
      return {};
    case 'amounts':
      return { cash: 100 };
    case 'count':
      return 3;
    case 'list':
      return [];
    case 'record':
      return minimalRecord(description);
  }
}

/** A record with its required fields filled in with valid values. */
export function minimalRecord(description: Description): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(description.fields ?? {})) {
    if (!field.optional) record[name] = rightValue(field);
  }
  return record;
}

/**
 * One case per documented field of each distinct record definition reachable from `schema`
 * (records nested in lists included, at index 0). A definition met again (the same promoter record
 * under another event type) is not repeated: `seen` holds the signatures already covered.
 */
export function listWrongTypeCases(
  eventType: string,
  part: WrongTypeCase['part'],
  schema: yup.ISchema<unknown>,
  seen: Set<string>,
): WrongTypeCase[] {
  const cases: WrongTypeCase[] = [];
  const walk = (description: Description, path: PathSegment[]) => {
    // Nullability and defaults differ between uses of one definition; its fields make it what it is.
    const signature = JSON.stringify({ fields: description.fields, tests: description.tests });
    if (seen.has(signature)) return;
    seen.add(signature);
    for (const [name, field] of Object.entries(description.fields ?? {})) {
      const kind = kindOf(field);
      cases.push({ eventType, part, path: [...path, name], kind, wrong: WRONG[kind], right: rightValue(field) });
      if (kind === 'record') walk(field, [...path, name]);
      if (kind === 'list' && field.innerType && kindOf(field.innerType) === 'record') walk(field.innerType, [...path, name, 0]);
    }
  };
  walk(describeSchema(schema), []);
  return cases;
}

/**
 * Sets `path` in `root` to `value`, creating what is missing on the way as valid minimal records
 * (a list gets one minimal element), so the only problem in the result is the value set.
 */
export function setPath(root: Record<string, unknown>, schema: yup.ISchema<unknown>, path: readonly PathSegment[], value: unknown): void {
  let container: Record<string, unknown> | unknown[] = root;
  let description = describeSchema(schema);
  for (let index = 0; index < path.length - 1; index += 1) {
    const segment = path[index];
    const next = path[index + 1];
    const childDescription: Description =
      typeof segment === 'number' ? description.innerType! : description.fields![segment as string];
    const current = (container as Record<PathSegment, unknown>)[segment];
    if (typeof next === 'number') {
      if (!Array.isArray(current) || current.length === 0) {
        (container as Record<PathSegment, unknown>)[segment] = [minimalRecord(childDescription.innerType!)];
      }
    } else if (current === null || typeof current !== 'object' || Array.isArray(current)) {
      (container as Record<PathSegment, unknown>)[segment] = minimalRecord(childDescription);
    }
    container = (container as Record<PathSegment, unknown>)[segment] as Record<string, unknown> | unknown[];
    description = childDescription;
  }
  (container as Record<PathSegment, unknown>)[path[path.length - 1]] = value;
}

/** `promoter.promotions[0].current_offer.name` */
export function formatPath(part: string, path: readonly PathSegment[]): string {
  return path.reduce<string>((text, segment) => (typeof segment === 'number' ? `${text}[${segment}]` : `${text}.${segment}`), part);
}
