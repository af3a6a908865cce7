// @stryker-mutator/mocha-runner 9 (the last line that runs on Node 20) requires Mocha's CLI
// helpers without an extension (`mocha/lib/cli/run-helpers`); Mocha 12 ships them as `.cjs`.
// Letting extensionless requires also try `.cjs` is all it takes: the runner then uses Mocha 12's
// own helpers unchanged. Loaded only by `npm run test:mutation`.
const Module = process.getBuiltinModule('node:module');
if (!Module._extensions['.cjs']) Module._extensions['.cjs'] = Module._extensions['.js'];
