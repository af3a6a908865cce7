import type * as yup from 'yup';
import type { ActionCatalog, ActionName } from '../actions/action.js';
import { INTERNAL_EVENT_TYPE_NAMES, INTERNAL_SOURCE } from '../events/internal-events.js';
import { DURATION_PATTERN } from '../infra/units.js';
import { sourceRegistry } from '../sources/registry.js';
import {
  ACTION_OPTION_KEYS,
  MAX_RETRY_ATTEMPTS,
  MAX_RULE_ID_LENGTH,
  RETRY_KEYS,
  RULE_FILE_KEYS,
  RULE_ID_PATTERN,
  RULE_KEYS,
  THROTTLE_KEYS,
} from './compile-rules.js';
import { KNOWN_SOURCES, PATTERN_SHAPE } from './event-patterns.js';

/** A JSON Schema (draft-07, what the YAML language server of VS Code supports) as a plain value. */
export type JsonSchema = { readonly [keyword: string]: unknown };

/**
 * The yup `meta` key through which a params schema adds what yup cannot describe (a custom
 * `test`), in JSON Schema terms; merged over what is generated from the yup description.
 */
export const JSON_SCHEMA_META_KEY = 'jsonSchema';

/** Where the shipped schema lives, relative to the repository root (and what rule files point at). */
export const RULE_FILE_SCHEMA_PATH = 'rules/rule-file.schema.json';

/** The first line of every shipped rule file: VS Code's YAML extension reads the schema from it. */
export const RULE_FILE_SCHEMA_MODELINE = '# yaml-language-server: $schema=./rule-file.schema.json';

export interface RuleFileSchemaOptions {
  /** The actions rules may name (`actionRegistry` in the bridge). Each becomes one form of a do item. */
  readonly actions: ActionCatalog;
  /**
   * Every documented event type, offered for completion in `on:` (globs and other types of the
   * known sources stay valid). @defaultValue the source registry's types, as `<source>.<type>`,
   * then the bridge's own (`bridge.action.failed`)
   */
  readonly eventTypes?: readonly string[];
  /** The source names event types may start with. @defaultValue KNOWN_SOURCES */
  readonly sources?: readonly string[];
}

/**
 * The JSON Schema of rule files, generated from the loader's own definitions: its key lists and
 * bounds (compile-rules.ts), the `on` pattern shape (event-patterns.ts), the duration syntax, and
 * each action's yup params schema. Editors use it for completion and validation while typing;
 * `check` stays the authority (conditions, templates and cross-file checks are beyond a schema).
 * Deterministic: the same inputs give the same JSON, so the shipped file can be compared.
 */
export function buildRuleFileSchema(options: RuleFileSchemaOptions): JsonSchema {
  // The bridge's own events (events/internal-events.ts) can be named whatever the sources.
  const sources = [...(options.sources ?? KNOWN_SOURCES), INTERNAL_SOURCE];
  const eventTypes = options.eventTypes ?? listRegisteredEventTypes();
  const duration = { type: 'string', pattern: patternOf(DURATION_PATTERN), description: 'A duration: 500ms, 30s, 5m, 24h, 7d.' };
  const nonEmptyTemplate = { type: 'string', pattern: '\\S', description: 'A Liquid template over event and data, such as "{{ data.id }}".' };

  const eventType = {
    description: 'An event type <source>.<provider type>, or a glob in which * matches any characters except a dot.',
    anyOf: [
      { enum: [...eventTypes] },
      {
        type: 'string',
        allOf: [{ pattern: patternOf(PATTERN_SHAPE) }, { pattern: `^(?:${sources.map(escapeRegExp).join('|')})\\.` }],
      },
    ],
  };

  // Typed by the loader's key lists: a key added there and not here (or the reverse) does not compile.
  const ruleProperties: Record<(typeof RULE_KEYS)[number], JsonSchema> = {
    id: {
      type: ['string', 'integer'],
      pattern: patternOf(RULE_ID_PATTERN),
      maxLength: MAX_RULE_ID_LENGTH,
      description: `Unique across all rule files: letters, digits, _ and -, starting with a letter or digit, at most ${MAX_RULE_ID_LENGTH} characters.`,
    },
    description: { type: 'string', description: 'Free text for people.' },
    on: {
      description: 'The event type, a list of types, or a glob such as rewardful.commission.* that the rule runs for.',
      anyOf: [{ $ref: '#/definitions/eventType' }, { type: 'array', minItems: 1, items: { $ref: '#/definitions/eventType' } }],
    },
    if: { type: 'string', pattern: '\\S', description: 'A CEL condition over event and data that must be a bool, such as data.status == "approved".' },
    do: { type: 'array', minItems: 1, description: 'The actions: each item becomes its own job.', items: { $ref: '#/definitions/doItem' } },
  };
  const retryProperties: Record<(typeof RETRY_KEYS)[number], JsonSchema> = {
    attempts: { type: 'integer', minimum: 1, maximum: MAX_RETRY_ATTEMPTS, description: 'Tries in all, the first included.' },
    backoff: { ...duration, description: 'The wait before the first retry; it doubles per retry, with jitter.' },
  };
  const throttleProperties: Record<(typeof THROTTLE_KEYS)[number], JsonSchema> = {
    key: nonEmptyTemplate,
    window: { ...duration, description: 'How long the first event holds the key (required on throttle; once_per defaults to DEDUP_TTL).' },
  };
  const actionOptions: Record<(typeof ACTION_OPTION_KEYS)[number], JsonSchema> = {
    retry: { $ref: '#/definitions/retry' },
    once_per: { $ref: '#/definitions/oncePer' },
    throttle: { $ref: '#/definitions/throttle' },
  };

  const actionNames = Object.keys(options.actions) as ActionName[];
  const doItem = {
    description: `One action (${actionNames.join(', ')}) with its params, and optionally ${ACTION_OPTION_KEYS.join(' and ')}.`,
    anyOf: actionNames.map((name) => ({
      type: 'object',
      required: [name],
      additionalProperties: false,
      properties: { [name]: { $ref: `#/definitions/params/${name}` }, ...actionOptions },
    })),
  };
  const params = Object.fromEntries(actionNames.map((name) => [name, convertYupDescription(options.actions[name].params.describe())]));

  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $comment: 'Generated by `affiliate-bridge schema` from the rule loader; do not edit by hand.',
    title: 'affiliate-bridge rule file',
    type: 'object',
    additionalProperties: false,
    required: [...RULE_FILE_KEYS],
    properties: {
      rules: { type: ['array', 'null'], description: 'The rules of this file; ids are unique across all files.', items: { $ref: '#/definitions/rule' } },
    } satisfies Record<(typeof RULE_FILE_KEYS)[number], JsonSchema>,
    definitions: {
      rule: { type: 'object', additionalProperties: false, required: ['id', 'on', 'do'], properties: ruleProperties },
      eventType,
      doItem,
      retry: { type: 'object', additionalProperties: false, required: [...RETRY_KEYS], properties: retryProperties },
      oncePer: {
        description: 'Run the action at most once per rendered key: a template, or { key, window }.',
        anyOf: [nonEmptyTemplate, { type: 'object', additionalProperties: false, required: ['key'], properties: throttleProperties }],
      },
      throttle: {
        description: 'At most one action per rendered key per window; once_per is its shorthand (not both on one item).',
        type: 'object',
        additionalProperties: false,
        required: [...THROTTLE_KEYS],
        properties: throttleProperties,
      },
      params,
    },
  };
}

/** `firstpromoter.lead_signup`, …, `bridge.action.failed`: every registered source's documented types, then the bridge's own. */
function listRegisteredEventTypes(): string[] {
  return [...Object.values(sourceRegistry).flatMap((source) => source.eventTypes.map((type) => `${source.name}.${type}`)), ...INTERNAL_EVENT_TYPE_NAMES];
}

type YupDescription = ReturnType<yup.Schema['describe']>;

/**
 * What yup's own description of a params schema says, in JSON Schema terms: types, required
 * fields, unknown keys refused (`noUnknown`), `oneOf`, and the `min`/`max`/`matches` tests. A custom
 * test yup cannot describe adds its part through `meta({ jsonSchema })` beside it.
 */
export function convertYupDescription(description: YupDescription): JsonSchema {
  const schema: Record<string, unknown> = {};
  const tests = 'tests' in description ? description.tests : [];
  const param = (name: string, key: string): unknown => tests.find((test) => test.name === name)?.params?.[key];
  const type = description.type;
  switch (type) {
    case 'object': {
      schema.type = 'object';
      const fields = 'fields' in description ? (description.fields as Record<string, YupDescription>) : {};
      const names = Object.keys(fields);
      if (names.length > 0) {
        schema.properties = Object.fromEntries(names.map((name) => [name, convertYupDescription(fields[name])]));
        const required = names.filter((name) => !(fields[name] as { optional?: boolean }).optional);
        if (required.length > 0) schema.required = required;
      }
      if (tests.some((test) => test.name === 'noUnknown')) schema.additionalProperties = false;
      break;
    }
    case 'array': {
      schema.type = 'array';
      const inner = 'innerType' in description ? (description.innerType as YupDescription | undefined) : undefined;
      if (inner) schema.items = convertYupDescription(inner);
      if (typeof param('min', 'min') === 'number') schema.minItems = param('min', 'min');
      if (typeof param('max', 'max') === 'number') schema.maxItems = param('max', 'max');
      break;
    }
    case 'string': {
      schema.type = 'string';
      if (typeof param('min', 'min') === 'number') schema.minLength = param('min', 'min');
      if (typeof param('max', 'max') === 'number') schema.maxLength = param('max', 'max');
      const regex = param('matches', 'regex');
      // JSON Schema patterns take no flags: a regex that needs one (`s`, `i`) is left to `check`.
      if (regex instanceof RegExp && /^u?$/.test(regex.flags)) schema.pattern = regex.source;
      break;
    }
    case 'number': {
      schema.type = tests.some((test) => test.name === 'integer') ? 'integer' : 'number';
      if (typeof param('min', 'min') === 'number') schema.minimum = param('min', 'min');
      if (typeof param('max', 'max') === 'number') schema.maximum = param('max', 'max');
      break;
    }
    case 'boolean':
      schema.type = 'boolean';
      break;
    default:
      // mixed, lazy: anything, unless its meta says more.
      break;
  }
  const oneOf = 'oneOf' in description ? description.oneOf : [];
  if (oneOf.length > 0) schema.enum = oneOf;
  if (description.label) schema.description = description.label;
  const extra = description.meta?.[JSON_SCHEMA_META_KEY] as JsonSchema | undefined;
  return extra ? { ...schema, ...extra } : schema;
}

/** A regex's source as a JSON Schema pattern; only flag-free (or `u`) regexes can be one. */
function patternOf(regex: RegExp): string {
  if (!/^u?$/.test(regex.flags)) throw new Error(`a rule-file pattern cannot carry flags: /${regex.source}/${regex.flags}`);
  return regex.source;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
