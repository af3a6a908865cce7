import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import type { ActionCatalog } from '../../actions/action.js';
import { planUnlessQuarantined } from '../../delivery/delivery-policy.js';
import { INTERNAL_SOURCE } from '../../events/internal-events.js';
import { buildEventFromPayload, describeChangedEvent, setEventPath, type PayloadNormalizers } from './event-from-payload.js';
import { describeFalseParts } from '../condition-explanation.js';
import { KNOWN_SOURCES } from '../event-patterns.js';
import { loadRules, isRuleFileName } from '../load-rules.js';
import { planActions, type Plan, type PlannedAction } from '../plan.js';
import { sortProblems, type RuleProblem } from '../problems.js';
import type { RuleSet } from '../rule-set.js';
import { YamlFile } from '../yaml-nodes.js';

/** Rule tests live in this subfolder of the rules directory. */
export const RULE_TESTS_DIR = 'tests';

/**
 * `receivedAt` of every test event: fixed so a template using `event.receivedAt` renders the same
 * on every run.
 */
export const TEST_RECEIVED_AT = new Date('2024-01-01T00:00:00.000Z');

/** How a case's rendered text is checked. */
export type TextExpectation = { readonly contains: string } | { readonly equals: string };

/** One expected action: every given field must hold; `params` is a subset match. */
export interface ExpectedAction {
  readonly action?: string;
  readonly rule?: string;
  readonly params?: Record<string, unknown>;
  readonly text?: TextExpectation;
  /** The rendered once_per key the action must carry. */
  readonly oncePer?: string;
}

/** One case of a rule-test file. */
export interface RuleTestCase {
  readonly file: string;
  readonly line: number;
  readonly name: string;
  /** The fixture path resolved against the case file's folder, or the inline payload. */
  readonly input: { readonly fixture: string } | { readonly payload: unknown };
  readonly source?: string;
  readonly set: readonly (readonly [path: string, value: unknown])[];
  readonly expect: {
    readonly nothing: boolean;
    readonly rules?: readonly string[];
    readonly actions?: readonly ExpectedAction[];
  };
}

const FILE_KEYS = ['cases'] as const;
const CASE_KEYS = ['name', 'fixture', 'payload', 'source', 'set', 'expect'] as const;
const EXPECT_KEYS = ['nothing', 'rules', 'actions'] as const;
const ACTION_KEYS = ['action', 'rule', 'params', 'text', 'once_per'] as const;
const TEXT_KEYS = ['contains', 'equals'] as const;

/**
 * What a case's `source` may name: the registry's sources (KNOWN_SOURCES, which `on:` patterns read
 * too) and the bridge's own events, whose payload is the event's type and data. Not added to
 * KNOWN_SOURCES: that list is the webhook sources, and `bridge` is none.
 */
const CASE_SOURCES: readonly string[] = [...KNOWN_SOURCES, INTERNAL_SOURCE];

/**
 * Parses and validates one rule-test file strictly (unknown keys, missing fields), reporting every
 * problem as `file:line:col: message`. Pure.
 */
export function parseRuleTestFile(file: string, text: string): { cases: RuleTestCase[]; problems: RuleProblem[] } {
  const yaml = YamlFile.parse(file, text);
  const cases: RuleTestCase[] = [];
  if (yaml.hasSyntaxErrors) return { cases, problems: yaml.problems };
  const root = yaml.root;
  if (root === null) {
    yaml.reportAtOffset(0, 'the file is empty: a rule-test file needs a cases: list');
    return { cases, problems: yaml.problems };
  }
  if (!isMap(root)) {
    yaml.report(root, 'a rule-test file must be a mapping with a cases: list');
    return { cases, problems: yaml.problems };
  }
  const casesNode = yaml.knownEntriesOf(root, FILE_KEYS, 'a rule-test file').get('cases')?.value;
  if (!isSeq(casesNode) || casesNode.items.length === 0) {
    yaml.report(casesNode ?? root, 'cases must be a non-empty list of test cases');
    return { cases, problems: yaml.problems };
  }
  for (const item of casesNode.items) {
    const testCase = parseCase(yaml, yaml.resolve(item) ?? casesNode);
    if (testCase) cases.push(testCase);
  }
  return { cases, problems: yaml.problems };
}

function parseCase(yaml: YamlFile, node: Node): RuleTestCase | null {
  if (!isMap(node)) {
    yaml.report(node, 'a test case must be a mapping with name, fixture or payload, and expect');
    return null;
  }
  const before = yaml.problems.length;
  const entries = yaml.knownEntriesOf(node, CASE_KEYS, 'a test case');
  const name = stringAt(yaml, entries.get('name')?.value, node, 'name', 'a test case needs a name');
  const fixture = entries.get('fixture');
  const payload = entries.get('payload');
  if (fixture && payload) yaml.report(payload.keyNode, 'a test case takes fixture or payload, not both');
  if (!fixture && !payload) yaml.report(node, 'a test case needs fixture (a payload file) or payload (inline)');
  const fixturePath = fixture ? stringAt(yaml, fixture.value, fixture.keyNode, 'fixture') : null;
  if (payload && !isMap(payload.value)) yaml.report(payload.value ?? payload.keyNode, 'payload must be a mapping: the full provider envelope');

  const sourceEntry = entries.get('source');
  const source = sourceEntry ? stringAt(yaml, sourceEntry.value, sourceEntry.keyNode, 'source') : null;
  if (source !== null && !CASE_SOURCES.includes(source)) {
    yaml.report(sourceEntry?.value, `unknown source ${source}: use ${CASE_SOURCES.join(' or ')}`);
  }

  const set: (readonly [string, unknown])[] = [];
  const setEntry = entries.get('set');
  if (setEntry) {
    if (!isMap(setEntry.value)) yaml.report(setEntry.value ?? setEntry.keyNode, 'set must be a mapping of dotted paths to values, such as data.suspicion: self_referral');
    else {
      for (const entry of yaml.entriesOf(setEntry.value)) {
        if (!/^(data|event)(\.[^.]+)+$/.test(entry.key)) {
          yaml.report(entry.keyNode, `set path ${entry.key} must start with data. or event.`);
        } else if (entry.key.split('.').some((segment) => ['__proto__', 'prototype', 'constructor'].includes(segment))) {
          yaml.report(entry.keyNode, `set path ${entry.key} names a forbidden key`);
        } else set.push([entry.key, entry.value === null ? null : entry.value.toJS(yaml.document)]);
      }
    }
  }

  const expectEntry = entries.get('expect');
  if (!expectEntry) yaml.report(node, 'a test case needs expect: nothing, rules and/or actions');
  const expect = expectEntry ? parseExpect(yaml, expectEntry.value ?? expectEntry.keyNode) : null;

  if (yaml.problems.length > before || name === null || expect === null) return null;
  const input = fixturePath !== null
    ? { fixture: path.join(path.dirname(yaml.file), fixturePath) }
    : { payload: (payload!.value as YAMLMap).toJS(yaml.document) as unknown };
  return {
    file: yaml.file,
    line: yaml.positionOf(node.range?.[0] ?? 0).line,
    name,
    input,
    ...(source !== null ? { source } : {}),
    set,
    expect,
  };
}

function parseExpect(yaml: YamlFile, node: Node): RuleTestCase['expect'] | null {
  if (!isMap(node)) {
    yaml.report(node, 'expect must be a mapping with nothing, rules and/or actions');
    return null;
  }
  const entries = yaml.knownEntriesOf(node, EXPECT_KEYS, 'expect');
  const nothingEntry = entries.get('nothing');
  let nothing = false;
  if (nothingEntry) {
    if (!isScalar(nothingEntry.value) || nothingEntry.value.value !== true) {
      yaml.report(nothingEntry.value ?? nothingEntry.keyNode, 'nothing must be true (or left out)');
    } else nothing = true;
  }
  const rulesEntry = entries.get('rules');
  let rules: string[] | undefined;
  if (rulesEntry) {
    if (!isSeq(rulesEntry.value) || !rulesEntry.value.items.every((item) => isScalar(item) && typeof item.value === 'string')) {
      yaml.report(rulesEntry.value ?? rulesEntry.keyNode, 'rules must be a list of rule ids (the exact set that fires)');
    } else rules = rulesEntry.value.items.map((item) => String((item as { value: unknown }).value));
  }
  const actionsEntry = entries.get('actions');
  let actions: ExpectedAction[] | undefined;
  if (actionsEntry) {
    if (!isSeq(actionsEntry.value)) yaml.report(actionsEntry.value ?? actionsEntry.keyNode, 'actions must be a list of expected actions');
    else actions = actionsEntry.value.items.flatMap((item) => parseExpectedAction(yaml, yaml.resolve(item) ?? actionsEntry.keyNode) ?? []);
  }
  if (nothing && (rulesEntry || actionsEntry)) yaml.report(nothingEntry?.keyNode, 'nothing: true cannot be combined with rules or actions');
  if (!nothingEntry && !rulesEntry && !actionsEntry) yaml.report(node, 'expect needs nothing: true, rules or actions');
  return { nothing, ...(rules ? { rules } : {}), ...(actions ? { actions } : {}) };
}

function parseExpectedAction(yaml: YamlFile, node: Node): ExpectedAction | null {
  if (!isMap(node)) {
    yaml.report(node, 'an expected action must be a mapping with action, rule, params and/or text');
    return null;
  }
  const entries = yaml.knownEntriesOf(node, ACTION_KEYS, 'an expected action');
  const result: { action?: string; rule?: string; params?: Record<string, unknown>; text?: TextExpectation; oncePer?: string } = {};
  const action = entries.get('action');
  if (action) result.action = stringAt(yaml, action.value, action.keyNode, 'action') ?? undefined;
  const rule = entries.get('rule');
  if (rule) result.rule = stringAt(yaml, rule.value, rule.keyNode, 'rule') ?? undefined;
  const params = entries.get('params');
  if (params) {
    if (!isMap(params.value)) yaml.report(params.value ?? params.keyNode, 'params must be a mapping (a subset of the rendered params)');
    else result.params = params.value.toJS(yaml.document) as Record<string, unknown>;
  }
  const text = entries.get('text');
  if (text) {
    if (!isMap(text.value)) yaml.report(text.value ?? text.keyNode, 'text must be { contains: "…" } or { equals: "…" }');
    else {
      const textEntries = yaml.knownEntriesOf(text.value, TEXT_KEYS, 'text');
      const contains = textEntries.get('contains');
      const equals = textEntries.get('equals');
      if (contains && equals) yaml.report(equals.keyNode, 'text takes contains or equals, not both');
      else if (contains) {
        const value = stringAt(yaml, contains.value, contains.keyNode, 'contains');
        if (value !== null) result.text = { contains: value };
      } else if (equals) {
        const value = stringAt(yaml, equals.value, equals.keyNode, 'equals');
        if (value !== null) result.text = { equals: value };
      } else yaml.report(text.value, 'text needs contains or equals');
    }
  }
  const oncePer = entries.get('once_per');
  if (oncePer) result.oncePer = stringAt(yaml, oncePer.value, oncePer.keyNode, 'once_per') ?? undefined;
  if (entries.size === 0) yaml.report(node, 'an expected action needs action, rule, params or text');
  return result;
}

function stringAt(yaml: YamlFile, node: Node | null | undefined, fallback: Node, key: string, missingMessage?: string): string | null {
  if (node === undefined && missingMessage) {
    yaml.report(fallback, missingMessage);
    return null;
  }
  if (!isScalar(node) || typeof node.value !== 'string' || node.value === '') {
    yaml.report(node ?? fallback, `${key} must be a non-empty string`);
    return null;
  }
  return node.value;
}

/** The outcome of one case. */
export interface RuleTestResult {
  readonly file: string;
  readonly name: string;
  readonly isPassed: boolean;
  /** Why it failed, one sentence each; empty when passed. */
  readonly reasons: readonly string[];
  /** The plan the case produced (absent when the event could not be built). */
  readonly plan?: Plan;
}

/** Options of {@link runRuleTestCase}. */
export interface RunCaseOptions {
  /** How a case's payload becomes an event (a source registry is one). */
  readonly normalizers: PayloadNormalizers;
  /** Reads a fixture file. @defaultValue fs.readFile as UTF-8 */
  readonly readText?: (file: string) => Promise<string>;
}

/**
 * Runs one case: builds the event (through the source's normaliser), applies `set`, plans with
 * strict templates, and compares the plan with `expect`. Any action that cannot be planned, and any
 * condition that fails to evaluate, fails the case.
 */
export async function runRuleTestCase(ruleSet: RuleSet, testCase: RuleTestCase, options: RunCaseOptions): Promise<RuleTestResult> {
  const fail = (reasons: string[], plan?: Plan): RuleTestResult => ({ file: testCase.file, name: testCase.name, isPassed: reasons.length === 0, reasons, plan });
  const readText = options.readText ?? ((file: string) => readFile(file, 'utf8'));
  let body: unknown;
  if ('fixture' in testCase.input) {
    try {
      body = JSON.parse(await readText(testCase.input.fixture));
    } catch (error) {
      return fail([`cannot read fixture ${testCase.input.fixture}: ${error instanceof Error ? error.message : String(error)}`]);
    }
  } else body = testCase.input.payload;

  let event;
  try {
    event = buildEventFromPayload(body, { source: testCase.source, normalizers: options.normalizers, receivedAt: TEST_RECEIVED_AT });
    for (const [dottedPath, value] of testCase.set) event = setEventPath(event, dottedPath, value);
    // As if the provider (or the bridge) had sent it so: the affiliate model follows the changed
    // payload; a bridge event's data is checked again.
    if (testCase.set.length > 0) event = describeChangedEvent(event, options.normalizers);
  } catch (error) {
    return fail([`cannot build the event: ${error instanceof Error ? error.message : String(error)}`]);
  }

  // A case is a first delivery: a quarantined event runs no rules, as in the events worker.
  const { isQuarantined, plan } = planUnlessQuarantined(event, 'first', (planned) => planActions(ruleSet, planned, { strictTemplates: true }));
  return fail(compareWithExpectation(plan, testCase.expect, isQuarantined ? event.validationErrors : undefined), plan);
}

function compareWithExpectation(plan: Plan, expect: RuleTestCase['expect'], quarantineErrors: readonly string[] | undefined): string[] {
  const reasons: string[] = [];
  if (quarantineErrors && !expect.nothing) {
    reasons.push(`the event is quarantined, so no rules run: ${quarantineErrors.join('; ') || 'unknown type'}`);
  }
  for (const failure of plan.failures) {
    reasons.push(`rule ${failure.ruleId} action ${failure.actionIndex + 1} (${failure.action}) could not be planned: ${failure.error}`);
  }
  for (const rule of plan.unmatched) {
    if (rule.reason === 'condition_error') reasons.push(`rule ${rule.ruleId} condition failed: ${rule.error}`);
  }
  const fired = plan.matched.map((rule) => rule.ruleId);
  if (expect.nothing && (fired.length > 0 || plan.actions.length > 0)) {
    reasons.push(`expected nothing to fire, but ${listRules(fired)} fired`);
  }
  if (expect.rules) {
    const expected = [...new Set(expect.rules)].sort();
    const actual = [...new Set(fired)].sort();
    if (expected.join('\n') !== actual.join('\n')) {
      reasons.push(`expected ${expected.length === 0 ? 'no rules' : listRules(expected)} to fire, but ${actual.length === 0 ? 'none' : listRules(actual)} fired`);
      // Why each expected rule that did not fire had a false condition: the part that was false.
      for (const rule of plan.unmatched) {
        if (rule.reason === 'condition_false' && expected.includes(rule.ruleId) && rule.falseParts && rule.falseParts.length > 0) {
          reasons.push(`rule ${rule.ruleId} condition: ${describeFalseParts(rule.falseParts)}`);
        }
      }
    }
  }
  if (expect.actions) reasons.push(...compareActions(plan.actions, expect.actions));
  return reasons;
}

function listRules(ids: readonly string[]): string {
  return ids.length === 0 ? 'no rules' : ids.join(', ');
}

function compareActions(planned: readonly PlannedAction[], expected: readonly ExpectedAction[]): string[] {
  const reasons: string[] = [];
  const unused = [...planned];
  for (const [i, expectation] of expected.entries()) {
    const index = unused.findIndex((action) => mismatchOf(action, expectation) === null);
    if (index >= 0) {
      unused.splice(index, 1);
      continue;
    }
    // Explain against the closest candidate: same action (and rule) when there is one.
    const candidate =
      unused.find((action) => action.action === (expectation.action ?? action.action) && action.provenance.ruleId === (expectation.rule ?? action.provenance.ruleId)) ??
      unused[0];
    reasons.push(
      candidate
        ? `expected action ${i + 1} (${describeExpectation(expectation)}): ${mismatchOf(candidate, expectation)}`
        : `expected action ${i + 1} (${describeExpectation(expectation)}), but no other action was planned`,
    );
  }
  if (planned.length !== expected.length) {
    reasons.push(`expected ${expected.length} action${expected.length === 1 ? '' : 's'}, but ${planned.length} ${planned.length === 1 ? 'was' : 'were'} planned: ${planned.map((action) => `${action.action} from ${action.provenance.ruleId}`).join(', ') || 'none'}`);
  }
  return reasons;
}

function describeExpectation(expectation: ExpectedAction): string {
  return [expectation.action, expectation.rule && `from ${expectation.rule}`].filter(Boolean).join(' ') || 'any action';
}

/** Why `action` does not satisfy `expectation`, or null when it does. */
function mismatchOf(action: PlannedAction, expectation: ExpectedAction): string | null {
  if (expectation.action !== undefined && action.action !== expectation.action) return `the closest planned action is ${action.action}`;
  if (expectation.rule !== undefined && action.provenance.ruleId !== expectation.rule) return `the closest planned action comes from rule ${action.provenance.ruleId}`;
  if (expectation.params) {
    const difference = subsetDifference(action.params, expectation.params, 'params');
    if (difference) return difference;
  }
  if (expectation.oncePer !== undefined && action.oncePer?.key !== expectation.oncePer) {
    return action.oncePer ? `once_per key is ${JSON.stringify(action.oncePer.key)}, not ${JSON.stringify(expectation.oncePer)}` : 'it has no once_per';
  }
  if (expectation.text) {
    const text = action.params.text;
    if (typeof text !== 'string') return 'it has no text';
    if ('contains' in expectation.text && !text.includes(expectation.text.contains)) {
      return `text ${JSON.stringify(text)} does not contain ${JSON.stringify(expectation.text.contains)}`;
    }
    if ('equals' in expectation.text && text !== expectation.text.equals) {
      return `text is ${JSON.stringify(text)}, not ${JSON.stringify(expectation.text.equals)}`;
    }
  }
  return null;
}

/** Maps match when every expected key matches (recursively); anything else must be equal. */
function subsetDifference(actual: unknown, expected: unknown, at: string): string | null {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${at} is ${JSON.stringify(actual)}, not a mapping`;
    for (const [key, value] of Object.entries(expected)) {
      const difference = subsetDifference((actual as Record<string, unknown>)[key], value, `${at}.${key}`);
      if (difference) return difference;
    }
    return null;
  }
  return JSON.stringify(actual) === JSON.stringify(expected) ? null : `${at} is ${actual === undefined ? 'missing' : JSON.stringify(actual)}, not ${JSON.stringify(expected)}`;
}

/** Everything `affiliate-bridge test` found. */
export interface RuleTestReport {
  /** Problems of the rule files or the test files; when non-empty no case ran. */
  readonly problems: readonly RuleProblem[];
  readonly results: readonly RuleTestResult[];
  readonly passed: number;
  readonly failed: number;
}

/** Options of {@link runRuleTests}. */
export interface RunRuleTestsOptions {
  /** The rules directory; its cases are the `*.yaml`/`*.yml` files of its `tests/` folder (RULE_TESTS_DIR). */
  readonly rulesDir: string;
  /** The actions rules may name (see compileRuleFiles). */
  readonly actions: ActionCatalog;
  /** How each case's payload becomes an event (a source registry is one). */
  readonly normalizers: PayloadNormalizers;
}

/**
 * Loads the rules in `rulesDir` and every case in `rulesDir/tests/*.yaml`, and runs them all.
 * Problems in the rules or the case files are returned (and no case runs).
 */
export async function runRuleTests(options: RunRuleTestsOptions): Promise<RuleTestReport> {
  const loaded = await loadRules(options.rulesDir, { actions: options.actions });
  const testsDir = path.join(options.rulesDir, RULE_TESTS_DIR);
  let names: string[] = [];
  try {
    names = (await readdir(testsDir, { withFileTypes: true })).filter((entry) => entry.isFile() && isRuleFileName(entry.name)).map((entry) => entry.name).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const problems: RuleProblem[] = loaded.ok ? [] : [...loaded.problems];
  const cases: RuleTestCase[] = [];
  for (const name of names) {
    const file = path.join(testsDir, name);
    const parsed = parseRuleTestFile(file, await readFile(file, 'utf8'));
    problems.push(...parsed.problems);
    cases.push(...parsed.cases);
  }
  if (!loaded.ok || problems.length > 0) return { problems: sortProblems(problems), results: [], passed: 0, failed: 0 };
  const results: RuleTestResult[] = [];
  for (const testCase of cases) results.push(await runRuleTestCase(loaded.ruleSet, testCase, { normalizers: options.normalizers }));
  const passed = results.filter((result) => result.isPassed).length;
  return { problems: [], results, passed, failed: results.length - passed };
}
