import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MOCHA = fileURLToPath(new URL('../../node_modules/mocha/bin/mocha.js', import.meta.url));

/** Runs mocha as `npx mocha` would, from the repository root, with `.mocharc.json` applied. */
async function runMocha(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [MOCHA, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output };
}

/** Issue 10, point 14: running one spec file runs that file; the dashboard test skips visibly without Chromium. */
describe('test ergonomics', function () {
  this.timeout(60_000);

  it('.mocharc.json names no spec glob: `npx mocha path/to/spec` would otherwise run the whole suite besides that file', async () => {
    const config = JSON.parse(await readFile(new URL('../../.mocharc.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    expect(config).not.to.have.property('spec');
  });

  it('`npx mocha test/unit/sources/registry.spec.ts` runs that file and nothing else', async () => {
    const { code, output } = await runMocha(['--dry-run', '--reporter', 'json', 'test/unit/sources/registry.spec.ts']);
    expect(code).to.equal(0);
    const report = JSON.parse(output.slice(output.indexOf('{'))) as { tests: Array<{ file: string }> };
    const files = new Set(report.tests.map((test) => test.file.slice(ROOT.length)));
    expect([...files]).to.deep.equal(['test/unit/sources/registry.spec.ts']);
    expect(report.tests.length).to.be.greaterThan(10);
  });

  it('the dashboard test without Chromium: skipped with one line saying how to install it; under CI=true it fails', async () => {
    const missing = { BRIDGE_TEST_CHROMIUM_PATH: '/nonexistent/chromium' };
    const local = await runMocha(['test/e2e/dashboard.spec.ts'], missing);
    expect(local.code, local.output).to.equal(0);
    const howTo = local.output.split('\n').filter((line) => line.includes('dashboard browser test skipped'));
    expect(howTo).to.deep.equal([
      "      dashboard browser test skipped: /nonexistent/chromium is missing: install Debian's chromium package (apt-get install -y chromium). This test never downloads a browser.",
    ]);
    // Every test of the file is pending, none ran.
    const dashboardTests = (await readFile(new URL('../e2e/dashboard.spec.ts', import.meta.url), 'utf8')).match(/^\s+it\(/gm)!.length;
    expect(local.output).to.match(new RegExp(`\\b${dashboardTests} pending\\b`));
    expect(local.output).to.match(/\b0 passing\b/);

    const ci = await runMocha(['test/e2e/dashboard.spec.ts'], { ...missing, CI: 'true' });
    expect(ci.code).not.to.equal(0);
    expect(ci.output).to.contain('/nonexistent/chromium is missing');
  });
});
