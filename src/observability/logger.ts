import { pino, type Bindings, type ChildLoggerOptions, type DestinationStream, type Logger, type LoggerOptions as PinoOptions } from 'pino';
import { collectStrippedFields, sourceRegistry, type SourceRegistry } from '../sources/registry.js';

/** Credentials any request may carry, whatever the source: Authorization headers and a `token` query. */
const CORE_REDACTED_PATHS = ['req.headers.authorization', 'headers.authorization', 'query.token'];

/** How deep below a log line's top-level objects a stripped payload field is still redacted. */
const STRIPPED_FIELD_DEPTH = 3;

/** What replaces a redacted value. */
export const REDACTED = '[redacted]';

/** A key whose value is redacted wherever it appears in a log line, down to `maxDepth` (a line's own keys are at depth 1). */
export interface RedactedKey {
  readonly key: string;
  readonly maxDepth: number;
}

/** How log lines are redacted: exact paths (pino's `redact`) and keys at any depth ({@link createKeyCensor}). */
export interface LogRedaction {
  readonly paths: readonly string[];
  readonly keys: readonly RedactedKey[];
}

/**
 * What every log line of the bridge has redacted, for every source of `registry`: the credentials
 * in headers (each source's `redact` paths) and in a `token` field (at the top or one level down),
 * and the payload fields the sources strip (a second line of defence) down to 3 levels below a
 * line's top-level objects.
 */
export function collectLogRedaction(registry: SourceRegistry): LogRedaction {
  const paths = [...new Set([...CORE_REDACTED_PATHS, ...Object.values(registry).flatMap((source) => source.redact)])];
  const keys: RedactedKey[] = [{ key: 'token', maxDepth: 2 }];
  for (const field of collectStrippedFields(registry)) {
    // A dotted path names one place in a payload, not a key at any depth: not one to look for.
    if (!field.includes('.')) keys.push({ key: field, maxDepth: STRIPPED_FIELD_DEPTH + 1 });
  }
  return { paths, keys };
}

/** The redaction of the shipped sources: see {@link collectLogRedaction}. */
export const LOG_REDACTION: LogRedaction = collectLogRedaction(sourceRegistry);

/**
 * A function that replaces the value of every key of `keys` found in what it is given, within the
 * key's depth, by {@link REDACTED}.
 * Copies only the objects on the way to a key it redacts (each copy keeps its prototype and every
 * own property, so an Error keeps its message and stack); returns `value` itself when there is
 * nothing to redact, and never changes it. Typed arrays and Buffers are not looked into.
 *
 * Why not pino's wildcard paths (`*.auth_token`, `*.*.auth_token`…): its redaction clones every
 * object such a path could reach, for every line and every child logger's bindings, and parses
 * each path again every time: about 24 µs per line against 2.5 µs for the line itself, and a fifth
 * of all the bridge allocated under load (issue 14). This walk allocates nothing unless it redacts.
 */
export function createKeyCensor(keys: readonly RedactedKey[]): <T>(value: T) => T {
  const depthOf = new Map(keys.map(({ key, maxDepth }) => [key, maxDepth]));
  const deepest = Math.max(0, ...keys.map(({ maxDepth }) => maxDepth));
  return <T>(value: T) => censorAt(value, 1, depthOf, deepest) as T;
}

function censorAt(value: unknown, depth: number, depthOf: ReadonlyMap<string, number>, deepest: number): unknown {
  if (value === null || typeof value !== 'object' || depth > deepest || ArrayBuffer.isView(value)) return value;
  let copy: Record<string, unknown> | undefined;
  const source = value as Record<string, unknown>;
  for (const key in source) {
    if (!Object.prototype.hasOwnProperty.call(source, key)) continue;
    const inner = source[key];
    const maxDepth = depthOf.get(key);
    const replaced = maxDepth !== undefined && depth <= maxDepth ? REDACTED : censorAt(inner, depth + 1, depthOf, deepest);
    if (replaced === inner) continue;
    copy ??= (Array.isArray(source) ? source.slice() : Object.create(Object.getPrototypeOf(source) as object | null, Object.getOwnPropertyDescriptors(source))) as Record<string, unknown>;
    copy[key] = replaced;
  }
  return copy ?? value;
}

/** pino's options for `redaction`: its `redact` for the paths, and a formatter that censors the keys of each line. */
function pinoRedactionOptions(redaction: LogRedaction, censorKeys: <T>(value: T) => T): Pick<PinoOptions, 'redact' | 'formatters'> {
  return { redact: { paths: [...redaction.paths], censor: REDACTED }, formatters: { log: censorKeys } };
}

/**
 * Censors the keys of every child logger's bindings too: pino runs the `bindings` formatter for
 * the root logger's bindings only. Children inherit `child` from the root, so theirs do the same.
 */
function censorChildBindings(logger: Logger, censorKeys: <T>(value: T) => T): Logger {
  const pinoChild = logger.child as unknown as (this: Logger, bindings: Bindings, options?: ChildLoggerOptions) => Logger;
  logger.child = function (this: Logger, bindings: Bindings, options?: ChildLoggerOptions) {
    return pinoChild.call(this, censorKeys(bindings), options);
  } as unknown as Logger['child'];
  return logger;
}

/** The pino level when none is given; also LOG_LEVEL's default (config.ts reads it from here). */
export const DEFAULT_LOG_LEVEL = 'info';

export interface LoggerOptions {
  /** pino level. @defaultValue DEFAULT_LOG_LEVEL (info) */
  level?: string;
  /** Human-readable lines (pino-pretty); ignored when `destination` is set. @defaultValue true when stdout is a terminal (`process.stdout.isTTY`) */
  pretty?: boolean;
  /** Where lines go. Tests pass a stream to read them back. @defaultValue stdout (pino's own destination) */
  destination?: DestinationStream;
  /** What is redacted. @defaultValue LOG_REDACTION (the shipped sources') */
  redaction?: LogRedaction;
}

/** Builds the process logger: JSON lines with secrets redacted (see {@link collectLogRedaction}). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const { level = DEFAULT_LOG_LEVEL, pretty = process.stdout.isTTY === true, destination, redaction = LOG_REDACTION } = options;
  const censorKeys = createKeyCensor(redaction.keys);
  const base = { level, ...pinoRedactionOptions(redaction, censorKeys), base: { pid: process.pid } };
  const logger = destination ? pino(base, destination) : pretty ? pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true } } }) : pino(base);
  return censorChildBindings(logger, censorKeys);
}

export type { Logger };
