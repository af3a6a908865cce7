// Mutation testing of the security-critical code (`npm run test:mutation`; not part of `npm test`).
// Each file below carries a claim of the README's security notes; a mutant that survives is a line
// whose removal no test would notice. Target: at least 90% of mutants killed (see README).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'mocha',
  // The specs are TypeScript run through tsx, as `npm test` runs them.
  testRunnerNodeArgs: ['--require', './stryker/resolve-cjs.cjs', '--import', 'tsx'],
  mochaOptions: {
    spec: ['test/unit/**/*.spec.ts', 'test/integration/http/*.spec.ts'],
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
    // The sandbox: the engine's options and the tags it removes (createEngine).
    'src/rules/templates.ts:32-52',
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
