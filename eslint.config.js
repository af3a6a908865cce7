// ESLint with typescript-eslint's recommended rules, plus the layers of src/: which folder may
// import which. `npm run lint` (run by `npm test`) also runs madge for import cycles.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The zones of src/, from the leaves up. A zone may import only the zones listed for it (and
 * itself); the composition root (main.ts, roles/, lifecycle.ts) and the CLI may import anything.
 * Import specifiers are relative paths, so each zone is matched as a path segment.
 */
const zones = {
  infra: { files: ['src/infra/**', 'src/errors.ts', 'src/secret.ts', 'src/events/**'], forbidden: ['actions', 'cli', 'config', 'http', 'observability', 'queue', 'roles', 'rules', 'sources', 'main', 'lifecycle'] },
  config: { files: ['src/config/env-variable.ts'], forbidden: ['actions', 'cli', 'http', 'observability', 'queue', 'roles', 'rules', 'sources', 'main', 'lifecycle'] },
  // Retry policy, job options and plan-or-quarantine: the one owner every role and tool reads.
  delivery: { files: ['src/delivery/**'], forbidden: ['actions', 'cli', 'config', 'http', 'observability', 'queue', 'roles', 'sources', 'main', 'lifecycle', 'tooling'] },
  sources: { files: ['src/sources/**'], forbidden: ['actions', 'cli', 'http', 'observability', 'queue', 'roles', 'rules', 'main', 'lifecycle', 'config/config'] },
  actions: { files: ['src/actions/**'], forbidden: ['cli', 'http', 'queue', 'roles', 'rules', 'sources', 'main', 'lifecycle'] },
  observability: { files: ['src/observability/**'], forbidden: ['actions', 'cli', 'http', 'queue', 'roles', 'rules', 'main', 'lifecycle'] },
  // The rule language (load, compile, match, render) sees an action only through its interface:
  // the catalog of actions is passed in, so `check` never loads an integration's client.
  rules: {
    files: ['src/rules/**'],
    ignores: ['src/rules/tooling/**'],
    forbidden: ['cli', 'http', 'queue', 'roles', 'main', 'lifecycle', 'tooling', 'actions/registry', 'actions/slack', 'actions/hubspot', 'config/config'],
  },
  tooling: { files: ['src/rules/tooling/**'], forbidden: ['cli', 'http', 'queue', 'roles', 'main', 'lifecycle', 'actions/registry', 'actions/slack', 'actions/hubspot'] },
  queue: { files: ['src/queue/**'], forbidden: ['cli', 'http', 'roles', 'main', 'lifecycle', 'tooling', 'actions/registry', 'actions/slack', 'actions/hubspot'] },
  // Reconciliation: provider API clients' shell, the entity ledger, runs and their schedule.
  reconcile: { files: ['src/reconcile/**'], forbidden: ['actions', 'cli', 'http', 'roles', 'rules', 'main', 'lifecycle', 'tooling'] },
  http: { files: ['src/http/**'], forbidden: ['cli', 'roles', 'main', 'lifecycle', 'tooling', 'actions/registry', 'actions/slack', 'actions/hubspot'] },
};

const layerRules = Object.entries(zones).map(([zone, { files, ignores = [], forbidden }]) => ({
  files,
  ignores,
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: forbidden.map((target) => ({
          group: [`**/${target}`, `**/${target}.js`, `**/${target}/**`],
          message: `${zone} may not import ${target}: see the zones in eslint.config.js`,
        })),
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'reports/**', 'coverage/**', '.stryker-tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_`-prefixed parameters are required by a signature (Express error handlers) but unused.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // Plain-JavaScript tool scripts run by Node (the mutation-testing preload): Node's globals.
  { files: ['stryker/**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: { process: 'readonly' } } },
  // Node-RED's settings for bench/peer.ts: Node-RED loads them with require(), so CommonJS.
  {
    files: ['bench/node-red/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // Tests and benchmarks poke at parsed JSON fixtures; typing every fixture adds nothing there.
  { files: ['test/**', 'bench/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  { files: ['**/*.js'], languageOptions: { globals: { console: 'readonly', process: 'readonly' } } },
  ...layerRules,
);
