import type { Variable } from 'liquidjs';
import type { RuleScope } from './rule-scopes.js';
import { closestMatch, resolveFieldPath } from './scope-types.js';
import { formatParamPath, indexOfRowCol, type TemplateProblem, type TemplateTree } from './templates.js';

/*
 * The load-time check of template variables against one event type's scope. The paths come from
 * liquidjs's own analysis of its parsed templates (`analyzeSync`): no second template parser.
 * Variables bound inside the template (`{% for p in data.promotions %}`, `{% assign %}`) are not
 * globals and are not checked.
 */

/**
 * Every `event.…`/`data.…` path in the compiled params that names a field the scope's schema does
 * not have. A field the provider sends unlisted is written with a quoted key, `data["utm_source"]`,
 * which this check leaves alone.
 */
export function checkTemplateFields(tree: TemplateTree, scope: RuleScope, basePath: readonly (string | number)[] = []): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  visit(tree, [...basePath], scope, problems);
  return problems;
}

function visit(tree: TemplateTree, path: (string | number)[], scope: RuleScope, problems: TemplateProblem[]): void {
  switch (tree.kind) {
    case 'static':
      return;
    case 'list':
      tree.items.forEach((item, i) => visit(item, [...path, i], scope, problems));
      return;
    case 'map':
      for (const [key, item] of tree.entries) visit(item, [...path, key], scope, problems);
      return;
    case 'template': {
      const analysis = tree.engine.analyzeSync(tree.template);
      for (const [name, occurrences] of Object.entries(analysis.globals)) {
        const root = scope.variables[name];
        if (!root) continue;
        for (const variable of occurrences) {
          const problem = checkVariable(variable, root, tree.source, path);
          if (problem) problems.push(problem);
        }
      }
    }
  }
}

function checkVariable(variable: Variable, root: RuleScope['variables'][string], source: string, path: (string | number)[]): TemplateProblem | null {
  // Only the literal part of a path is checked: `data[event.key]` stops at `data`.
  const segments: (string | number)[] = [];
  for (const segment of variable.segments.slice(1)) {
    if (typeof segment !== 'string' && typeof segment !== 'number') break;
    segments.push(segment);
  }
  const resolved = resolveFieldPath(root, segments, { liquidProperties: true });
  if ('type' in resolved) return null;
  const index = variable.location ? indexOfRowCol(source, variable.location.row, variable.location.col) : 0;
  const key = String(segments[resolved.unknownAt]);
  if (isQuotedAt(source, index, key)) return null;
  const prefix = [String(variable.segments[0]), ...segments.slice(0, resolved.unknownAt)].map((segment, i) => (typeof segment === 'number' ? `[${segment}]` : i === 0 ? segment : `.${segment}`)).join('');
  const written = `${prefix}.${key}`;
  const where = path.length === 0 ? '' : ` in ${formatParamPath(path)}`;
  const suggestion = closestMatch(key, resolved.known);
  return {
    path,
    message:
      suggestion === null
        ? `unknown field ${written}${where}: the schema does not list it; for a field the provider sends unlisted, write ${prefix}["${key}"]`
        : `unknown field ${written}${where}: did you mean ${prefix}.${suggestion}?`,
    index,
  };
}

/** Whether the variable starting at `index` writes `key` as a quoted key: `data["utm_source"]`. */
function isQuotedAt(source: string, index: number, key: string): boolean {
  const rest = source.slice(index, index + 500);
  const end = rest.search(/\s|\||}}|%}/);
  const written = end === -1 ? rest : rest.slice(0, end);
  return written.includes(`["${key}"]`) || written.includes(`['${key}']`);
}
