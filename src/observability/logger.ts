import { pino, type Logger, type DestinationStream } from 'pino';
import { collectStrippedFields, sourceRegistry, type SourceRegistry } from '../sources/registry.js';

/** Credentials any request may carry, whatever the source: Authorization headers and `token`s. */
const CORE_REDACTED_PATHS = ['req.headers.authorization', 'headers.authorization', 'token', '*.token', 'query.token'];

/** How deep below a log line's top-level objects a stripped payload field is still redacted. */
const STRIPPED_FIELD_DEPTH = 3;

/**
 * Paths pino replaces with `[redacted]` wherever they appear in a log line's objects: credentials
 * in headers (each source's `redact`), and the payload fields the sources strip (a second line of
 * defence), for every source of `registry`.
 */
export function collectRedactedPaths(registry: SourceRegistry): string[] {
  const paths = [...CORE_REDACTED_PATHS, ...Object.values(registry).flatMap((source) => source.redact)];
  for (const field of collectStrippedFields(registry)) {
    // A dotted path names one place in a payload, not a key at any depth: pino cannot follow it.
    if (field.includes('.')) continue;
    for (let depth = 1; depth <= STRIPPED_FIELD_DEPTH; depth += 1) paths.push(`${'*.'.repeat(depth)}${field}`);
  }
  return [...new Set(paths)];
}

/** The redacted paths of the shipped sources: see {@link collectRedactedPaths}. */
export const REDACTED_PATHS: string[] = collectRedactedPaths(sourceRegistry);

/** The pino level when none is given; also LOG_LEVEL's default (config.ts reads it from here). */
export const DEFAULT_LOG_LEVEL = 'info';

export interface LoggerOptions {
  /** pino level. @defaultValue DEFAULT_LOG_LEVEL (info) */
  level?: string;
  /** Human-readable lines (pino-pretty); ignored when `destination` is set. @defaultValue true when stdout is a terminal (`process.stdout.isTTY`) */
  pretty?: boolean;
  /** Where lines go. Tests pass a stream to read them back. @defaultValue stdout (pino's own destination) */
  destination?: DestinationStream;
  /** What is replaced by `[redacted]`. @defaultValue REDACTED_PATHS (the shipped sources') */
  redactPaths?: readonly string[];
}

/** Builds the process logger: JSON lines with secrets redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const { level = DEFAULT_LOG_LEVEL, pretty = process.stdout.isTTY === true, destination, redactPaths = REDACTED_PATHS } = options;
  const base = { level, redact: { paths: [...redactPaths], censor: '[redacted]' }, base: { pid: process.pid } };
  if (destination) return pino(base, destination);
  if (pretty) return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true } } });
  return pino(base);
}

export type { Logger };
