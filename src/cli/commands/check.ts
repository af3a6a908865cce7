import type { ActionCatalog } from '../../actions/action.js';
import { actionRegistry } from '../../actions/registry.js';
import { loadRules } from '../../rules/load-rules.js';
import { formatProblem } from '../../rules/problems.js';
import { reportRuleProblems, type CommandIo } from '../io.js';

export interface CheckCommandOptions {
  /** The rules directory. */
  readonly rulesDir: string;
  /** The actions rules may name. @defaultValue actionRegistry */
  readonly actions?: ActionCatalog;
}

/**
 * `affiliate-bridge check [--rules DIR]`: validates every rule file.
 * Warnings (a template's fixed text over an action's limit) go to stderr as
 * `file:line:col: warning: message` and do not change the exit code.
 * @returns 0 after printing `N rules in N files OK`; 1 after printing every problem as
 * `file:line:col: message`, one per line, on stderr.
 */
export async function runCheckCommand(options: CheckCommandOptions, io: CommandIo): Promise<number> {
  const result = await loadRules(options.rulesDir, { actions: options.actions ?? actionRegistry });
  for (const warning of result.warnings ?? []) io.stderr(formatProblem({ ...warning, message: `warning: ${warning.message}` }));
  if (!result.ok) {
    reportRuleProblems(io, result.problems, `the rules in ${options.rulesDir} do not load`);
    return 1;
  }
  const { size, files } = result.ruleSet;
  io.stdout(`${size} rule${size === 1 ? '' : 's'} in ${files.length} file${files.length === 1 ? '' : 's'} OK`);
  return 0;
}
