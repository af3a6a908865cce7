import type { DigestItem, TextEscaper } from '../actions/action.js';
import { compileTemplateTree, renderTemplateValue, type TemplateTree } from './templates.js';

/** The variables a digest template sees. */
export const DIGEST_VARIABLES = ['events', 'count'] as const;

/** Compiled digest templates, per escaper and source: a handful per rule set, compiled once each. */
const compiled = new WeakMap<TextEscaper | typeof NO_ESCAPER, Map<string, TemplateTree>>();
const NO_ESCAPER = Object.freeze({});

/**
 * Renders a digest: `source` (a rule's `digest_text`, or the action's default) over `events` (each
 * grouped message's event, data and rendered text) and `count`, with the action's escaping, by
 * liquidjs like every other template. Pure. A missing field renders empty and is reported in
 * `warnings`, as at plan time.
 * @throws TemplateRenderError when a filter fails; Error when the template does not compile (it
 *   was checked when the rules loaded, so only a default template of an action could).
 */
export function renderDigestText(source: string, escapeText: TextEscaper | undefined, items: readonly DigestItem[]): { text: string; warnings: string[] } {
  const cacheKey = escapeText ?? NO_ESCAPER;
  let bySource = compiled.get(cacheKey);
  if (bySource === undefined) {
    bySource = new Map();
    compiled.set(cacheKey, bySource);
  }
  let tree = bySource.get(source);
  if (tree === undefined) {
    const result = compileTemplateTree(source, escapeText, ['digest_text'], DIGEST_VARIABLES);
    if (result.problems.length > 0) throw new Error(result.problems.map((problem) => problem.message).join('; '));
    tree = result.tree;
    bySource.set(source, tree);
  }
  const warnings: string[] = [];
  const text = String(renderTemplateValue(tree, { events: items, count: items.length }, false, warnings));
  return { text, warnings };
}
