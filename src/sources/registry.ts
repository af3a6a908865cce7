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
