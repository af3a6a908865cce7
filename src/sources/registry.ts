import type { BridgeConfig } from '../config/config.js';
import { readSettings, type EnvDeclaration } from '../config/env-variable.js';
import type { Secret } from '../secret.js';
import { firstpromoter } from './firstpromoter/index.js';
import { rewardful } from './rewardful/index.js';
import type { Source } from './source.js';

/** Sources by the name in `POST /webhooks/<source>`; the shipped one is {@link sourceRegistry}. */
// `any`: each source declares its own variables, and `webhookSecret` must be one of them.
export type SourceRegistry = Readonly<Record<string, Source<any>>>;

/**
 * Every webhook provider the bridge accepts, by the name in `POST /webhooks/<source>`. This is the
 * only list: config, logger redaction, event-type patterns, `simulate`'s source guessing, the
 * HTTP app and the CLI derive from it. Adding a provider adds one line here and a folder beside it.
 */
export const sourceRegistry: SourceRegistry = Object.freeze({
  firstpromoter,
  rewardful,
});

/**
 * Whether `name` (e.g. a route parameter) names a source of `registry`. Only own keys count, so
 * `constructor` or `__proto__` are not sources.
 */
export function isSourceName(name: string, registry: SourceRegistry = sourceRegistry): boolean {
  return Object.hasOwn(registry, name);
}

/** The payload fields every source of `registry` strips, once each, in registry order. */
export function collectStrippedFields(registry: SourceRegistry): readonly string[] {
  return [...new Set(Object.values(registry).flatMap((source) => source.strippedFields))];
}

/** Fields stripped from payloads when STRIPPED_FIELDS is unset (and in `test` and `simulate`). */
export const DEFAULT_STRIPPED_FIELDS: readonly string[] = Object.freeze(collectStrippedFields(sourceRegistry));

/**
 * The value of every secret variable the sources of `registry` declare (webhook secrets, API keys),
 * set ones only: what the HTTP layer scrubs from payloads by value.
 * @throws TypeError when `config` was not loaded with these sources (see `readSettings`).
 */
export function collectSourceSecrets(registry: SourceRegistry, config: Pick<BridgeConfig, 'integrations'>): Secret[] {
  const secrets: Secret[] = [];
  for (const source of Object.values(registry)) {
    const settings = readSettings(config, source.env) as Record<string, unknown>;
    for (const [name, variable] of Object.entries(source.env as EnvDeclaration)) {
      const value = settings[name];
      if (variable.isSecret && value !== null && value !== undefined) secrets.push(value as Secret);
    }
  }
  return secrets;
}
