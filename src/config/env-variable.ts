import * as yup from 'yup';
import { parseDuration } from '../infra/units.js';
import { Secret } from '../secret.js';
import type { BridgeConfig } from './config.js';

/**
 * One environment variable an integration reads, declared in its descriptor (sources/<provider>/,
 * actions/<integration>/). The config schema, CONFIG_VARIABLES, the start-up secret warnings and
 * the settings an integration gets are all built from these declarations.
 */
export interface EnvVariable<T> {
  /** One line, as in .env.example: what it does and what unset means. */
  readonly doc: string;
  /**
   * Validates the raw string. Messages name the variable through yup's `${path}` (the key the
   * variable is declared under), never its value: a secret must not end up in a config error.
   */
  readonly schema: yup.StringSchema<string | undefined>;
  /** The value used when the variable is unset or empty; undefined: no default (unset). */
  readonly defaultValue: string | undefined;
  /** Wrapped in {@link Secret}, never logged, and warned about at start-up when unset. */
  readonly isSecret: boolean;
  /** Turns the validated raw value (undefined or '' when unset) into the setting. */
  read(raw: string | undefined): T;
}

/**
 * PORT when unset. Defined here rather than in config.ts so that the CLI (`demo`) can read it
 * without loading the config schema's dependencies.
 */
export const DEFAULT_PORT = 3000;

/**
 * RULES_DIR when unset, relative to the working directory. Defined here rather than in config.ts so
 * that the CLI entry (the `--rules` default of every command) can read it without loading the
 * config schema's dependencies (ioredis among them).
 */
export const DEFAULT_RULES_DIR = './rules';

/** An integration's variables, by their environment name (`SLACK_BOT_TOKEN`). */
export type EnvDeclaration = Readonly<Record<string, EnvVariable<unknown>>>;

/** The settings a declaration yields: `{ SLACK_BOT_TOKEN: Secret | null, SLACK_API_URL: string, … }`. */
export type EnvSettings<E extends EnvDeclaration> = { readonly [K in keyof E]: E[K] extends EnvVariable<infer T> ? T : never };

const isUnset = (value: string | undefined): value is undefined | '' => value === undefined || value === '';

/** A credential: a {@link Secret}, or null when unset. */
export function secretVariable(doc: string): EnvVariable<Secret | null> {
  return { doc, schema: yup.string(), defaultValue: undefined, isSecret: true, read: (raw) => (isUnset(raw) ? null : new Secret(raw)) };
}

/**
 * One of a few words, e.g. `pending` or `fulfilled`; empty means the default. The message lists
 * the choices: `FIRSTPROMOTER_FULFILMENT_ANSWER must be pending or fulfilled`.
 */
export function choiceVariable<T extends string>(doc: string, choices: readonly T[], defaultValue: T): EnvVariable<T> {
  const listed = choices.length > 1 ? `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}` : String(choices[0]);
  return {
    doc,
    schema: yup.string().oneOf([...choices, ''], `\${path} must be ${listed}`),
    defaultValue,
    isSecret: false,
    read: (raw) => (isUnset(raw) ? defaultValue : (raw as T)),
  };
}

/** A plain value with no default, e.g. an account id that is not a secret; unset reads as null. */
export function textVariable(doc: string): EnvVariable<string | null> {
  return { doc, schema: yup.string(), defaultValue: undefined, isSecret: false, read: (raw) => (isUnset(raw) ? null : raw) };
}

/** A base URL of an API, with the provider's own as default (tests point it at a fake). */
export function urlVariable(doc: string, defaultValue: string, protocols: readonly string[] = ['http://', 'https://']): EnvVariable<string> {
  return { doc, schema: urlSchema(protocols), defaultValue, isSecret: false, read: (raw) => (isUnset(raw) ? defaultValue : raw) };
}

/** A whole number above zero (rates, concurrency). */
export function positiveIntegerVariable(doc: string, defaultValue: number): EnvVariable<number> {
  return {
    doc,
    schema: positiveIntegerSchema(),
    defaultValue: String(defaultValue),
    isSecret: false,
    read: (raw) => (isUnset(raw) ? defaultValue : Number(raw)),
  };
}

/**
 * A duration such as `30s` or `30d` (`ms`, `s`, `m`, `h`, `d`), read in milliseconds; empty means the
 * default. The message is the one core durations (DEDUP_TTL) give.
 */
export function durationVariable(doc: string, defaultValue: string): EnvVariable<number> {
  const defaultMs = parseDuration(defaultValue);
  if (defaultMs === null) throw new TypeError(`default ${defaultValue} is not a duration`);
  return {
    doc,
    schema: yup
      .string()
      .test('duration', '${path} must be a duration such as 500ms, 30s, 10m, 12h or 7d', (value) => isUnset(value) || parseDuration(value) !== null),
    defaultValue,
    isSecret: false,
    read: (raw) => (isUnset(raw) ? defaultMs : parseDuration(raw)!),
  };
}

/** A string that must start with one of `protocols` and parse as a URL; empty means unset. */
export function urlSchema(protocols: readonly string[], name = '${path}'): yup.StringSchema<string | undefined> {
  return yup.string().test('url', `${name} must be a URL starting with ${protocols.join(' or ')}`, (value) => {
    if (value === undefined || value === '') return true;
    try {
      return protocols.includes(new URL(value).protocol.replace(':', '') + '://');
    } catch {
      return false;
    }
  });
}

/** Digits of a whole number above zero; empty means unset. */
export function positiveIntegerSchema(name = '${path}'): yup.StringSchema<string | undefined> {
  return yup.string().matches(/^[1-9][0-9]*$/, { message: `${name} must be a positive integer`, excludeEmptyString: true });
}

/**
 * The settings of one integration, read from the loaded config: what its descriptor declared, typed.
 * @throws TypeError when a variable was not part of the config (the integration is not in the
 *   registries `loadConfig` was given).
 */
export function readSettings<E extends EnvDeclaration>(config: Pick<BridgeConfig, 'integrations'>, env: E): EnvSettings<E> {
  const settings: Record<string, unknown> = {};
  for (const name of Object.keys(env)) {
    if (!Object.hasOwn(config.integrations, name)) {
      throw new TypeError(`${name} is not in the config: load it with the registries that declare it`);
    }
    settings[name] = config.integrations[name];
  }
  return settings as EnvSettings<E>;
}
