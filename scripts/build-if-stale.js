#!/usr/bin/env node
// `npm start`'s prestart: compiles src/ into dist/ only when dist/ is missing or older than a source
// file or a build setting. A full tsc costs 10–14 s on a small machine; this check costs a
// directory walk. `npm run build` still compiles unconditionally.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Files whose change changes the build: the sources, the compiler settings, the dependencies' types. */
const BUILD_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];

/** Newest modification time (ms) of the files under `dir`; 0 when it does not exist. */
function newestMtime(dir) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

function mtimeOf(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Why `root` needs a build, or null when dist/ is current. tsc rewrites every output on each build,
 * so the entry point's time is the time of the last build.
 */
export function staleReason(root) {
  const built = mtimeOf(path.join(root, 'dist', 'cli', 'index.js'));
  if (built === 0) return 'dist/ is not built yet';
  if (newestMtime(path.join(root, 'src')) > built) return 'src/ changed since the last build';
  const changedSetting = BUILD_INPUTS.find((file) => mtimeOf(path.join(root, file)) > built);
  return changedSetting ? `${changedSetting} changed since the last build` : null;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  // `--check [root]`: only say whether a build is due (exit 0 current, 1 stale); tests use it.
  const checkOnly = process.argv[2] === '--check';
  const rootArgument = checkOnly ? process.argv[3] : process.argv[2];
  const root = path.resolve(rootArgument ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
  const reason = staleReason(root);
  if (checkOnly) {
    console.log(reason ?? 'up to date');
    process.exit(reason === null ? 0 : 1);
  } else if (reason === null) {
    console.log('dist/ is up to date: not recompiling (`npm run build` forces it).');
  } else {
    console.log(`Compiling (${reason})…`);
    const result = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
    process.exit(result.status ?? 1);
  }
}
