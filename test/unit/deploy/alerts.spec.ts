import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { parse } from 'yaml';
import { BridgeMetrics } from '../../../src/observability/metrics.js';

const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url));
const run = promisify(execFile);

interface AlertRule {
  readonly alert: string;
  readonly expr: string;
}

const alertRules = (): AlertRule[] => {
  const file = parse(readFileSync(path.join(DEPLOY, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: AlertRule[] }> };
  return file.groups.flatMap((group) => group.rules);
};

/** The series names a registered metric exposes (a histogram adds _bucket, _sum and _count). */
async function registeredSeriesNames(): Promise<Set<string>> {
  const metrics = await new BridgeMetrics().registry.getMetricsAsJSON();
  return new Set(
    metrics.flatMap(({ name, type }) => (String(type) === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name])),
  );
}

async function hasPromtool(): Promise<boolean> {
  try {
    await run('promtool', ['--version'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

describe('deploy/alerts.yml', () => {
  it('alerts on dead letters, a paused integration, rule reload errors, Redis down and intake 503s', () => {
    expect(alertRules().map((rule) => rule.alert)).to.deep.equal([
      'BridgeDeadLettersGrowing',
      'BridgeIntegrationPaused',
      'BridgeRuleReloadFailed',
      'BridgeRedisDown',
      'BridgeIntakeUnavailable',
    ]);
  });

  it('uses only metrics the bridge registers (read from its real registry)', async () => {
    const registered = await registeredSeriesNames();
    for (const rule of alertRules()) {
      // Every bridge metric is prefixed bridge_; labels and PromQL functions never are.
      const used = rule.expr.match(/\bbridge_[a-z0-9_]+/g) ?? [];
      expect(used.length, `${rule.alert} names no bridge metric`).to.be.greaterThan(0);
      for (const name of used) expect(registered.has(name), `${rule.alert}: ${name} is not registered`).to.equal(true);
    }
  });

  describe('promtool (Debian package "prometheus")', function () {
    this.timeout(60_000);
    before(async function () {
      if (!(await hasPromtool())) {
        console.log('    promtool is not on the PATH: skipping `promtool check rules` (install it with `apt-get install prometheus`)');
        this.skip();
      }
    });

    it('`promtool check rules` accepts the file', async () => {
      const { stdout } = await run('promtool', ['check', 'rules', 'alerts.yml'], { cwd: DEPLOY });
      expect(stdout).to.include(`SUCCESS: ${alertRules().length} rules found`);
    });

    it('`promtool test rules`: each alert fires on its failure and stays quiet on a healthy bridge', async () => {
      const { stdout } = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: DEPLOY });
      expect(stdout).to.include('SUCCESS');
    });
  });
});
