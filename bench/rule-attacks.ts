/**
 * The three rule CPU/memory attacks of issue 10, before and after the rule budget. Run:
 * `npx tsx bench/rule-attacks.ts`. Prints, per attack, the time (and memory growth) of the bare
 * libraries as the bridge used them before (cel-js's default environment, liquidjs's own emitter and
 * capture) and of the bridge's compiled condition or template now.
 *
 * The "before" runs are scaled down so the script stays short on a shared machine (each attack's
 * comment says how it scales); the "after" runs use the full attack and more. The "before" runs are
 * in a child process that never loads the bridge's rules: loading them switches V8's regexp
 * fallback on for the whole process.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Environment } from '@marcbachmann/cel-js';
import { Liquid } from 'liquidjs';

function measure(label: string, run: () => unknown): void {
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  let outcome: string;
  try {
    const result = run();
    // Sending or escaping the text flattens V8's rope of concatenations: count its bytes to do the same.
    outcome = typeof result === 'string' ? `${Buffer.byteLength(result).toLocaleString('en')} bytes` : JSON.stringify(result);
  } catch (error) {
    outcome = `error: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
  }
  const ms = performance.now() - started;
  const rssGrowthMb = (process.memoryUsage().rss - rssBefore) / 1e6;
  console.log(`${label.padEnd(48)} ${ms.toFixed(1).padStart(9)} ms  rss +${rssGrowthMb.toFixed(0).padStart(4)} MB  ${outcome}`);
}

const event = { id: 'firstpromoter-1', type: 'firstpromoter.lead_signup' };
/** 1. Catastrophic backtracking: each extra character doubles the bare run (28 characters: about 1.3 s). */
const REGEX = 'data.email.matches("^(a+)+$")';
const emailOf = (length: number) => `${'a'.repeat(length - 1)}b`;
/** 2. Nested comprehensions: the bare run is quadratic (1,000 items: about 18 s). */
const NESTED = 'data.items.all(x, data.items.all(y, x.id != y.id || x.tag == y.tag))';
const itemsOf = (count: number) => Array.from({ length: count }, (_, i) => ({ id: i, tag: `t${i}` }));
/** 3. A capture that doubles itself: the bare run doubles its text per loop (28 loops: 512 MB). */
const doubling = (loops: number) =>
  `{% capture x %}ab{% endcapture %}{% for i in (1..${loops}) %}{% capture x %}{{ x }}{{ x }}{% endcapture %}{% endfor %}{{ x }}`;

if (process.argv[2] === 'before') {
  console.log('before: the bare libraries, as the bridge used them');
  const bareCel = new Environment({ homogeneousAggregateLiterals: false, enableOptionalTypes: true }).registerVariable('data', 'map').registerVariable('event', 'map');
  for (const length of [24, 26, 27]) measure(`1. matches(), ${length} characters`, () => bareCel.parse(REGEX)({ event, data: { email: emailOf(length) } }));
  for (const count of [100, 300, 1_000]) {
    const data = { items: itemsOf(count) };
    measure(`2. nested all(), ${count.toLocaleString('en')} items`, () => bareCel.parse(NESTED)({ event, data }));
  }
  const bareLiquid = new Liquid({ ownPropertyOnly: true, templates: {}, parseLimit: 100_000, renderLimit: 1_000, memoryLimit: 10_000_000 });
  for (const loops of [20, 24, 26]) measure(`3. capture, ${loops} doublings`, () => bareLiquid.parseAndRenderSync(doubling(loops), {}) as string);
} else {
  execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'before'], { stdio: 'inherit' });
  const { compileCondition, isConditionProblem } = await import('../src/rules/conditions.js');
  const { compileTemplateTree, renderTemplateTree } = await import('../src/rules/templates.js');
  console.log("after: the bridge's compiled conditions and templates");
  const regexCondition = compileCondition(REGEX);
  if (isConditionProblem(regexCondition)) throw new Error(regexCondition.message);
  for (const length of [28, 10_000, 100_000]) {
    measure(`1. matches(), ${length.toLocaleString('en')} characters`, () => regexCondition.evaluate({ event: event as never, data: { email: emailOf(length) } }));
  }
  const nestedCondition = compileCondition(NESTED);
  if (isConditionProblem(nestedCondition)) throw new Error(nestedCondition.message);
  for (const count of [100, 300, 1_000, 10_000]) {
    const data = { items: itemsOf(count) };
    measure(`2. nested all(), ${count.toLocaleString('en')} items`, () => nestedCondition.evaluate({ event: event as never, data }));
  }
  for (const loops of [24, 40]) {
    const { tree } = compileTemplateTree(doubling(loops));
    measure(`3. capture, ${loops} doublings`, () => renderTemplateTree(tree, { event, data: {} }, { strict: false }).value);
  }
}
