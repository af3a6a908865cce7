// Mutation testing of the security-critical code (`npm run test:mutation`; not part of `npm test`).
// Each file below carries a claim of the README's security notes; a mutant that survives is a line
// whose removal no test would notice. Target: at least 90% of mutants killed (see README).
import { readFileSync } from 'node:fs';

/**
 * `file:start-end`: the lines of the top-level function `name` (from its line to the first line
 * that is only `}`), found in the source each run, so the range follows edits to the file.
 */
function linesOfFunction(file, name) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((line) => line.startsWith(`function ${name}(`)) + 1;
  if (start === 0) throw new Error(`stryker.config.mjs: no function ${name} in ${file}`);
  const end = lines.findIndex((line, index) => index >= start && line === '}') + 1;
  return `${file}:${start}-${end}`;
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'mocha',
  // The specs are TypeScript run through tsx, as `npm test` runs them.
  testRunnerNodeArgs: ['--require', './stryker/resolve-cjs.cjs', '--import', 'tsx'],
  mochaOptions: {
    spec: [
      'test/unit/**/*.spec.ts',
      'test/integration/http/*.spec.ts',
      // The intake's batching, dedup decisions and its Redis script, on real Redis.
      'test/integration/queue/event-intake.spec.ts',
      'test/integration/queue/event-job-store.spec.ts',
    ],
    // It starts the built binary (dist/), which holds no mutant: it would only slow every run.
    ignore: ['test/integration/http/intake-bounds.spec.ts'],
    // .mocharc.json still gives the timeout; its node-option (tsx) does not reach an in-process
    // runner, hence testRunnerNodeArgs above.
  },
  mutate: [
    'src/secret.ts',
    'src/sources/firstpromoter/auth.ts',
    'src/sources/rewardful/signature.ts',
    'src/sources/scrub-secrets.ts',
    'src/sources/strip-secrets.ts',
    'src/actions/slack/mrkdwn.ts',
    'src/queue/event-intake.ts',
    'src/queue/event-job-store.ts',
    // The sandbox: the engine's options and the tags it removes.
    linesOfFunction('src/rules/templates.ts', 'createEngine'),
  ],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 20000,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 95, low: 90, break: 90 },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
