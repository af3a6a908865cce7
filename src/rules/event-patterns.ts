import type { SourceName } from '../events/event.js';
import { sourceRegistry } from '../sources/registry.js';

/**
 * The sources an event type can start with (the shipped registry's); a pattern for any other
 * prefix can never match.
 */
export const KNOWN_SOURCES: readonly SourceName[] = Object.freeze(Object.keys(sourceRegistry));

/** `<source>.<type>` with lowercase letters, digits and `_` per segment, `*` allowed after the source. */
export const PATTERN_SHAPE = /^[a-z_]+(\.[a-z0-9_*]+)+$/;

/** An `on` entry: an exact event type or a glob in which `*` matches any characters except `.`. */
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
  if (!knownSources.includes(source)) {
    return {
      error: `on ${text} can never match: event types start with ${knownSources.map((name) => `${name}.`).join(' or ')}`,
    };
  }
  if (!text.includes('*')) return { kind: 'exact', type: text };
  // Only `*` is special; every other character is literal (`.` included), and `*` stops at dots so
  // `rewardful.commission.*` does not also match `rewardful.commission.created.v2`.
  const body = text
    .split('*')
    .map((part) => part.replace(/[.]/g, '\\.'))
    .join('[^.]*');
  return { kind: 'glob', glob: text, regex: new RegExp(`^${body}$`) };
}
