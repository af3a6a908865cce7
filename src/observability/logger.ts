import { pino, type Logger, type DestinationStream } from 'pino';

/**
 * Paths pino replaces with `[redacted]` wherever they appear in a log line's objects: credentials
 * in headers, and the payload fields the sources strip (a second line of defence).
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-rewardful-signature"]',
  'headers.authorization',
  'headers["x-rewardful-signature"]',
  'token',
  '*.token',
  'query.token',
  '*.auth_token',
  '*.*.auth_token',
  '*.*.*.auth_token',
  '*.temp_password',
  '*.*.temp_password',
  '*.*.*.temp_password',
];

export interface LoggerOptions {
  /** pino level. @defaultValue info */
  level?: string;
  /** Human-readable lines; by default when stdout is a terminal. */
  pretty?: boolean;
  /** Where lines go; by default stdout. Tests pass a stream to read them back. */
  destination?: DestinationStream;
}

/** Builds the process logger: JSON lines with secrets redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const { level = 'info', pretty = process.stdout.isTTY === true, destination } = options;
  const base = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { pid: process.pid } };
  if (destination) return pino(base, destination);
  if (pretty) return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true } } });
  return pino(base);
}

export type { Logger };
