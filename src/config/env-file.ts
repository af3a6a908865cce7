import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/** What {@link readEnvFile} found: the variables the file sets, and which of them apply. */
export interface EnvFileContents {
  /** Every variable the file sets, by name. */
  readonly variables: Readonly<Record<string, string>>;
  /** The names the file sets that the environment does not: only these apply. */
  readonly applied: readonly string[];
}

/**
 * The variables of a `.env` text (Node's own parser, `util.parseEnv`: `KEY=value`, `#` comments,
 * quotes) that `env` does not already set. The real environment wins, as with `node --env-file`
 * and docker compose: an operator's `PORT=8080 npm start` beats the file.
 */
export function envFileAdditions(env: Readonly<Record<string, string | undefined>>, text: string): EnvFileContents {
  const variables = Object.fromEntries(Object.entries(parseEnv(text)).filter((entry): entry is [string, string] => entry[1] !== undefined));
  return { variables, applied: Object.keys(variables).filter((name) => env[name] === undefined) };
}

/**
 * Reads `file` when it exists and returns what it adds to `env`; null when there is no such file.
 * @throws the read error for anything but a missing file (a .env that cannot be read must not be
 *   silently skipped: the bridge would start without its secrets).
 */
export function readEnvFile(env: Readonly<Record<string, string | undefined>>, file: string): EnvFileContents | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return envFileAdditions(env, text);
}
