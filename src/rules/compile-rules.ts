import { createHash } from 'node:crypto';
import * as yup from 'yup';
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import type { Action, ActionCatalog, ActionName } from '../actions/action.js';
import { parseDuration } from '../infra/units.js';
import { compileCondition, isConditionProblem, type Condition } from './conditions.js';
import { parseEventPattern, type EventPattern } from './event-patterns.js';
import { sortProblems, type RuleProblem } from './problems.js';
import type { OncePerRule, RetryOverride, Rule, RuleAction, RuleFileInfo } from './rule.js';
import { RuleSet } from './rule-set.js';
import { compileTemplateTree, literalTextOf } from './templates.js';
import { YamlFile } from './yaml-nodes.js';

/** Rule ids become part of BullMQ job ids: no `:`, no spaces, nothing that looks like a number only. */
export const RULE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]*$/i;

const RULE_KEYS = ['id', 'description', 'on', 'if', 'do'] as const;
const RETRY_KEYS = ['attempts', 'backoff'] as const;
const ONCE_PER_KEYS = ['key', 'window'] as const;
/** The keys of a do item beside its one action. */
const ACTION_OPTION_KEYS = ['retry', 'once_per'] as const;
const MAX_RETRY_ATTEMPTS = 50;

/** The outcome of loading rules: the compiled set, or every problem in every file. */
export type LoadResult =
  | {
      readonly ok: true;
      readonly ruleSet: RuleSet;
      readonly problems: readonly [];
      /** Findings that do not stop loading (a template's fixed text over an action's limit). */
      readonly warnings?: readonly RuleProblem[];
    }
  | { readonly ok: false; readonly problems: readonly RuleProblem[]; readonly warnings?: readonly RuleProblem[] };

/** One rule file's name and bytes, as read from disk (or built by a test). */
export interface RuleFileSource {
  /** The path used in problems and provenance. */
  readonly file: string;
  readonly content: string | Buffer;
}

export interface CompileOptions {
  /**
   * The actions rules may name: `actionRegistry` (src/actions/registry.ts) in the bridge, toy
   * actions in tests. Required, so that rule loading never imports the integrations itself.
   */
  readonly actions: ActionCatalog;
  /** The source names event types may start with. @defaultValue KNOWN_SOURCES (the shipped source registry's names) */
  readonly sources?: readonly string[];
}

/**
 * Validates and compiles rule files, all of them, reporting every problem at once. Pure: no I/O.
 * Files are taken in the order given (loadRules sorts by name); rules fire in that order.
 */
export function compileRuleFiles(sources: readonly RuleFileSource[], options: CompileOptions): LoadResult {
  const actions = options.actions;
  const problems: RuleProblem[] = [];
  const warnings: RuleProblem[] = [];
  const rules: Rule[] = [];
  const files: RuleFileInfo[] = [];
  const firstDefinition = new Map<string, string>();

  for (const source of sources) {
    const text = typeof source.content === 'string' ? source.content : source.content.toString('utf8');
    const hash = createHash('sha256').update(source.content).digest('hex');
    const yamlFile = YamlFile.parse(source.file, text);
    const compiler = new FileCompiler(yamlFile, hash, actions, firstDefinition, rules.length, options.sources);
    const fileRules = yamlFile.hasSyntaxErrors ? [] : compiler.compileFile();
    problems.push(...yamlFile.problems);
    warnings.push(...yamlFile.warnings);
    rules.push(...fileRules);
    files.push({ file: source.file, hash, ruleIds: fileRules.map((rule) => rule.id) });
  }

  if (problems.length > 0) return { ok: false, problems: sortProblems(problems), warnings: sortProblems(warnings) };
  return { ok: true, ruleSet: new RuleSet(rules, files), problems: [], warnings: sortProblems(warnings) };
}

class FileCompiler {
  private readonly knownActions: string;

  constructor(
    private readonly yaml: YamlFile,
    private readonly hash: string,
    private readonly actions: ActionCatalog,
    private readonly firstDefinition: Map<string, string>,
    private order: number,
    private readonly sources?: readonly string[],
  ) {
    this.knownActions = Object.keys(actions).join(', ');
  }

  compileFile(): Rule[] {
    const root = this.yaml.root;
    if (root === null) {
      this.yaml.reportAtOffset(0, 'the file is empty: a rule file needs a rules: list');
      return [];
    }
    if (!isMap(root)) {
      this.yaml.report(root, 'a rule file must be a mapping with a rules: list');
      return [];
    }
    const entries = this.yaml.knownEntriesOf(root, ['rules'], 'a rule file');
    const rulesEntry = entries.get('rules');
    if (!rulesEntry) {
      this.yaml.report(root, 'a rule file needs a rules: list');
      return [];
    }
    if (rulesEntry.value === null || (isScalar(rulesEntry.value) && rulesEntry.value.value === null)) return [];
    if (!isSeq(rulesEntry.value)) {
      this.yaml.report(rulesEntry.value, 'rules must be a list of rules');
      return [];
    }
    const rules: Rule[] = [];
    for (const item of rulesEntry.value.items) {
      const rule = this.compileRule(this.yaml.resolve(item) ?? rulesEntry.value);
      if (rule) rules.push(rule);
    }
    return rules;
  }

  private compileRule(node: Node): Rule | null {
    const yaml = this.yaml;
    if (!isMap(node)) {
      yaml.report(node, 'a rule must be a mapping with id, on and do');
      return null;
    }
    const entries = yaml.knownEntriesOf(node, RULE_KEYS, 'a rule');
    const id = this.compileId(node, entries.get('id')?.value);
    const label = id === null ? 'this rule' : `rule ${id}`;

    const description = entries.get('description');
    if (description && !(isScalar(description.value) && typeof description.value.value === 'string')) {
      yaml.report(description.value ?? description.keyNode, 'description must be a string');
    }

    const onEntry = entries.get('on');
    if (!onEntry) yaml.report(node, `${label} needs on: the event type, types or glob it runs for`);
    const patterns = onEntry ? this.compilePatterns(onEntry.value ?? onEntry.keyNode) : null;

    const ifEntry = entries.get('if');
    const condition = ifEntry ? this.compileIf(ifEntry.value ?? ifEntry.keyNode) : null;

    const doEntry = entries.get('do');
    if (!doEntry) yaml.report(node, `${label} needs do: the list of actions it runs`);
    const actions = doEntry ? this.compileDo(doEntry.value ?? doEntry.keyNode) : null;

    if (id === null || patterns === null || condition === undefined || actions === null) return null;
    const { line, column } = yaml.positionOf(node.range?.[0] ?? 0);
    return {
      id,
      description: isScalar(description?.value) ? String(description.value.value) : undefined,
      file: yaml.file,
      fileHash: this.hash,
      line,
      column,
      patterns,
      condition,
      actions,
      order: this.order++,
    };
  }

  private compileId(ruleNode: YAMLMap, node: Node | null | undefined): string | null {
    const yaml = this.yaml;
    if (node === undefined) {
      yaml.report(ruleNode, 'a rule needs an id');
      return null;
    }
    if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number')) {
      yaml.report(node ?? ruleNode, 'id must be a string');
      return null;
    }
    const id = String(node.value);
    if (!RULE_ID_PATTERN.test(id)) {
      yaml.report(node, `id ${JSON.stringify(id)} is not valid: use letters, digits, _ and -, starting with a letter or digit`);
      return null;
    }
    const location = yaml.locationOf(node);
    const first = this.firstDefinition.get(id);
    if (first !== undefined) {
      yaml.report(node, `duplicate rule id ${id}: also defined at ${first}`);
      return null;
    }
    this.firstDefinition.set(id, location);
    return id;
  }

  private compilePatterns(node: Node): EventPattern[] | null {
    const yaml = this.yaml;
    const items: Node[] = [];
    if (isScalar(node) && typeof node.value === 'string') items.push(node);
    else if (isSeq(node) && node.items.length > 0) {
      for (const item of node.items) items.push(yaml.resolve(item) ?? node);
    } else {
      yaml.report(node, 'on must be an event type, a list of event types, or a glob such as rewardful.commission.*');
      return null;
    }
    const patterns: EventPattern[] = [];
    let isValid = true;
    for (const item of items) {
      if (!isScalar(item) || typeof item.value !== 'string') {
        yaml.report(item, 'each on entry must be an event type or a glob');
        isValid = false;
        continue;
      }
      const pattern = parseEventPattern(item.value, this.sources);
      if ('error' in pattern) {
        yaml.report(item, pattern.error);
        isValid = false;
      } else patterns.push(pattern);
    }
    return isValid ? patterns : null;
  }

  /** @returns the condition, or undefined when it has problems (null means "no condition"). */
  private compileIf(node: Node): Condition | undefined {
    const yaml = this.yaml;
    if (!isScalar(node) || typeof node.value !== 'string' || node.value.trim() === '') {
      yaml.report(node, 'if must be a CEL expression such as data.status == "approved"');
      return undefined;
    }
    const compiled = compileCondition(node.value);
    if (isConditionProblem(compiled)) {
      yaml.reportAtOffset(yaml.offsetInScalar(node, compiled.index), compiled.message);
      return undefined;
    }
    for (const warning of compiled.warnings) yaml.warn(node, warning);
    return compiled;
  }

  private compileDo(node: Node): RuleAction[] | null {
    const yaml = this.yaml;
    if (!isSeq(node) || node.items.length === 0) {
      yaml.report(node, 'do must be a non-empty list of actions');
      return null;
    }
    const actions: RuleAction[] = [];
    let isValid = true;
    node.items.forEach((item, index) => {
      const action = this.compileAction(yaml.resolve(item) ?? node, index);
      if (action) actions.push(action);
      else isValid = false;
    });
    return isValid ? actions : null;
  }

  private compileAction(node: Node, index: number): RuleAction | null {
    const yaml = this.yaml;
    if (!isMap(node)) {
      yaml.report(node, `each do item must be a mapping with one action, such as slack.post_message: { channel: "#alerts", text: "…" }`);
      return null;
    }
    let retryNode: Node | undefined;
    let oncePerNode: Node | undefined;
    let chosen: { name: ActionName; action: Action<unknown>; keyNode: Node; value: Node | null } | null = null;
    let isValid = true;
    for (const entry of yaml.entriesOf(node)) {
      if (entry.key === 'retry') {
        retryNode = entry.value ?? entry.keyNode;
        continue;
      }
      if (entry.key === 'once_per') {
        oncePerNode = entry.value ?? entry.keyNode;
        continue;
      }
      const action = Object.hasOwn(this.actions, entry.key) ? this.actions[entry.key as ActionName] : undefined;
      if (!action && !entry.key.includes('.')) {
        // Action names are <integration>.<verb>: a plain word is a misspelt option, not an action.
        yaml.report(entry.keyNode, `unknown key ${entry.key}: a do item takes one action (${this.knownActions}), ${ACTION_OPTION_KEYS.join(' and ')}`);
        isValid = false;
      } else if (!action) {
        yaml.report(entry.keyNode, `unknown action ${entry.key}: known actions are ${this.knownActions}`);
        isValid = false;
      } else if (chosen) {
        yaml.report(entry.keyNode, `a do item holds one action, and this one also has ${entry.key}: make it a separate item`);
        isValid = false;
      } else {
        chosen = { name: entry.key as ActionName, action, keyNode: entry.keyNode, value: entry.value };
      }
    }
    if (!chosen) {
      if (isValid) yaml.report(node, `this do item names no action: use one of ${this.knownActions}`);
      return null;
    }
    const params = this.compileParams(chosen.name, chosen.action, chosen.keyNode, chosen.value);
    const retry = retryNode === undefined ? undefined : this.compileRetry(retryNode);
    const oncePer = oncePerNode === undefined ? undefined : this.compileOncePer(oncePerNode);
    if (!isValid || params === null || retry === null || oncePer === null) return null;
    return { name: chosen.name, action: chosen.action, params, index, ...(retry ? { retry } : {}), ...(oncePer ? { oncePer } : {}) };
  }

  private compileParams(name: ActionName, action: Action<unknown>, keyNode: Node, node: Node | null): RuleAction['params'] | null {
    const yaml = this.yaml;
    if (!isMap(node)) {
      yaml.report(node ?? keyNode, `the params of ${name} must be a mapping`);
      return null;
    }
    const value: unknown = node.toJS(yaml.document);
    let isValid = true;
    try {
      action.params.validateSync(value, { abortEarly: false });
    } catch (error) {
      if (!(error instanceof yup.ValidationError)) throw error;
      isValid = false;
      for (const issue of error.inner.length > 0 ? error.inner : [error]) this.reportParamsIssue(name, action, keyNode, node, issue);
    }
    const { tree, problems } = compileTemplateTree(value, action.escapeText);
    for (const problem of problems) {
      const target = this.nodeAtPath(node, problem.path) ?? node;
      yaml.reportAtOffset(isScalar(target) ? yaml.offsetInScalar(target, problem.index) : (target.range?.[0] ?? 0), problem.message);
      isValid = false;
    }
    if (isValid && action.lint) {
      for (const warning of action.lint(literalTextOf(tree))) yaml.warn(this.nodeAtPath(node, warning.path) ?? node, warning.message);
    }
    return isValid ? tree : null;
  }

  private reportParamsIssue(name: ActionName, action: Action<unknown>, keyNode: Node, params: YAMLMap, issue: yup.ValidationError): void {
    const yaml = this.yaml;
    if (issue.type === 'noUnknown') {
      // yup reports all unknown keys in one message; report each at its own key.
      const fields = 'fields' in action.params ? Object.keys((action.params as yup.AnyObjectSchema).fields) : [];
      const unknown = String((issue.params as { unknown?: unknown } | undefined)?.unknown ?? '').split(', ').filter(Boolean);
      for (const key of unknown) {
        const entry = yaml.findEntry(params, key);
        yaml.report(entry?.keyNode ?? params, `unknown key ${key}: ${name} takes ${fields.join(', ')}`);
      }
      return;
    }
    // At the offending param; a missing param or a rule about the whole mapping at the action's name.
    const path = parseYupPath(issue.path ?? '');
    yaml.report((path.length > 0 ? this.nodeAtPath(params, path) : null) ?? keyNode, issue.message);
  }

  /** The node at a params path, or null when the path does not exist (a missing key). */
  private nodeAtPath(root: Node, path: readonly (string | number)[]): Node | null {
    let node: Node | null = root;
    for (const segment of path) {
      if (isMap(node)) node = this.yaml.findEntry(node, String(segment))?.value ?? null;
      else if (isSeq(node) && typeof segment === 'number') node = this.yaml.resolve(node.items[segment]);
      else return null;
      if (node === null) return null;
    }
    return node;
  }

  /** @returns the override, or null when it has problems. */
  private compileRetry(node: Node): RetryOverride | null {
    const yaml = this.yaml;
    if (!isMap(node)) {
      yaml.report(node, 'retry must be a mapping such as { attempts: 5, backoff: 30s }');
      return null;
    }
    const problemsBefore = yaml.problems.length;
    const entries = yaml.knownEntriesOf(node, RETRY_KEYS, 'retry');
    let isValid = yaml.problems.length === problemsBefore;
    const attemptsNode = entries.get('attempts')?.value;
    const backoffNode = entries.get('backoff')?.value;
    let attempts = 0;
    let backoffMs = 0;
    if (!entries.has('attempts')) {
      yaml.report(node, 'retry needs attempts: a whole number from 1 to 50');
      isValid = false;
    } else if (
      !isScalar(attemptsNode) ||
      typeof attemptsNode.value !== 'number' ||
      !Number.isInteger(attemptsNode.value) ||
      attemptsNode.value < 1 ||
      attemptsNode.value > MAX_RETRY_ATTEMPTS
    ) {
      yaml.report(attemptsNode ?? node, `retry attempts must be a whole number from 1 to ${MAX_RETRY_ATTEMPTS}`);
      isValid = false;
    } else attempts = attemptsNode.value;
    if (!entries.has('backoff')) {
      yaml.report(node, 'retry needs backoff: a duration such as 30s or 5m');
      isValid = false;
    } else {
      const parsed = isScalar(backoffNode) && typeof backoffNode.value === 'string' ? parseDuration(backoffNode.value) : null;
      if (parsed === null) {
        yaml.report(backoffNode ?? node, 'retry backoff must be a duration such as 30s or 5m');
        isValid = false;
      } else backoffMs = parsed;
    }
    return isValid ? { attempts, backoffMs } : null;
  }

  /**
   * `once_per: "<key template>"` or `once_per: { key: "<key template>", window: 24h }`.
   * @returns the compiled setting, or null when it has problems.
   */
  private compileOncePer(node: Node): OncePerRule | null {
    const yaml = this.yaml;
    let keyNode: Node | null | undefined = node;
    let windowMs: number | undefined;
    let isValid = true;
    if (isMap(node)) {
      const problemsBefore = yaml.problems.length;
      const entries = yaml.knownEntriesOf(node, ONCE_PER_KEYS, 'once_per');
      isValid = yaml.problems.length === problemsBefore;
      keyNode = entries.get('key')?.value;
      if (!entries.has('key')) {
        yaml.report(node, 'once_per needs key: a template such as "{{ data.id }}"');
        keyNode = undefined;
        isValid = false;
      }
      const windowEntry = entries.get('window');
      if (windowEntry) {
        const windowNode = windowEntry.value;
        const parsed = isScalar(windowNode) && typeof windowNode.value === 'string' ? parseDuration(windowNode.value) : null;
        if (parsed === null) {
          yaml.report(windowNode ?? windowEntry.keyNode, 'once_per window must be a duration such as 24h or 7d');
          isValid = false;
        } else windowMs = parsed;
      }
    }
    if (keyNode === undefined) return null;
    if (!isScalar(keyNode) || typeof keyNode.value !== 'string' || keyNode.value.trim() === '') {
      yaml.report(keyNode ?? node, 'once_per key must be a non-empty template such as "{{ data.id }}"');
      return null;
    }
    // Plain text: the key is compared, never shown to Slack, so no action's escaping applies.
    const { tree, problems } = compileTemplateTree(keyNode.value, undefined, ['once_per']);
    for (const problem of problems) {
      yaml.reportAtOffset(yaml.offsetInScalar(keyNode, problem.index), problem.message);
      isValid = false;
    }
    if (!isValid) return null;
    return windowMs === undefined ? { key: tree, source: keyNode.value } : { key: tree, source: keyNode.value, windowMs };
  }
}

/** `blocks[0].text` → ['blocks', 0, 'text']. */
function parseYupPath(path: string): (string | number)[] {
  const segments: (string | number)[] = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]|\["([^"]*)"\]/g)) {
    if (match[2] !== undefined) segments.push(Number(match[2]));
    else segments.push(match[3] ?? match[1]);
  }
  return segments;
}
