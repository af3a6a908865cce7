import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { compileRuleFiles, type CompileOptions, type LoadResult, type RuleFileSource } from './compile-rules.js';

/** Rule files are the `*.yaml` and `*.yml` files directly in the rules directory. */
export function isRuleFileName(name: string): boolean {
  return /\.ya?ml$/i.test(name) && !name.startsWith('.');
}

export type LoadRulesOptions = CompileOptions;

/**
 * Reads every `*.yaml`/`*.yml` file directly in `dir` (not `tests/` or other subfolders), in name
 * order, and validates and compiles them all against `options.actions`. Never throws for bad
 * content: every problem in every file comes back in `problems`.
 * @returns `{ ok: true, ruleSet }`, or `{ ok: false, problems }` (a missing directory is a problem).
 */
export async function loadRules(dir: string, options: LoadRulesOptions): Promise<LoadResult> {
  let names: string[];
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    names = entries.filter((entry) => entry.isFile() && isRuleFileName(entry.name)).map((entry) => entry.name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? 'the rules directory does not exist' : code === 'ENOTDIR' ? 'the rules path is not a directory' : `the rules directory cannot be read (${code ?? String(error)})`;
    return { ok: false, problems: [{ file: dir, line: 1, column: 1, message }] };
  }
  names.sort();
  const sources: RuleFileSource[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      sources.push({ file, content: await readFile(file) });
    } catch (error) {
      // Deleted between readdir and readFile (an editor's atomic save): the watcher reloads again.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return compileRuleFiles(sources, options);
}
