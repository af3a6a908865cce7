import { createHash } from 'node:crypto';
import * as yup from 'yup';
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import type { Action, ActionCatalog, ActionName } from '../actions/action.js';
import { parseDuration } from '../infra/units.js';
import type { SourceRegistry } from '../sources/registry.js';
import { checkConditionTypes } from './condition-types.js';
import { compileCondition, isConditionProblem, type Condition } from './conditions.js';
import { parseEventPattern, type EventPattern } from './event-patterns.js';
import { sortProblems, type RuleProblem } from './problems.js';
import type { OncePerRule, RetryOverride, Rule, RuleAction, RuleFileInfo } from './rule.js';
import { scopeCatalogFor, type RuleScope, type RuleScopeCatalog } from './rule-scopes.js';
import { RuleSet } from './rule-set.js';
import { closestMatch } from './scope-types.js';
import { checkTemplateFields } from './template-fields.js';
import { compileTemplateTree, literalTextOf, type TemplateProblem, type TemplateTree } from './templates.js';
import { YamlFile } from './yaml-nodes.js';

/** Rule ids become part of BullMQ job ids: no `:`, no spaces, nothing that looks like a number only. */
export const RULE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/**
 * Rule ids travel in every action job id, metric label, trace and log line: bounded, so a pasted
 * paragraph cannot become a Redis key part or a Prometheus label value.
 */
export const MAX_RULE_ID_LENGTH = 64;

// The format's keys and bounds, exported for the JSON Schema of rule files (rule-file-schema.ts),
// which is generated from them: an editor never refuses what the loader accepts, and flags the
// shape mistakes the loader refuses (conditions, templates and cross-file checks stay the loader's).
export const RULE_FILE_KEYS = ['rules'] as const;
export const RULE_KEYS = ['id', 'description', 'on', 'if', 'do'] as const;
export const RETRY_KEYS = ['attempts', 'backoff'] as const;
/** The keys of `throttle:` and of `once_per:`'s long form. */
export const THROTTLE_KEYS = ['key', 'window'] as const;
/** The keys of a do item beside its one action. */
export const ACTION_OPTION_KEYS = ['retry', 'once_per', 'throttle'] as const;
export const MAX_RETRY_ATTEMPTS = 50;

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
  /**
   * The sources whose event types and schemas rules are checked against: an `on` type a source of
   * it does not have is an error, and conditions and templates are typed from its schemas. Types of
   * a source outside it (a test's toy source) are accepted and untyped.
   * @defaultValue sourceRegistry (src/sources/registry.ts)
   */
  readonly registry?: SourceRegistry;
}

/** The event types a rule runs for, grouped by the scope (schemas) they share. */
type ScopeGroups = ReadonlyMap<RuleScope, readonly string[]>;

/** Where a rule posts, for the lint of two rules posting to the same place for the same event. */
interface Destination {
  readonly ruleId: string;
  readonly action: ActionName;
  readonly value: string;
  readonly types: readonly string[];
  readonly position: { readonly file: string; readonly line: number; readonly column: number };
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
  const catalog = scopeCatalogFor(options.registry);
  const destinations: Destination[] = [];

  for (const source of sources) {
    const text = typeof source.content === 'string' ? source.content : source.content.toString('utf8');
    const hash = createHash('sha256').update(source.content).digest('hex');
    const yamlFile = YamlFile.parse(source.file, text);
    const compiler = new FileCompiler(yamlFile, hash, actions, firstDefinition, rules.length, catalog, destinations, options.sources);
    const fileRules = yamlFile.hasSyntaxErrors ? [] : compiler.compileFile();
    problems.push(...yamlFile.problems);
    warnings.push(...yamlFile.warnings);
    rules.push(...fileRules);
    files.push({ file: source.file, hash, ruleIds: fileRules.map((rule) => rule.id) });
  }

  warnings.push(...lintSharedDestinations(destinations));
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
    private readonly catalog: RuleScopeCatalog,
    private readonly destinations: Destination[],
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
    const entries = this.yaml.knownEntriesOf(root, RULE_FILE_KEYS, 'a rule file');
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
    const compiledOn = onEntry ? this.compilePatterns(onEntry.value ?? onEntry.keyNode) : null;
    const patterns = compiledOn?.patterns ?? null;
    // Conditions and templates are checked against every event type the rule runs for; with no
    // valid `on`, only what holds for any event (syntax, variables) is checked.
    const groups = compiledOn?.groups ?? new Map<RuleScope, readonly string[]>();

    const ifEntry = entries.get('if');
    const condition = ifEntry ? this.compileIf(ifEntry.value ?? ifEntry.keyNode, groups) : null;

    const doEntry = entries.get('do');
    if (!doEntry) yaml.report(node, `${label} needs do: the list of actions it runs`);
    const actions = doEntry ? this.compileDo(doEntry.value ?? doEntry.keyNode, groups, id) : null;

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
    if (id.length > MAX_RULE_ID_LENGTH) {
      yaml.report(node, `id is ${id.length} characters long: a rule id has at most ${MAX_RULE_ID_LENGTH}`);
      return null;
    }
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

  private compilePatterns(node: Node): { patterns: EventPattern[]; groups: ScopeGroups } | null {
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
    const types = new Set<string>();
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
        continue;
      }
      const matched = this.typesMatching(pattern);
      if ('error' in matched) {
        yaml.report(item, matched.error);
        isValid = false;
        continue;
      }
      patterns.push(pattern);
      for (const type of matched.types) types.add(type);
    }
    if (!isValid) return null;
    const groups = new Map<RuleScope, string[]>();
    for (const type of types) {
      const scope = this.catalog.scopeFor(type);
      const list = groups.get(scope) ?? [];
      list.push(type);
      groups.set(scope, list);
    }
    return { patterns, groups };
  }

  /**
   * The known event types a pattern matches. A type (or glob) of a registered source that names no
   * type of it is an error, with the closest type as a suggestion; a source outside the registry
   * (a test's toy source) gives its exact type as written, and nothing for a glob.
   */
  private typesMatching(pattern: EventPattern): { readonly types: readonly string[] } | { readonly error: string } {
    const text = pattern.kind === 'exact' ? pattern.type : pattern.glob;
    const source = text.slice(0, text.indexOf('.'));
    if (!this.catalog.hasSource(source)) return { types: pattern.kind === 'exact' ? [pattern.type] : [] };
    const known = this.catalog.eventTypesOf(source);
    if (pattern.kind === 'exact') {
      if (known.includes(pattern.type)) return { types: [pattern.type] };
      const suggestion = closestMatch(pattern.type, known);
      return {
        error:
          suggestion === null
            ? `on ${pattern.type} is not an event type of ${source}: rules/README.md lists them`
            : `on ${pattern.type} is not an event type of ${source}: did you mean ${suggestion}?`,
      };
    }
    const types = known.filter((type) => pattern.regex.test(type));
    if (types.length > 0) return { types };
    // Suggest the glob the author probably meant: each known type with the glob's `*` segments starred.
    const segments = pattern.glob.split('.');
    const candidates = new Set(
      known
        .map((type) => type.split('.'))
        .filter((parts) => parts.length === segments.length)
        .map((parts) => parts.map((part, i) => (segments[i].includes('*') ? segments[i] : part)).join('.')),
    );
    const suggestion = closestMatch(pattern.glob, candidates);
    return {
      error:
        suggestion === null
          ? `on ${pattern.glob} matches no event type of ${source}: rules/README.md lists them`
          : `on ${pattern.glob} matches no event type of ${source}: did you mean ${suggestion}?`,
    };
  }

  /** @returns the condition, or undefined when it has problems (null means "no condition"). */
  private compileIf(node: Node, groups: ScopeGroups): Condition | undefined {
    const yaml = this.yaml;
    if (!isScalar(node) || typeof node.value !== 'string' || node.value.trim() === '') {
      yaml.report(node, 'if must be a CEL expression such as data.status == "approved"');
      return undefined;
    }
    const compiled = compileCondition(node.value, this.catalog);
    if (isConditionProblem(compiled)) {
      yaml.reportAtOffset(yaml.offsetInScalar(node, compiled.index), compiled.message);
      return undefined;
    }
    for (const warning of compiled.warnings) yaml.warn(node, warning);
    const source = node.value;
    const problems = checkPerScope(groups, (scope) => checkConditionTypes(source, scope));
    for (const problem of problems) yaml.reportAtOffset(yaml.offsetInScalar(node, problem.index), problem.message);
    return problems.length === 0 ? compiled : undefined;
  }

  private compileDo(node: Node, groups: ScopeGroups, ruleId: string | null): RuleAction[] | null {
    const yaml = this.yaml;
    if (!isSeq(node) || node.items.length === 0) {
      yaml.report(node, 'do must be a non-empty list of actions');
      return null;
    }
    const actions: RuleAction[] = [];
    let isValid = true;
    node.items.forEach((item, index) => {
      const action = this.compileAction(yaml.resolve(item) ?? node, index, groups, ruleId);
      if (action) actions.push(action);
      else isValid = false;
    });
    return isValid ? actions : null;
  }

  private compileAction(node: Node, index: number, groups: ScopeGroups, ruleId: string | null): RuleAction | null {
    const yaml = this.yaml;
    if (!isMap(node)) {
      yaml.report(node, `each do item must be a mapping with one action, such as slack.post_message: { channel: "#alerts", text: "…" }`);
      return null;
    }
    let retryNode: Node | undefined;
    // `once_per` is the shorthand of `throttle`: both compile to one setting, so an item takes one.
    let throttle: { readonly form: ThrottleForm; readonly node: Node } | undefined;
    let chosen: { name: ActionName; action: Action<unknown>; keyNode: Node; value: Node | null } | null = null;
    let isValid = true;
    for (const entry of yaml.entriesOf(node)) {
      if (entry.key === 'retry') {
        retryNode = entry.value ?? entry.keyNode;
        continue;
      }
      if (entry.key === 'once_per' || entry.key === 'throttle') {
        if (throttle) {
          yaml.report(entry.keyNode, 'a do item takes throttle or once_per, not both: once_per is the shorthand of throttle');
          isValid = false;
        } else throttle = { form: entry.key, node: entry.value ?? entry.keyNode };
        continue;
      }
      const action = Object.hasOwn(this.actions, entry.key) ? this.actions[entry.key as ActionName] : undefined;
      if (!action && !entry.key.includes('.')) {
        // Action names are <integration>.<verb>: a plain word is a misspelt option, not an action.
        yaml.report(entry.keyNode, `unknown key ${entry.key}: a do item takes one action (${this.knownActions}), ${ACTION_OPTION_KEYS.slice(0, -1).join(', ')} and ${ACTION_OPTION_KEYS.at(-1)}`);
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
    const params = this.compileParams(chosen.name, chosen.action, chosen.keyNode, chosen.value, groups);
    const retry = retryNode === undefined ? undefined : this.compileRetry(retryNode);
    const oncePer = throttle === undefined ? undefined : this.compileThrottle(throttle.node, throttle.form, groups);
    if (params !== null && ruleId !== null) this.recordDestination(ruleId, chosen.name, chosen.action, chosen.value, groups);
    if (!isValid || params === null || retry === null || oncePer === null) return null;
    return { name: chosen.name, action: chosen.action, params, index, ...(retry ? { retry } : {}), ...(oncePer ? { oncePer } : {}) };
  }

  private compileParams(name: ActionName, action: Action<unknown>, keyNode: Node, node: Node | null, groups: ScopeGroups): RuleAction['params'] | null {
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
    const { tree, problems } = compileParamsTemplates(value as Record<string, unknown>, action);
    if (problems.length === 0) problems.push(...checkTemplatesPerScope(groups, tree));
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
    if (issue.type === 'noUnknown' && issue.path) {
      // A nested mapping's unknown key (group: { byy: … }): its own message, at that key.
      const nested = this.nodeAtPath(params, parseYupPath(issue.path));
      const unknown = String((issue.params as { unknown?: unknown } | undefined)?.unknown ?? '').split(', ').filter(Boolean);
      for (const key of unknown) {
        const entry = isMap(nested) ? yaml.findEntry(nested, key) : undefined;
        yaml.report(entry?.keyNode ?? nested ?? keyNode, issue.message.replace(/^unknown key [^:]*:/, `unknown key ${key}:`));
      }
      return;
    }
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
    // A missing key of a nested mapping (group: { wait: 30s } without by) at that mapping.
    const at = path.length > 0 ? (this.nodeAtPath(params, path) ?? (path.length > 1 ? this.nodeAtPath(params, path.slice(0, -1)) : null)) : null;
    yaml.report(at ?? keyNode, issue.message);
  }

  /** Notes where an action posts (its `destinationParam`, when written as plain text) for the shared-destination lint. */
  private recordDestination(ruleId: string, name: ActionName, action: Action<unknown>, params: Node | null, groups: ScopeGroups): void {
    if (!action.destinationParam || !isMap(params)) return;
    const valueNode = this.yaml.findEntry(params, action.destinationParam)?.value;
    if (!isScalar(valueNode) || typeof valueNode.value !== 'string' || valueNode.value.includes('{{') || valueNode.value.includes('{%')) return;
    const types = [...groups.values()].flat();
    if (types.length === 0) return;
    this.destinations.push({ ruleId, action: name, value: valueNode.value, types, position: { file: this.yaml.file, ...this.yaml.positionOf(valueNode.range?.[0] ?? 0) } });
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
   * `throttle: { key: "<key template>", window: 24h }`, or its shorthand `once_per: "<key template>"`
   * / `once_per: { key, window }` (window optional there: DEDUP_TTL). Both compile to one setting,
   * claimed by one code path (queue/action-claims.ts); messages name the form the rule wrote.
   * @returns the compiled setting, or null when it has problems.
   */
  private compileThrottle(node: Node, form: ThrottleForm, groups: ScopeGroups): OncePerRule | null {
    const yaml = this.yaml;
    let keyNode: Node | null | undefined = node;
    let windowMs: number | undefined;
    let isValid = true;
    if (form === 'throttle' && !isMap(node)) {
      yaml.report(node, 'throttle must be a mapping such as { key: "{{ data.promoter.id }}", window: 24h }');
      return null;
    }
    if (isMap(node)) {
      const problemsBefore = yaml.problems.length;
      const entries = yaml.knownEntriesOf(node, THROTTLE_KEYS, form);
      isValid = yaml.problems.length === problemsBefore;
      keyNode = entries.get('key')?.value;
      if (!entries.has('key')) {
        yaml.report(node, `${form} needs key: a template such as "{{ data.id }}"`);
        keyNode = undefined;
        isValid = false;
      }
      const windowEntry = entries.get('window');
      if (windowEntry) {
        const windowNode = windowEntry.value;
        const parsed = isScalar(windowNode) && typeof windowNode.value === 'string' ? parseDuration(windowNode.value) : null;
        if (parsed === null) {
          yaml.report(windowNode ?? windowEntry.keyNode, `${form} window must be a duration such as 24h or 7d`);
          isValid = false;
        } else windowMs = parsed;
      } else if (form === 'throttle') {
        // The general form says how long: "at most one per key per window" has no window to default to.
        yaml.report(node, 'throttle needs window: a duration such as 24h or 7d');
        isValid = false;
      }
    }
    if (keyNode === undefined) return null;
    if (!isScalar(keyNode) || typeof keyNode.value !== 'string' || keyNode.value.trim() === '') {
      yaml.report(keyNode ?? node, `${form} key must be a non-empty template such as "{{ data.id }}"`);
      return null;
    }
    // Plain text: the key is compared, never shown to Slack, so no action's escaping applies.
    const { tree, problems } = compileTemplateTree(keyNode.value, undefined, [form]);
    if (problems.length === 0) problems.push(...checkTemplatesPerScope(groups, tree, [form]));
    for (const problem of problems) {
      yaml.reportAtOffset(yaml.offsetInScalar(keyNode, problem.index), problem.message);
      isValid = false;
    }
    if (!isValid) return null;
    const base = { key: tree, source: keyNode.value, form };
    return windowMs === undefined ? base : { ...base, windowMs };
  }
}

/** How a do item wrote its throttle: the general form or its shorthand. */
type ThrottleForm = 'throttle' | 'once_per';

/**
 * Compiles params as templates over `event` and `data`, except the action's deferred templates
 * (Slack's `digest_text`): those are checked against their own variables and kept as written,
 * to be rendered when the digest is posted.
 */
function compileParamsTemplates(value: Record<string, unknown>, action: Action<unknown>): ReturnType<typeof compileTemplateTree> {
  const deferred = action.deferredTemplates ?? {};
  const deferredKeys = Object.keys(value).filter((key) => Object.hasOwn(deferred, key) && typeof value[key] === 'string');
  const escapeTextIn = action.escapeTextIn?.bind(action);
  if (deferredKeys.length === 0) return compileTemplateTree(value, action.escapeText, [], undefined, escapeTextIn);
  const rendered = Object.fromEntries(Object.entries(value).filter(([key]) => !deferredKeys.includes(key)));
  const { tree, problems } = compileTemplateTree(rendered, action.escapeText, [], undefined, escapeTextIn);
  const entries: (readonly [string, TemplateTree])[] = tree.kind === 'map' ? [...tree.entries] : Object.entries(rendered).map(([key, item]) => [key, { kind: 'static', value: item }] as const);
  for (const key of deferredKeys) {
    problems.push(...compileTemplateTree(value[key], action.escapeText, [key], deferred[key]).problems);
    entries.push([key, { kind: 'static', value: value[key] }]);
  }
  return { tree: { kind: 'map', entries }, problems };
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

/**
 * Runs a check once per scope (event types sharing schemas) and merges the results: a problem
 * found for only some of the rule's event types names them, so the author sees which.
 */
function checkPerScope<P extends { readonly message: string; readonly index: number }>(groups: ScopeGroups, check: (scope: RuleScope) => readonly P[]): P[] {
  const found = new Map<string, { problem: P; types: string[] }>();
  let total = 0;
  for (const [scope, types] of groups) {
    total += types.length;
    for (const problem of check(scope)) {
      const key = `${problem.index}\u0000${problem.message}`;
      const entry = found.get(key);
      if (entry) entry.types.push(...types);
      else found.set(key, { problem, types: [...types] });
    }
  }
  return [...found.values()].map(({ problem, types }) =>
    types.length === total ? problem : { ...problem, message: `${problem.message} (for ${types[0]}${types.length > 1 ? ` and ${types.length - 1} more` : ', one'} of this rule's event types)` },
  );
}

function checkTemplatesPerScope(groups: ScopeGroups, tree: TemplateTree, basePath: readonly (string | number)[] = []): TemplateProblem[] {
  return checkPerScope(groups, (scope) => (scope.isTyped ? checkTemplateFields(tree, scope, basePath) : []));
}

/**
 * Warnings for rules that post to the same destination (a Slack channel) for the same event type:
 * an event that matches both posts twice, which is rarely meant. One warning per pair of rules, at
 * the later rule's destination, naming the first shared type.
 */
function lintSharedDestinations(destinations: readonly Destination[]): RuleProblem[] {
  const warnings: RuleProblem[] = [];
  // Grouped by action and destination first: only rules posting to the same place are compared.
  const byPlace = new Map<string, Destination[]>();
  for (const destination of destinations) {
    const place = `${destination.action}\u0000${destination.value}`;
    const group = byPlace.get(place) ?? [];
    group.push(destination);
    byPlace.set(place, group);
  }
  for (const group of byPlace.values()) {
    const seenPairs = new Set<string>();
    for (let later = 1; later < group.length; later += 1) {
      const second = group[later];
      for (let earlier = 0; earlier < later; earlier += 1) {
        const first = group[earlier];
        if (first.ruleId === second.ruleId) continue;
        const shared = second.types.filter((type) => first.types.includes(type));
        const pair = `${first.ruleId}\u0000${second.ruleId}`;
        if (shared.length === 0 || seenPairs.has(pair)) continue;
        seenPairs.add(pair);
        const more = shared.length > 1 ? ` (and ${shared.length - 1} more event types)` : '';
        warnings.push({
          ...second.position,
          message: `rules ${first.ruleId} and ${second.ruleId} both post to ${second.value} for ${shared[0]}${more}: an event that matches both posts twice`,
        });
      }
    }
  }
  return warnings;
}
