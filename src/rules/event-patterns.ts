import { CANONICAL_EVENT_TYPES, CANONICAL_TYPE_NAMESPACE } from '../events/affiliate.js';
import type { SourceName } from '../events/event.js';
import { INTERNAL_SOURCE } from '../events/internal-events.js';
import { sourceRegistry } from '../sources/registry.js';

/**
 * The sources an event type can start with (the shipped registry's); a pattern for any other
 * prefix can never match.
 */
export const KNOWN_SOURCES: readonly SourceName[] = Object.freeze(Object.keys(sourceRegistry));

/** `<source>.<type>` with lowercase letters, digits and `_` per segment, `*` allowed after the source. */
export const PATTERN_SHAPE = /^[a-z_]+(\.[a-z0-9_*]+)+$/;

/**
 * An `on` entry: an exact event type or a glob in which `*` matches any characters except `.`.
 * It names provider types (`rewardful.commission.paid`) or canonical types (`affiliate.commission.paid`,
 * `affiliate.commission.*`); a rule matches an event when an entry matches the event's type or one
 * of its canonical types, and fires once for it however many entries match.
 */
export type EventPattern =
  | { readonly kind: 'exact'; readonly type: string }
  | { readonly kind: 'glob'; readonly glob: string; readonly regex: RegExp };

/**
 * Checks and compiles one `on` entry.
 * @param knownSources the source names event types may start with. @defaultValue KNOWN_SOURCES
 * @returns the pattern, or the exact sentence explaining why it is not one.
 */
export function parseEventPattern(text: string, knownSources: readonly SourceName[] = KNOWN_SOURCES): EventPattern | { readonly error: string } {
  if (!PATTERN_SHAPE.test(text)) {
    return {
      error: `on ${text} is not an event type or glob: write <source>.<type> in lowercase, such as firstpromoter.lead_signup or rewardful.commission.*`,
    };
  }
  const source = text.slice(0, text.indexOf('.'));
  if (source === CANONICAL_TYPE_NAMESPACE) return parseCanonicalPattern(text);
  // The bridge's own events (events/internal-events.ts) exist whatever the sources; which of its types a
  // pattern names is checked against their list, with did-you-mean, like a source's.
  if (source === INTERNAL_SOURCE) return compilePattern(text);
  if (!knownSources.includes(source)) {
    return {
      error: `on ${text} can never match: event types start with ${listPrefixes([...knownSources, CANONICAL_TYPE_NAMESPACE, INTERNAL_SOURCE])}`,
    };
  }
  return compilePattern(text);
}

/** Whether `pattern` matches the event type `type` (an exact type equals it; a glob's regex matches it). */
export function matchesEventPattern(pattern: EventPattern, type: string): boolean {
  return pattern.kind === 'exact' ? pattern.type === type : pattern.regex.test(type);
}

/** A pattern of the canonical namespace: it must name, or match, at least one canonical type. */
function parseCanonicalPattern(text: string): EventPattern | { readonly error: string } {
  const pattern = compilePattern(text);
  if (CANONICAL_EVENT_TYPES.some((type) => matchesEventPattern(pattern, type))) return pattern;
  return { error: `on ${text} can never match: the canonical event types are ${CANONICAL_EVENT_TYPES.join(', ')}` };
}

function compilePattern(text: string): EventPattern {
  if (!text.includes('*')) return { kind: 'exact', type: text };
  // Only `*` is special; every other character is literal (`.` included), and `*` stops at dots so
  // `rewardful.commission.*` does not also match `rewardful.commission.created.v2`.
  const body = text
    .split('*')
    .map((part) => part.replace(/[.]/g, '\\.'))
    .join('[^.]*');
  return { kind: 'glob', glob: text, regex: new RegExp(`^${body}$`) };
}

/** `firstpromoter., rewardful., affiliate. or bridge.` */
function listPrefixes(names: readonly string[]): string {
  const prefixes = names.map((name) => `${name}.`);
  return prefixes.length <= 1 ? (prefixes[0] ?? '') : `${prefixes.slice(0, -1).join(', ')} or ${prefixes.at(-1)}`;
}
