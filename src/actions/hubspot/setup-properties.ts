import { PropertyCreateFieldTypeEnum, PropertyCreateTypeEnum } from '@hubspot/api-client/lib/codegen/crm/properties/index.js';
import type { HubspotClient } from './client.js';
import type { HubspotPropertyType } from './params.js';

/** The contact property group the bridge's custom properties live in. */
export const AFFILIATE_PROPERTY_GROUP = { name: 'affiliate', label: 'Affiliate' } as const;

/** A contact property the rules write, with the type they declare. */
export interface ContactPropertyDeclaration {
  readonly name: string;
  /** @defaultValue 'string' */
  readonly type?: HubspotPropertyType;
  /** An enumeration's internal values. */
  readonly options?: readonly string[];
}

/** Options of {@link setupHubspotProperties}. */
export interface SetupHubspotPropertiesOptions {
  /** The account to compare with and write to; null for an offline dry run (no token). */
  readonly client: HubspotClient | null;
  /** The properties the rules write (collected from the loaded rules); a name given twice takes this entry. @defaultValue [] */
  readonly properties?: readonly ContactPropertyDeclaration[];
  /** Names only, each a single-line text (the form before types existed). @defaultValue [] */
  readonly propertyNames?: readonly string[];
  /** List what would be created; create nothing. @defaultValue false */
  readonly dryRun?: boolean;
  /** Aborts the calls. @defaultValue never */
  readonly signal?: AbortSignal;
}

/** A property that exists with a different definition than the rules declare. */
export interface PropertyMismatch {
  readonly name: string;
  /** One sentence, e.g. `affiliate_amount is string in HubSpot, the rules declare number`. */
  readonly problem: string;
}

/** What {@link setupHubspotProperties} found and did. */
export interface SetupHubspotPropertiesReport {
  /** Requested names that already exist (built-in or custom), sorted. */
  readonly existing: string[];
  /** Names created now (empty on a dry run), sorted. */
  readonly created: string[];
  /** Names a real run would create (dry run only; empty otherwise), sorted. */
  readonly wouldCreate: string[];
  /** Whether the `affiliate` group was created now (or, on a dry run, would be). */
  readonly groupCreated: boolean;
  /**
   * Existing properties whose type differs, or whose enumeration lacks options the rules write,
   * sorted by name. Never changed by the bridge: HubSpot would then refuse those values.
   */
  readonly mismatches: PropertyMismatch[];
  /** True when there was no client: nothing was compared with the account. */
  readonly isOffline: boolean;
}

/** A readable label from an internal name: `affiliate_suspicion` → `Affiliate suspicion`. */
export function labelFromPropertyName(name: string): string {
  const words = name.split('_').filter(Boolean).join(' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * The HubSpot definition of a declared type: type and fieldType pairs as the properties API takes
 * them (PropertyCreate.type / fieldType in HubSpot-public-api-spec-collection
 * PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json; a datetime shows as a date
 * picker, a bool as a checkbox whose options are true/false, and "options ... is required for
 * enumerated properties").
 */
export function hubspotPropertyDefinition(declaration: ContactPropertyDeclaration): {
  type: PropertyCreateTypeEnum;
  fieldType: PropertyCreateFieldTypeEnum;
  options?: Array<{ label: string; value: string; hidden: boolean; displayOrder: number }>;
} {
  switch (declaration.type ?? 'string') {
    case 'number':
      return { type: PropertyCreateTypeEnum.Number, fieldType: PropertyCreateFieldTypeEnum.Number };
    case 'datetime':
      return { type: PropertyCreateTypeEnum.Datetime, fieldType: PropertyCreateFieldTypeEnum.Date };
    case 'bool':
      return {
        type: PropertyCreateTypeEnum.Bool,
        fieldType: PropertyCreateFieldTypeEnum.Booleancheckbox,
        options: [
          { label: 'Yes', value: 'true', hidden: false, displayOrder: 0 },
          { label: 'No', value: 'false', hidden: false, displayOrder: 1 },
        ],
      };
    case 'enumeration':
      return {
        type: PropertyCreateTypeEnum.Enumeration,
        fieldType: PropertyCreateFieldTypeEnum.Select,
        options: (declaration.options ?? []).map((value, index) => ({ label: labelFromPropertyName(value) || value, value, hidden: false, displayOrder: index })),
      };
    case 'string':
      return { type: PropertyCreateTypeEnum.String, fieldType: PropertyCreateFieldTypeEnum.Text };
  }
}

/**
 * Makes sure every contact property the rules write exists in HubSpot with the type they declare:
 * reads the existing contact properties, ensures the `affiliate` group, then creates each missing
 * property (string → single-line text, number, datetime, bool → checkbox, enumeration → select with
 * the declared options). Existing properties are never changed; a different type or an enumeration
 * lacking a declared option is reported in `mismatches`. Without a client (no token) a dry run
 * lists what it would create and compares nothing.
 * @throws PermanentActionError / RetryableActionError from the HubSpot calls.
 * @throws TypeError for a real run without a client.
 */
export async function setupHubspotProperties(options: SetupHubspotPropertiesOptions): Promise<SetupHubspotPropertiesReport> {
  const { client, dryRun = false } = options;
  const signal = options.signal ?? new AbortController().signal;
  const declarations = new Map<string, ContactPropertyDeclaration>();
  for (const name of options.propertyNames ?? []) declarations.set(name, { name });
  for (const declaration of options.properties ?? []) declarations.set(declaration.name, declaration);
  const wanted = [...declarations.keys()].sort();

  if (!client) {
    if (!dryRun) throw new TypeError('setupHubspotProperties needs a client to create properties');
    return { existing: [], created: [], wouldCreate: wanted, groupCreated: wanted.length > 0, mismatches: [], isOffline: true };
  }

  const existingProperties = await client.call(signal, (sdk, callOptions) => sdk.crm.properties.coreApi.getAll('contacts', false, undefined, callOptions));
  const existingByName = new Map(existingProperties.results.map((property) => [property.name, property]));
  const existing = wanted.filter((name) => existingByName.has(name));
  const missing = wanted.filter((name) => !existingByName.has(name));

  const mismatches: PropertyMismatch[] = [];
  for (const name of existing) {
    const declaration = declarations.get(name)!;
    const property = existingByName.get(name)!;
    const wantedType = hubspotPropertyDefinition(declaration).type;
    if (declaration.type !== undefined && declaration.type !== 'string' && property.type !== wantedType) {
      mismatches.push({ name, problem: `${name} is ${property.type} in HubSpot, the rules declare ${declaration.type}` });
      continue;
    }
    if (declaration.type === 'enumeration') {
      const known = new Set((property.options ?? []).map((option) => option.value));
      const lacking = (declaration.options ?? []).filter((value) => !known.has(value));
      if (lacking.length > 0) {
        mismatches.push({ name, problem: `${name} in HubSpot lacks the options ${lacking.join(', ')}: HubSpot refuses those values until an admin adds them` });
      }
    }
  }

  let groupCreated = false;
  if (missing.length > 0) {
    const groups = await client.call(signal, (sdk, callOptions) => sdk.crm.properties.groupsApi.getAll('contacts', callOptions));
    if (!groups.results.some((group) => group.name === AFFILIATE_PROPERTY_GROUP.name)) {
      groupCreated = true;
      if (!dryRun) {
        await client.call(signal, (sdk, callOptions) =>
          sdk.crm.properties.groupsApi.create('contacts', { ...AFFILIATE_PROPERTY_GROUP }, callOptions),
        );
      }
    }
  }

  if (dryRun) return { existing, created: [], wouldCreate: missing, groupCreated, mismatches, isOffline: false };

  const created: string[] = [];
  // One at a time: a handful of properties, created once, and a failure leaves a clear report of
  // what got created before it (running again creates only the rest).
  for (const name of missing) {
    await client.call(signal, (sdk, callOptions) =>
      sdk.crm.properties.coreApi.create(
        'contacts',
        { name, label: labelFromPropertyName(name), groupName: AFFILIATE_PROPERTY_GROUP.name, ...hubspotPropertyDefinition(declarations.get(name)!) },
        callOptions,
      ),
    );
    created.push(name);
  }
  return { existing, created, wouldCreate: [], groupCreated, mismatches, isOffline: false };
}
