import { firstpromoter } from './firstpromoter/index.js';
import { rewardful } from './rewardful/index.js';
import { readSettings } from '../config/env-variable.js';
import { CONFLICTING_DUPLICATE_TYPE, type BridgeEvent } from '../events/event.js';
import { INTERNAL_EVENT_TYPE_NAMES } from '../events/internal-events.js';
import type { Secret } from '../secret.js';
import type { Source } from './source.js';

/** Sources by the name in `POST /webhooks/<source>`; the shipped one is {@link sourceRegistry}. */
// `any`: each source declares its own variables, and `webhookSecret` must be one of them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- sources declare different env variables
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

/** Each source's webhook secret, by source name (null when its variable is unset). */
export function readWebhookSecrets(
  settings: { readonly integrations: Readonly<Record<string, unknown>> },
  registry: SourceRegistry,
): Record<string, Secret | null> {
  return Object.fromEntries(
    Object.values(registry).map((source) => [source.name, readSettings(settings, source.env)[source.webhookSecret] as Secret | null]),
  );
}

/**
 * The schema problems of a stored event, by its source's own check. An event of a source that is no
 * longer registered has no schema to check: nothing to add.
 */
export function checkSchemaOf(registry: SourceRegistry, event: BridgeEvent): string[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any source of the registry
  return Object.hasOwn(registry, event.source) ? (registry[event.source] as Source<any>).checkSchema(event) : [];
}

/** The `type` label every event type nobody declared counts under. */
export const UNKNOWN_EVENT_TYPE_LABEL = 'unknown';

/**
 * The `type` label of `bridge_events_total` for an event type: the type itself when a source of
 * `registry` declares it (`firstpromoter.lead_signup`) or it is one of the bridge's own
 * (`bridge.action.failed`, events/internal-events.ts), else `unknown`. Types come from payloads:
 * labelled as sent, 2,000 invented types would be 2,000 series.
 */
export function labelEventType(type: string, registry: SourceRegistry = sourceRegistry): string {
  // The bridge's own events (`bridge.action.failed`) are declared beside the registry, not in it.
  if (INTERNAL_EVENT_TYPE_NAMES.includes(type)) return type;
  const dot = type.indexOf('.');
  if (dot <= 0) return UNKNOWN_EVENT_TYPE_LABEL;
  const name = type.slice(0, dot);
  if (!Object.hasOwn(registry, name)) return UNKNOWN_EVENT_TYPE_LABEL;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any source of the registry
  const source = registry[name] as Source<any>;
  const providerType = type.slice(dot + 1);
  const isKnown = source.eventTypes.includes(providerType) || (source.testEventTypes ?? []).includes(providerType) || providerType === CONFLICTING_DUPLICATE_TYPE;
  return isKnown ? type : UNKNOWN_EVENT_TYPE_LABEL;
}
