import path from 'node:path';
import type { ActionCatalog } from '../../actions/action.js';
import { actionRegistry } from '../../actions/registry.js';
import type { PayloadNormalizers } from '../../rules/tooling/event-from-payload.js';
import { runRuleTests } from '../../rules/tooling/rule-tests.js';
import { sourceRegistry } from '../../sources/registry.js';
import { reportRuleProblems, type CommandIo } from '../io.js';

export interface TestCommandOptions {
  /** The rules directory; cases are read from its `tests/` folder. */
  readonly rulesDir: string;
  /** How payloads become events. @defaultValue sourceRegistry */
  readonly normalizers?: PayloadNormalizers;
  /** The actions rules may name. @defaultValue actionRegistry */
  readonly actions?: ActionCatalog;
}

/**
 * `affiliate-bridge test [--rules DIR]`: runs the rule test cases in `DIR/tests/*.yaml`. Prints one
 * line per case (`✓ file › name`, or `✗ file › name` and the reasons indented), then exactly
 * `N passed, N failed`.
 * @returns 0 when every case passed; 1 on a failure, or when the rules or case files do not load
 * (their problems are printed as `file:line:col: message`).
 */
export async function runTestCommand(options: TestCommandOptions, io: CommandIo): Promise<number> {
  const report = await runRuleTests({
    rulesDir: options.rulesDir,
    normalizers: options.normalizers ?? sourceRegistry,
    actions: options.actions ?? actionRegistry,
  });
  if (report.problems.length > 0) {
    reportRuleProblems(io, report.problems, 'no test case ran');
    return 1;
  }
  for (const result of report.results) {
    const label = `${path.relative(options.rulesDir, result.file)} › ${result.name}`;
    if (result.isPassed) io.stdout(`✓ ${label}`);
    else {
      io.stdout(`✗ ${label}`);
      for (const reason of result.reasons) io.stdout(`    ${reason}`);
    }
  }
  io.stdout(`${report.passed} passed, ${report.failed} failed`);
  return report.failed === 0 ? 0 : 1;
}
