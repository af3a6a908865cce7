import { EventEmitter } from 'node:events';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import type { ActionCatalog } from '../actions/action.js';
import type { SourceRegistry } from '../sources/registry.js';
import { loadRules, isRuleFileName } from './load-rules.js';
import { formatProblem, RuleLoadError, type RuleProblem } from './problems.js';
import type { RuleSet } from './rule-set.js';

export interface RuleStoreOptions {
  /** The rules directory (its `*.yaml`/`*.yml` files; subfolders such as `tests/` are ignored). */
  readonly dir: string;
  /** Where loads, reloads and every problem of a rejected edit are logged; required (the constructor throws TypeError without it). */
  readonly logger: Logger;
  /** Quiet time after the last file event before reloading (editors write in bursts). @defaultValue 250 */
  readonly debounceMs?: number;
  /** The actions rules may name: `actionRegistry` in the bridge, toy actions in tests. */
  readonly actions: ActionCatalog;
  /** The source names event types may start with. @defaultValue the shipped source registry's names */
  readonly sources?: readonly string[];
  /**
   * The sources whose event types and schemas rules are checked against (see CompileOptions.registry).
   * @defaultValue sourceRegistry
   */
  readonly registry?: SourceRegistry;
  /** Milliseconds since the epoch, for `loadedAt`. @defaultValue Date.now */
  readonly now?: () => number;
}

export interface RuleStoreEvents {
  /** A good edit was swapped in. */
  reloaded: [ruleSet: RuleSet];
  /** An edit did not load; the last good rules stay live. */
  reload_failed: [problems: readonly RuleProblem[]];
}

/**
 * The live rules: loaded at start-up, then reloaded whenever a rule file is added, changed or
 * removed. A bad edit never replaces good rules: the last good set stays live, every problem is
 * logged as `file:line:col: message`, `reload_failed` is emitted and `isCurrent` turns false until
 * the files load again. Reads of `current` are a single reference read, so a swap is atomic.
 */
export class RuleStore extends EventEmitter<RuleStoreEvents> {
  private readonly dir: string;
  private readonly logger: Logger;
  private readonly debounceMs: number;
  private readonly actions: ActionCatalog;
  private readonly sources?: readonly string[];
  private readonly registry?: SourceRegistry;
  private readonly now: () => number;
  private ruleSet: RuleSet | null = null;
  private lastProblems: readonly RuleProblem[] = [];
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private reloading: Promise<void> = Promise.resolve();
  private isStopped = false;
  private loadVersion = 0;
  private loadTime = 0;
  private failedReloads = 0;

  constructor(options: RuleStoreOptions) {
    super();
    if (!options.dir) throw new TypeError('RuleStore needs options.dir');
    if (!options.logger) throw new TypeError('RuleStore needs options.logger');
    if (!options.actions) throw new TypeError('RuleStore needs options.actions');
    this.dir = options.dir;
    this.logger = options.logger;
    this.debounceMs = options.debounceMs ?? 250;
    this.actions = options.actions;
    this.sources = options.sources;
    this.registry = options.registry;
    this.now = options.now ?? Date.now;
  }

  /**
   * Loads the rules and starts watching the directory.
   * @throws RuleLoadError carrying every problem when the files are invalid: a bad rule file stops start-up.
   */
  async start(): Promise<void> {
    const result = await loadRules(this.dir, { actions: this.actions, sources: this.sources, registry: this.registry });
    if (!result.ok) throw new RuleLoadError(result.problems);
    this.swap(result.ruleSet);
    this.logger.info({ rules: result.ruleSet.size, files: result.ruleSet.files.length, dir: this.dir }, 'rules loaded');
    const watcher = watch(this.dir, {
      ignoreInitial: true,
      depth: 0,
      // Only rule files directly in the directory; the directory itself must not be ignored.
      ignored: (file, stats) => path.resolve(file) !== path.resolve(this.dir) && (stats?.isDirectory() === true || !isRuleFileName(path.basename(file))),
    });
    for (const event of ['add', 'change', 'unlink'] as const) watcher.on(event, () => this.scheduleReload());
    watcher.on('error', (error) => this.logger.warn({ err: error }, 'rules watcher error'));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.watcher = watcher;
  }

  /** The last good rules. @throws Error before `start()` has succeeded. */
  get current(): RuleSet {
    if (!this.ruleSet) throw new Error('RuleStore.current read before start() succeeded');
    return this.ruleSet;
  }

  /** Problems of the last failed reload; empty while the live rules match the files. */
  get problems(): readonly RuleProblem[] {
    return this.lastProblems;
  }

  /** False while an edit that does not load is pending (the last good rules are live). */
  get isCurrent(): boolean {
    return this.lastProblems.length === 0;
  }

  /** 1 after start, +1 per successful reload. */
  get version(): number {
    return this.loadVersion;
  }

  /** When the live rules were loaded (ms since the epoch). */
  get loadedAt(): number {
    return this.loadTime;
  }

  /** How many reloads failed since start (the `bridge_rules_reload_errors_total` counter). */
  get reloadErrorCount(): number {
    return this.failedReloads;
  }

  /** Reloads now (the watcher calls this after the debounce); resolves once done. Never rejects. */
  reload(): Promise<void> {
    // Chained so two reloads never interleave and the last file state always wins.
    this.reloading = this.reloading.then(() => this.reloadOnce());
    return this.reloading;
  }

  /** Stops watching; pending reloads finish first. */
  async stop(): Promise<void> {
    this.isStopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.watcher?.close();
    this.watcher = null;
    await this.reloading;
  }

  private scheduleReload(): void {
    if (this.isStopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.reload();
    }, this.debounceMs);
  }

  private async reloadOnce(): Promise<void> {
    if (this.isStopped) return;
    try {
      const result = await loadRules(this.dir, { actions: this.actions, sources: this.sources, registry: this.registry });
      if (result.ok) {
        this.swap(result.ruleSet);
        this.logger.info({ rules: result.ruleSet.size, files: result.ruleSet.files.length, version: this.loadVersion }, 'rules reloaded');
        this.emit('reloaded', result.ruleSet);
        return;
      }
      this.fail(result.problems);
    } catch (error) {
      this.fail([{ file: this.dir, line: 1, column: 1, message: `the rules could not be read: ${error instanceof Error ? error.message : String(error)}` }]);
    }
  }

  private swap(ruleSet: RuleSet): void {
    this.ruleSet = ruleSet;
    this.lastProblems = [];
    this.loadVersion += 1;
    this.loadTime = this.now();
  }

  private fail(problems: readonly RuleProblem[]): void {
    this.lastProblems = problems;
    this.failedReloads += 1;
    for (const problem of problems) this.logger.error({ problem: formatProblem(problem) }, `rule reload failed: ${formatProblem(problem)}`);
    // The summary names the first problem too (file:line:col), for whoever reads only this line.
    this.logger.error(
      { problems: problems.length, first: problems[0] ? formatProblem(problems[0]) : undefined, version: this.loadVersion },
      'rule edit rejected: the last good rules stay live',
    );
    this.emit('reload_failed', problems);
  }
}
