import type { BridgeEvent } from '../events/event.js';
import type { Rule, RuleFileInfo } from './rule.js';

/** Glob lookups cached per event type; bounded so a stream of odd types cannot grow it forever. */
const MAX_CACHED_TYPES = 2_000;

/**
 * An immutable, validated set of rules, indexed for matching: rules naming an exact type sit in
 * a map; glob rules are tested once per event type and the result cached, so rules for other
 * types cost nothing per event.
 */
export class RuleSet {
  /** Every rule, in load order. */
  readonly rules: readonly Rule[];
  /** Every loaded file with its hash. */
  readonly files: readonly RuleFileInfo[];
  private readonly exact = new Map<string, Rule[]>();
  private readonly globRules: Rule[] = [];
  private readonly cache = new Map<string, readonly Rule[]>();

  constructor(rules: readonly Rule[], files: readonly RuleFileInfo[]) {
    this.rules = rules;
    this.files = files;
    for (const rule of rules) {
      let hasGlob = false;
      for (const pattern of rule.patterns) {
        if (pattern.kind === 'glob') {
          hasGlob = true;
          continue;
        }
        const list = this.exact.get(pattern.type) ?? [];
        // A rule listing the same type twice still fires once.
        if (!list.includes(rule)) list.push(rule);
        this.exact.set(pattern.type, list);
      }
      if (hasGlob) this.globRules.push(rule);
    }
  }

  /** How many rules the set holds (the `bridge_rules_loaded` gauge). */
  get size(): number {
    return this.rules.length;
  }

  /** An empty set (no rules, no files). */
  static empty(): RuleSet {
    return new RuleSet([], []);
  }

  /** The rule with this id, if any. */
  byId(id: string): Rule | undefined {
    return this.rules.find((rule) => rule.id === id);
  }

  /**
   * Every rule for `event`: those whose `on` matches its type or one of its canonical types, each
   * once (a rule naming both `firstpromoter.lead_signup` and `affiliate.lead.created` fires once
   * for a lead signup), in load order.
   */
  rulesForEvent(event: Pick<BridgeEvent, 'type' | 'canonicalTypes'>): readonly Rule[] {
    const canonicalTypes = event.canonicalTypes ?? [];
    if (canonicalTypes.length === 0) return this.rulesFor(event.type);
    const key = [event.type, ...canonicalTypes].join(' ');
    const cached = this.cache.get(key);
    if (cached) return cached;
    const matching = new Set<Rule>(this.rulesFor(event.type));
    for (const type of canonicalTypes) for (const rule of this.rulesFor(type)) matching.add(rule);
    const ordered = [...matching].sort((a, b) => a.order - b.order);
    this.remember(key, ordered);
    return ordered;
  }

  /** Every rule whose `on` matches `type`, each once, in load order. */
  rulesFor(type: string): readonly Rule[] {
    const cached = this.cache.get(type);
    if (cached) return cached;
    const exact = this.exact.get(type) ?? [];
    const globbed = this.globRules.filter(
      (rule) => !exact.includes(rule) && rule.patterns.some((pattern) => pattern.kind === 'glob' && pattern.regex.test(type)),
    );
    const matching = globbed.length === 0 ? exact : [...exact, ...globbed].sort((a, b) => a.order - b.order);
    this.remember(type, matching);
    return matching;
  }

  private remember(key: string, rules: readonly Rule[]): void {
    if (this.cache.size >= MAX_CACHED_TYPES) this.cache.clear();
    this.cache.set(key, rules);
  }
}
