import path from 'node:path';
import { BridgeError } from '../errors.js';

/** One problem in a rule file or rule-test file, positioned at the YAML node it concerns. */
export interface RuleProblem {
  /** The file as it was given (relative to the working directory when the directory was). */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** An exact sentence; tests assert it. */
  readonly message: string;
}

/**
 * Formats a problem as `file:line:col: message`, the form editors and CI annotate.
 * Absolute paths inside `cwd` are shown relative to it; others as given.
 */
export function formatProblem(problem: RuleProblem, cwd: string = process.cwd()): string {
  return `${displayPath(problem.file, cwd)}:${problem.line}:${problem.column}: ${problem.message}`;
}

/** `file` relative to `cwd` when it is absolute and inside it; unchanged otherwise. */
export function displayPath(file: string, cwd: string = process.cwd()): string {
  if (!path.isAbsolute(file)) return file;
  const relative = path.relative(cwd, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** Orders problems by file, then position, so output is stable whatever order checks ran in. */
export function sortProblems(problems: readonly RuleProblem[]): RuleProblem[] {
  return [...problems].sort(
    (a, b) => compareStrings(a.file, b.file) || a.line - b.line || a.column - b.column,
  );
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Rule files that do not load. Carries every problem; the message lists them one per line as
 * `file:line:col: message`, so start-up logs and `check` show the same text.
 */
export class RuleLoadError extends BridgeError {
  readonly problems: readonly RuleProblem[];

  constructor(problems: readonly RuleProblem[]) {
    super(
      'rules_invalid',
      `rule files have ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
        problems.map((problem) => formatProblem(problem)).join('\n'),
    );
    this.problems = problems;
  }
}
