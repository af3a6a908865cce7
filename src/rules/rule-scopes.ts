import { Environment } from '@marcbachmann/cel-js';
import type * as yup from 'yup';
import { affiliateFieldsSchema, DEFAULT_EVENT_ORIGIN, emptyAffiliateFields } from '../events/affiliate.js';
import { CONFLICTING_DUPLICATE_TYPE, defineRuleEventSchema, type BridgeEvent } from '../events/event.js';
import { INTERNAL_EVENT_TYPES, INTERNAL_SOURCE } from '../events/internal-events.js';
import type { EventSchemas } from '../sources/check-event.js';
import { sourceRegistry, type SourceRegistry } from '../sources/registry.js';
import { anyObject } from '../sources/schema-fields.js';
import { celTypeOf, collectObjectTypes, deriveFieldType, toCelValue, TypeNamer, type FieldType } from './scope-types.js';

/** The payload schemas of one event type, as a source declares them; missing parts are open objects. */
export interface ScopePayloads {
  readonly data: yup.ISchema<unknown>;
  readonly envelope: yup.ISchema<unknown>;
}

/** One variable rules see: its schema for an event type, and its value on an event. */
export interface RuleVariable {
  describe(payloads: ScopePayloads): yup.ISchema<unknown>;
  read(event: BridgeEvent): unknown;
}

/**
 * The variables conditions and templates see, each described by a yup schema. This is the one
 * list: the CEL environment, the template check and the run-time values all come from it, so a
 * new variable (say `affiliate`, with its own schema) is one line here.
 */
export const RULE_VARIABLES: Readonly<Record<string, RuleVariable>> = Object.freeze({
  // An event stored before origins existed reads as a webhook's: a condition never meets a missing `event.origin`.
  event: {
    describe: (payloads: ScopePayloads) => defineRuleEventSchema(payloads),
    read: (event: BridgeEvent) => (event.origin === undefined ? { ...event, origin: DEFAULT_EVENT_ORIGIN } : event),
  },
  data: { describe: (payloads: ScopePayloads) => payloads.data, read: (event: BridgeEvent) => event.data },
  // The normalized fields (events/affiliate.ts): every key always there, null where the event has no value.
  affiliate: { describe: () => affiliateFieldsSchema, read: (event: BridgeEvent) => event.affiliate ?? emptyAffiliateFields(event.source) },
});

/** What templates and conditions see of `event`: every variable of RULE_VARIABLES, read from it. */
export function readRuleScope(event: BridgeEvent): { readonly event: BridgeEvent; readonly data: Record<string, unknown> } & Record<string, unknown> {
  const scope: Record<string, unknown> = {};
  for (const [name, variable] of RULE_VARIABLE_ENTRIES) scope[name] = variable.read(event);
  return scope as { event: BridgeEvent; data: Record<string, unknown> };
}

const RULE_VARIABLE_ENTRIES = Object.entries(RULE_VARIABLES);

/** The names of the variables rules see: `event`, `data`, `affiliate`. */
export const RULE_VARIABLE_NAMES: readonly string[] = Object.freeze(Object.keys(RULE_VARIABLES));

/** The object type a field of `FieldType` names, for messages and did-you-mean. */
export type ObjectFieldType = Extract<FieldType, { kind: 'object' }>;

/**
 * What rules can reach on the events of one or more event types that share their schemas: every
 * variable's derived type, and a CEL environment with those types declared, for the library's own
 * type checker. Conditions never run in this environment (see conditions.ts): it exists to check.
 */
export interface RuleScope {
  /** Whether the types come from a schema (false: a type of a source without schemas, all `dyn`). */
  readonly isTyped: boolean;
  readonly variables: Readonly<Record<string, FieldType>>;
  /** Every message type declared to CEL, by name. */
  readonly objectTypes: ReadonlyMap<string, ObjectFieldType>;
  /** A cel-js environment with the variables and their types declared (check only). */
  readonly checkEnvironment: Environment;
  /** The event's variables as CEL values of the declared types (ints as BigInt, timestamps as Date). */
  toCelValues(event: BridgeEvent): Record<string, unknown>;
}

/**
 * Every event type rules may name, from a source registry, and the scope of each. Scopes are
 * built on first use and shared by the event types whose schemas are the same objects (Rewardful's
 * 31 types have 7 object schemas), since a CEL environment is costly to build.
 */
export class RuleScopeCatalog {
  private readonly types = new Map<string, { readonly source: string; readonly payloads: EventSchemas | null }>();
  private readonly bySource = new Map<string, string[]>();
  private readonly scopes = new Map<unknown, Map<unknown, RuleScope>>();
  private untypedScope: RuleScope | null = null;

  constructor(readonly registry: SourceRegistry) {
    for (const source of Object.values(registry)) {
      const names: string[] = [];
      // A conflicting duplicate (events/event.ts) is a type of every source, with the delivery's
      // payload as data: untyped, like a test delivery.
      for (const providerType of [...source.eventTypes, ...(source.testEventTypes ?? []), CONFLICTING_DUPLICATE_TYPE]) {
        const type = `${source.name}.${providerType}`;
        if (this.types.has(type)) continue;
        this.types.set(type, { source: source.name, payloads: source.schemasFor(providerType) });
        names.push(type);
      }
      this.bySource.set(source.name, names);
    }
    // The bridge's own events (events/internal-events.ts): known whatever the registry, typed by their data schemas.
    const internal: string[] = [];
    for (const [providerType, declared] of Object.entries(INTERNAL_EVENT_TYPES)) {
      const type = `${INTERNAL_SOURCE}.${providerType}`;
      this.types.set(type, { source: INTERNAL_SOURCE, payloads: { data: declared.data } });
      internal.push(type);
    }
    this.bySource.set(INTERNAL_SOURCE, internal);
  }

  /** Whether `source` is one of the registry's, or the bridge's own (a toy source of a test may not be). */
  hasSource(source: string): boolean {
    return this.bySource.has(source);
  }

  /** Every event type of every source, in registry order, then the bridge's own: `firstpromoter.lead_signup`, …, `bridge.action.failed` */
  get eventTypes(): readonly string[] {
    return [...this.types.keys()];
  }

  /** The event types of one source, in its own order (empty for a source the registry lacks). */
  eventTypesOf(source: string): readonly string[] {
    return this.bySource.get(source) ?? [];
  }

  isKnownType(type: string): boolean {
    return this.types.has(type);
  }

  /** The scope of `type`: typed from its schemas, or all `dyn` for a type the registry does not describe. */
  scopeFor(type: string): RuleScope {
    const entry = this.types.get(type);
    if (!entry?.payloads) return (this.untypedScope ??= buildScope(OPEN_PAYLOADS, false));
    const data = entry.payloads.data;
    const envelope = entry.payloads.envelope ?? OPEN_OBJECT;
    let byEnvelope = this.scopes.get(data);
    if (!byEnvelope) this.scopes.set(data, (byEnvelope = new Map()));
    let scope = byEnvelope.get(envelope);
    if (!scope) byEnvelope.set(envelope, (scope = buildScope({ data, envelope }, true)));
    return scope;
  }

  /** The event's variables as CEL values, typed by its event type's schemas. */
  toCelValues(event: BridgeEvent): Record<string, unknown> {
    return this.scopeFor(event.type).toCelValues(event);
  }
}

/**
 * An object the schemas do not describe: `map<string, dyn>`. Never null: an event's `data` is always
 * an object, and its `envelope` is absent rather than null when a source keeps none.
 */
const OPEN_OBJECT = anyObject.nonNullable();
const OPEN_PAYLOADS: ScopePayloads = { data: OPEN_OBJECT, envelope: OPEN_OBJECT };

let shippedCatalog: RuleScopeCatalog | null = null;

/** The catalog of the shipped source registry, built once. */
export function shippedScopeCatalog(): RuleScopeCatalog {
  return (shippedCatalog ??= new RuleScopeCatalog(sourceRegistry));
}

/** The catalog of `registry`: the shipped one when it is the shipped registry. */
export function scopeCatalogFor(registry: SourceRegistry | undefined): RuleScopeCatalog {
  return registry === undefined || registry === sourceRegistry ? shippedScopeCatalog() : new RuleScopeCatalog(registry);
}

function buildScope(payloads: ScopePayloads, isTyped: boolean): RuleScope {
  const namer = new TypeNamer();
  const variables: Record<string, FieldType> = {};
  for (const [name, variable] of Object.entries(RULE_VARIABLES)) variables[name] = deriveFieldType(variable.describe(payloads), name, namer);
  const objectTypes = new Map<string, ObjectFieldType>();
  for (const type of Object.values(variables)) collectObjectTypes(type, objectTypes);
  const checkEnvironment = buildCheckEnvironment(variables, objectTypes);
  const entries = Object.entries(RULE_VARIABLES);
  return {
    isTyped,
    variables,
    objectTypes,
    checkEnvironment,
    toCelValues(event) {
      const values: Record<string, unknown> = {};
      // `data` is converted once: `event.data` is the same payload, so the event's Map reuses it.
      for (const [name, variable] of entries) {
        if (name !== 'event') values[name] = toCelValue(variable.read(event), variables[name]);
      }
      const { data: _data, ...eventFields } = event;
      const celEvent = toCelValue(eventFields, variables.event) as Map<string, unknown>;
      celEvent.set('data', values.data);
      values.event = celEvent;
      return values;
    },
  };
}

let base: Environment | null = null;

/** cel-js's built-ins, registered once: a clone shares them instead of building them again. */
function baseEnvironment(): Environment {
  return (base ??= new Environment({ homogeneousAggregateLiterals: false, enableOptionalTypes: true }));
}

/**
 * A cel-js environment declaring every message type (inner ones first: a field's type must be
 * registered before the type that holds it) and every variable. Fields the schemas allow to be
 * null may be compared with null (`data.customer != null`): CEL message fields cannot hold null, so
 * that comparison is declared for each such type.
 */
function buildCheckEnvironment(variables: Readonly<Record<string, FieldType>>, objectTypes: ReadonlyMap<string, ObjectFieldType>): Environment {
  const environment = baseEnvironment().clone();
  const nullableTypes = new Set<string>();
  for (const type of objectTypes.values()) {
    const fields: Record<string, string> = {};
    for (const [key, field] of Object.entries(type.fields)) {
      fields[key] = celTypeOf(field);
      if (field.isNullable && !(field.kind === 'scalar' && field.cel === 'dyn')) nullableTypes.add(fields[key]);
    }
    // A class of its own per type: the environment only checks, so no value is ever built from it,
    // and with a constructor cel-js skips deriving converters (which fail on timestamp fields).
    environment.registerType(type.name, { ctor: class {}, fields });
  }
  for (const [name, type] of Object.entries(variables)) environment.registerVariable(name, celTypeOf(type));
  for (const type of nullableTypes) {
    try {
      environment.registerOperator(`${type} == null`, (left: unknown, right: unknown) => left === right);
    } catch {
      // cel-js already declares this comparison for some types: nothing to add.
    }
  }
  return environment;
}

/**
 * The Markdown list of every event type rules may name, per source, as rules/README.md shows it
 * between `<!-- event-types:start -->` and `<!-- event-types:end -->` (a test keeps the two equal).
 */
export function formatEventTypeList(registry: SourceRegistry = sourceRegistry): string {
  const sections: string[] = [];
  for (const source of Object.values(registry)) {
    const types = source.eventTypes.map((type) => `\`${source.name}.${type}\``).join(', ');
    sections.push(`**${source.title}** (${source.eventTypes.length}): ${types}`);
    if (source.testEventTypes && source.testEventTypes.length > 0) {
      const tests = source.testEventTypes.map((type) => `\`${source.name}.${type}\``).join(', ');
      sections.push(`${source.title} test deliveries (${source.testEventTypes.length}, \`data\` untyped): ${tests}`);
    }
  }
  const duplicates = Object.values(registry).map((source) => `\`${source.name}.${CONFLICTING_DUPLICATE_TYPE}\``).join(', ');
  sections.push(`Every source (\`data\` untyped): ${duplicates}, a delivery that reused a known event id with another body (quarantined: see "Conflicting duplicates" above)`);
  const internal = Object.entries(INTERNAL_EVENT_TYPES).map(([type, declared]) => `\`${INTERNAL_SOURCE}.${type}\`, ${declared.description}`);
  sections.push(`**The bridge itself** (${internal.length}, never a webhook): ${internal.join('; ')}`);
  return sections.join('\n\n');
}
