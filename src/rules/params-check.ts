import * as yup from 'yup';
import { formatParamPath, type TemplateTree } from './templates.js';

/**
 * Checks rendered params against an action's schema. Params were validated in full at load, and
 * rendering only turns template strings into other strings, so the shape, the keys and every
 * non-template value are unchanged. When each templated field's schema is a plain yup string whose
 * rules we can mirror (required, defined, min, max, length, matches), those fields are checked with
 * a plain function, and yup runs only when one fails (for its exact messages): full yup validation
 * costs about 20 µs per action, which would dominate planning. A templated string inside a value
 * yup sees as one opaque `mixed` (hubspot's `properties` map) has no rules of its own, so it needs
 * no check. When no templated field has a rule, nothing is checked at all. Any other case runs yup
 * in full.
 * What must hold: object-level tests of a params schema (slack's "text or blocks", noUnknown,
 * hubspot's property names and value types) depend on which keys are present and on value types,
 * not on string contents; both actions' schemas are written that way. A field-level rule on string
 * contents belongs on the field.
 * @returns the yup error messages, or null when the params are valid.
 */
export type RenderedParamsCheck = (params: Record<string, unknown>) => string[] | null;

type StringRule = (value: string) => boolean;

/** Builds the check for one action's compiled params. */
export function compileParamsCheck(schema: yup.Schema<unknown>, tree: TemplateTree): RenderedParamsCheck {
  const validateFully: RenderedParamsCheck = (params) => {
    try {
      schema.validateSync(params, { abortEarly: false });
      return null;
    } catch (error) {
      if (error instanceof yup.ValidationError) return error.errors;
      throw error;
    }
  };
  const paths = templatedPaths(tree);
  if (paths.length === 0) return () => null;
  const leaves: Array<{ path: readonly (string | number)[]; rules: StringRule[] }> = [];
  for (const path of paths) {
    const rules = stringRulesAt(schema, path);
    if (rules === null) return validateFully;
    // Rendering always yields a string, so a field with no rule cannot become invalid.
    if (rules.length > 0) leaves.push({ path, rules });
  }
  if (leaves.length === 0) return () => null;
  return (params) => {
    for (const leaf of leaves) {
      const value = valueAt(params, leaf.path);
      if (typeof value !== 'string') return validateFully(params);
      for (const rule of leaf.rules) if (!rule(value)) return validateFully(params);
    }
    return null;
  };
}

function templatedPaths(tree: TemplateTree, path: (string | number)[] = []): (string | number)[][] {
  switch (tree.kind) {
    case 'static':
      return [];
    case 'template':
      return [path];
    case 'list':
      return tree.items.flatMap((item, i) => templatedPaths(item, [...path, i]));
    case 'map':
      return tree.entries.flatMap(([key, item]) => templatedPaths(item, [...path, key]));
  }
}

/** The rules of a yup string field, or null when the field is not one we can mirror exactly. */
function stringRulesAt(schema: yup.Schema<unknown>, path: readonly (string | number)[]): StringRule[] | null {
  const field = reachField(schema, path);
  if (field === null) {
    return isInsideOpaqueValue(schema, path) ? [] : null;
  }
  const description = field.describe() as yup.SchemaDescription;
  if (description.type !== 'string' || description.oneOf.length > 0 || description.notOneOf.length > 0) return null;
  const rules: StringRule[] = [];
  for (const test of description.tests) {
    const params = (test.params ?? {}) as Record<string, unknown>;
    switch (test.name) {
      case 'required':
        rules.push((value) => value.length > 0);
        break;
      case 'defined':
        break;
      case 'min':
        rules.push((value) => value.length >= Number(params.min));
        break;
      case 'max':
        rules.push((value) => value.length <= Number(params.max));
        break;
      case 'length':
        rules.push((value) => value.length === Number(params.length));
        break;
      case 'matches': {
        if (!(params.regex instanceof RegExp) || params.excludeEmptyString) return null;
        const regex = new RegExp(params.regex.source, params.regex.flags.replace('g', ''));
        rules.push((value) => regex.test(value));
        break;
      }
      default:
        return null;
    }
  }
  return rules;
}

function reachField(schema: yup.Schema<unknown>, path: readonly (string | number)[]): yup.Schema<unknown> | null {
  try {
    return yup.reach(schema as yup.AnySchema, formatParamPath(path)) as yup.Schema<unknown>;
  } catch {
    return null;
  }
}

/**
 * Whether the nearest schema above `path` is a `mixed` with no oneOf/notOneOf: yup sees the whole
 * value there through that schema's own tests, which (see above) do not read string contents.
 */
function isInsideOpaqueValue(schema: yup.Schema<unknown>, path: readonly (string | number)[]): boolean {
  for (let length = path.length - 1; length >= 1; length -= 1) {
    const ancestor = reachField(schema, path.slice(0, length));
    if (ancestor === null) continue;
    const description = ancestor.describe() as yup.SchemaDescription;
    return description.type === 'mixed' && description.oneOf.length === 0 && description.notOneOf.length === 0;
  }
  return false;
}

function valueAt(params: unknown, path: readonly (string | number)[]): unknown {
  let value = params;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}
