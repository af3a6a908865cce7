import type * as yup from 'yup';

/*
 * The type of every field a rule can reach, derived from the yup schemas that already validate
 * events (src/sources/<provider>/schemas.ts, src/events/event.ts). One derivation serves the CEL
 * type checker (conditions), the template field check and the run-time conversion of values to the
 * declared CEL types, so the three can never disagree.
 *
 * How a yup schema maps to CEL:
 * - `number` with yup's `integer` test: `int` (ids, counts, amounts in minor units), handed to CEL
 *   as a BigInt; any other `number`: `double`.
 * - `string`: `string`; `boolean`: `bool`; `date`: `timestamp`.
 * - `object` with fields: a message type with exactly those fields; `array`: `list<T>`.
 * - `mixed` (and anything else): `dyn`, read with CEL's JSON mapping (numbers are doubles).
 * - A schema's `meta({ celType })` overrides the above: `timestamp` for ISO 8601 strings,
 *   `map<string, int>` for an object of whole amounts, `map<string, dyn>` for an open object.
 */

/** The CEL types a leaf field can have. */
export type CelScalar = 'string' | 'int' | 'double' | 'bool' | 'timestamp' | 'dyn';

/** A field's derived type. `isNullable`: the schema allows `null` (a present field holding null). */
export type FieldType =
  | { readonly kind: 'scalar'; readonly cel: CelScalar; readonly isNullable: boolean }
  | {
      readonly kind: 'object';
      /** The CEL message type's name, unique in one scope: `Promoter`, `Promoter2`. */
      readonly name: string;
      readonly fields: Readonly<Record<string, FieldType>>;
      readonly isNullable: boolean;
    }
  | { readonly kind: 'list'; readonly item: FieldType; readonly isNullable: boolean }
  | { readonly kind: 'map'; readonly value: FieldType; readonly isNullable: boolean };

/** The key of yup's `meta()` that sets a schema's CEL type explicitly. */
export const CEL_TYPE_META = 'celType';

/** `meta({ celType })` values the derivation understands. */
export type CelTypeHint = 'timestamp' | 'map<string, int>' | 'map<string, dyn>' | 'dyn';

/** The parts of a yup schema the derivation reads (yup 1.x: `spec`, `tests`, `fields`, `innerType`). */
interface SchemaInternals {
  readonly type: string;
  readonly spec: { readonly nullable?: boolean; readonly meta?: Record<string, unknown> };
  readonly tests: readonly { readonly OPTIONS?: { readonly name?: string } }[];
  readonly fields?: Record<string, yup.ISchema<unknown>>;
  readonly innerType?: yup.ISchema<unknown>;
}

/**
 * Gives object types readable, unique names within one scope (one schema object, one name), and
 * derives each schema once: `event.data` and `data` are the same schema.
 */
export class TypeNamer {
  private readonly bySchema = new Map<unknown, string>();
  private readonly used = new Set<string>();
  /** Derived types by schema and hint. */
  readonly derived = new Map<unknown, FieldType>();

  nameFor(schema: unknown, hint: string): string {
    const known = this.bySchema.get(schema);
    if (known !== undefined) return known;
    const base = pascalCase(hint) || 'Object';
    let name = base;
    for (let n = 2; this.used.has(name) || RESERVED_TYPE_NAMES.has(name); n += 1) name = `${base}${n}`;
    this.used.add(name);
    this.bySchema.set(schema, name);
    return name;
  }
}

// CEL's own type names and the names cel-js registers itself: a message type may not take them.
const RESERVED_TYPE_NAMES = new Set(['Map', 'List', 'Type', 'Optional', 'Null', 'Bool', 'Int', 'Uint', 'Double', 'String', 'Bytes', 'Timestamp', 'Duration', 'Dyn']);

/**
 * Derives the type of `schema` (a yup schema), recursively.
 * @param hint the field's name, for the message type's name (`promoter` → `Promoter`).
 */
export function deriveFieldType(schema: yup.ISchema<unknown>, hint: string, namer: TypeNamer): FieldType {
  const cached = namer.derived.get(schema);
  if (cached !== undefined) return cached;
  const derived = deriveUncached(schema as unknown as SchemaInternals, hint, namer);
  namer.derived.set(schema, derived);
  return derived;
}

function deriveUncached(schema: SchemaInternals, hint: string, namer: TypeNamer): FieldType {
  const isNullable = schema.spec.nullable === true;
  const hinted = schema.spec.meta?.[CEL_TYPE_META] as CelTypeHint | undefined;
  switch (hinted) {
    case 'timestamp':
    case 'dyn':
      return { kind: 'scalar', cel: hinted, isNullable };
    case 'map<string, int>':
      return { kind: 'map', value: { kind: 'scalar', cel: 'int', isNullable: false }, isNullable };
    case 'map<string, dyn>':
      return { kind: 'map', value: DYN, isNullable };
  }
  switch (schema.type) {
    case 'number':
      return { kind: 'scalar', cel: schema.tests.some((test) => test.OPTIONS?.name === 'integer') ? 'int' : 'double', isNullable };
    case 'string':
      return { kind: 'scalar', cel: 'string', isNullable };
    case 'boolean':
      return { kind: 'scalar', cel: 'bool', isNullable };
    case 'date':
      return { kind: 'scalar', cel: 'timestamp', isNullable };
    case 'array':
      return { kind: 'list', item: schema.innerType ? deriveFieldType(schema.innerType, singular(hint), namer) : DYN, isNullable };
    case 'object': {
      // `.nullable()` clones a schema but shares its fields: one name for both.
      const name = namer.nameFor(schema.fields ?? schema, hint);
      const fields: Record<string, FieldType> = {};
      for (const [key, field] of Object.entries(schema.fields ?? {})) fields[key] = deriveFieldType(field, key, namer);
      return { kind: 'object', name, fields, isNullable };
    }
    default:
      return { kind: 'scalar', cel: 'dyn', isNullable: true };
  }
}

/** An undescribed value: CEL's `dyn`. */
export const DYN: FieldType = Object.freeze({ kind: 'scalar', cel: 'dyn', isNullable: true });

/** The CEL type string of a field: `int`, `list<Promotion>`, `map<string, dyn>`, `Promoter`. */
export function celTypeOf(type: FieldType): string {
  switch (type.kind) {
    case 'scalar':
      // cel-js names the type of its timestamp() values by the protobuf name; `timestamp` alone
      // would declare a different, unrelated type.
      return type.cel === 'timestamp' ? 'google.protobuf.Timestamp' : type.cel;
    case 'object':
      return type.name;
    case 'list':
      return `list<${celTypeOf(type.item)}>`;
    case 'map':
      return `map<string, ${celTypeOf(type.value)}>`;
  }
}

/** Every object type inside `type` (itself included), each once, inner ones first. */
export function collectObjectTypes(type: FieldType, into: Map<string, Extract<FieldType, { kind: 'object' }>> = new Map()): Map<string, Extract<FieldType, { kind: 'object' }>> {
  switch (type.kind) {
    case 'object':
      if (into.has(type.name)) return into;
      for (const field of Object.values(type.fields)) collectObjectTypes(field, into);
      into.set(type.name, type);
      return into;
    case 'list':
      return collectObjectTypes(type.item, into);
    case 'map':
      return collectObjectTypes(type.value, into);
    case 'scalar':
      return into;
  }
}

/** Stored payloads nest at most 32 levels (sources/build-event.ts); this bound is a second guard. */
const MAX_CEL_DEPTH = 64;

/**
 * A copy of `value` in the CEL types `type` declares: whole numbers of `int` fields as BigInt,
 * ISO 8601 strings of `timestamp` fields as Date, objects as Maps (which CEL reads whatever their
 * keys, `constructor` included). A value that does not have its declared type (a replayed
 * quarantined event) is passed as CEL's JSON mapping would read it, so the condition fails with
 * cel-js's own error instead of being coerced. Fields the schema does not list follow CEL's JSON
 * mapping: numbers are doubles.
 */
export function toCelValue(value: unknown, type: FieldType = DYN, depth = 0): unknown {
  if (value === null || value === undefined || depth > MAX_CEL_DEPTH) return value;
  switch (type.kind) {
    case 'scalar':
      if (type.cel === 'int') return typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : toCelValue(value, DYN, depth);
      if (type.cel === 'timestamp') return typeof value === 'string' ? toTimestamp(value) : toCelValue(value, DYN, depth);
      if (type.cel === 'dyn' && typeof value === 'object') return toJsonCelValue(value, depth);
      return typeof value === 'object' ? toJsonCelValue(value, depth) : value;
    case 'list':
      return Array.isArray(value) ? value.map((item) => toCelValue(item, type.item, depth + 1)) : toJsonCelValue(value, depth);
    case 'map':
      if (typeof value !== 'object' || Array.isArray(value)) return toJsonCelValue(value, depth);
      return new Map(Object.entries(value).map(([key, item]) => [key, toCelValue(item, type.value, depth + 1)]));
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return toJsonCelValue(value, depth);
      const fields = type.fields;
      return new Map(
        Object.entries(value).map(([key, item]) => [key, toCelValue(item, Object.hasOwn(fields, key) ? fields[key] : DYN, depth + 1)]),
      );
    }
  }
}

function toJsonCelValue(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_CEL_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => toJsonCelValue(item, depth + 1));
  return new Map(Object.entries(value).map(([key, item]) => [key, toJsonCelValue(item, depth + 1)]));
}

function toTimestamp(value: string): Date | string {
  const time = Date.parse(value);
  return Number.isNaN(time) ? value : new Date(time);
}

/**
 * The type at a dotted path below `root` (`['promoter', 'email']`), or why there is none.
 * `first`, `last` and `size` are Liquid's own properties of lists (and `size` of maps and text).
 */
export function resolveFieldPath(
  root: FieldType,
  path: readonly (string | number)[],
  options: { readonly liquidProperties: boolean },
): { readonly type: FieldType } | { readonly unknownAt: number; readonly known: readonly string[] } {
  let type = root;
  for (let i = 0; i < path.length; i += 1) {
    const segment = path[i];
    if (type.kind === 'scalar') {
      if (type.cel === 'dyn') return { type: DYN };
      if (options.liquidProperties && segment === 'size' && type.cel === 'string') return { type: { kind: 'scalar', cel: 'int', isNullable: false } };
      return { unknownAt: i, known: [] };
    }
    if (type.kind === 'list') {
      if (typeof segment === 'number') type = type.item;
      else if (options.liquidProperties && (segment === 'first' || segment === 'last')) type = type.item;
      else if (options.liquidProperties && segment === 'size') type = { kind: 'scalar', cel: 'int', isNullable: false };
      else return { unknownAt: i, known: [] };
      continue;
    }
    if (type.kind === 'map') {
      if (options.liquidProperties && segment === 'size') type = { kind: 'scalar', cel: 'int', isNullable: false };
      else type = type.value;
      continue;
    }
    const key = String(segment);
    if (!Object.hasOwn(type.fields, key)) return { unknownAt: i, known: Object.keys(type.fields) };
    type = type.fields[key];
  }
  return { type };
}

/**
 * The closest of `candidates` to `word` by edit distance (a swap of two neighbours counts as one
 * edit), or null when none is close enough to be a likely typo.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | null {
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    if (Math.abs(candidate.length - word.length) > limit) continue;
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : null;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => {
    const row = new Array<number>(cols).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j < cols; j += 1) d[0][j] = j;
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < cols; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

function pascalCase(text: string): string {
  return text
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('')
    .replace(/^[0-9]+/, '');
}

/** `promotions` → `promotion`, for the name of a list's item type. */
function singular(word: string): string {
  return word.endsWith('s') && word.length > 1 ? word.slice(0, -1) : `${word}Item`;
}
