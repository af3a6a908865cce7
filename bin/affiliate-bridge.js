#!/usr/bin/env node
// Runs the compiled CLI. `npm start` and `npm test` build dist/ first; elsewhere run `npm run build`.
try {
  await import('../dist/cli/index.js');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/cli/index.js')) {
    console.error('affiliate-bridge is not built yet: run `npm run build` (npm start does it for you).');
    process.exit(1);
  }
  throw error;
}
