import { formatProblem, type RuleProblem } from '../rules/problems.js';

/** Where a command writes; tests pass collectors, the binary passes the process streams. */
export interface CommandIo {
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
}

export const processIo: CommandIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Prints every rule problem as `file:line:col: message` on stderr, then one line saying how many
 * and what follows from them (`the rules in ./rules do not load`).
 */
export function reportRuleProblems(io: CommandIo, problems: readonly RuleProblem[], consequence: string): void {
  for (const problem of problems) io.stderr(formatProblem(problem));
  io.stderr(`${problems.length} problem${problems.length === 1 ? '' : 's'}: ${consequence}`);
}
