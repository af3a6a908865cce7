import type { ActionCatalog } from '../../actions/action.js';
import { actionRegistry } from '../../actions/registry.js';
import { buildRuleFileSchema } from '../../rules/rule-file-schema.js';
import type { CommandIo } from '../io.js';

export interface SchemaCommandOptions {
  /** The actions rules may name. @defaultValue actionRegistry */
  readonly actions?: ActionCatalog;
}

/** The schema exactly as `affiliate-bridge schema` prints it (and as rules/rule-file.schema.json holds it). */
export function formatRuleFileSchema(actions: ActionCatalog = actionRegistry): string {
  return JSON.stringify(buildRuleFileSchema({ actions }), null, 2);
}

/**
 * `affiliate-bridge schema`: prints the JSON Schema of rule files, generated from the rule loader's
 * own definitions (the shipped `rules/rule-file.schema.json` is this output).
 * @returns 0.
 */
export function runSchemaCommand(options: SchemaCommandOptions, io: CommandIo): Promise<number> {
  io.stdout(formatRuleFileSchema(options.actions));
  return Promise.resolve(0);
}
