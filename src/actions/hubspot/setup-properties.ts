import { PropertyCreateFieldTypeEnum, PropertyCreateTypeEnum } from '@hubspot/api-client/lib/codegen/crm/properties/index.js';
import type { HubspotClient } from './client.js';

/** The contact property group the bridge's custom properties live in. */
export const AFFILIATE_PROPERTY_GROUP = { name: 'affiliate', label: 'Affiliate' } as const;

/** Options of {@link setupHubspotProperties}. */
export interface SetupHubspotPropertiesOptions {
  readonly client: HubspotClient;
  /** Internal names of the contact properties the rules write (collected from the loaded rules). */
  readonly propertyNames: readonly string[];
  /** List what would be created; create nothing. @defaultValue false */
  readonly dryRun?: boolean;
  /** Aborts the calls. @defaultValue never */
  readonly signal?: AbortSignal;
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
}

/** A readable label from an internal name: `affiliate_suspicion` → `Affiliate suspicion`. */
export function labelFromPropertyName(name: string): string {
  const words = name.split('_').filter(Boolean).join(' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * Makes sure every contact property the rules write exists in HubSpot: reads the existing contact
 * properties, ensures the `affiliate` group, then creates each missing property as a single-line
 * text (`type: string`, `fieldType: text`). Existing properties are never changed.
 * @throws PermanentActionError / RetryableActionError from the HubSpot calls.
 */
export async function setupHubspotProperties(options: SetupHubspotPropertiesOptions): Promise<SetupHubspotPropertiesReport> {
  const { client, dryRun = false } = options;
  const signal = options.signal ?? new AbortController().signal;
  const wanted = [...new Set(options.propertyNames)].sort();

  const existingProperties = await client.call(signal, (sdk, callOptions) => sdk.crm.properties.coreApi.getAll('contacts', false, undefined, callOptions));
  const existingNames = new Set(existingProperties.results.map((property) => property.name));
  const existing = wanted.filter((name) => existingNames.has(name));
  const missing = wanted.filter((name) => !existingNames.has(name));

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

  if (dryRun) return { existing, created: [], wouldCreate: missing, groupCreated };

  const created: string[] = [];
  // One at a time: a handful of properties, created once, and a failure leaves a clear report of
  // what got created before it (running again creates only the rest).
  for (const name of missing) {
    await client.call(signal, (sdk, callOptions) =>
      sdk.crm.properties.coreApi.create(
        'contacts',
        {
        name,
        label: labelFromPropertyName(name),
        type: PropertyCreateTypeEnum.String,
        fieldType: PropertyCreateFieldTypeEnum.Text,
        groupName: AFFILIATE_PROPERTY_GROUP.name,
        },
        callOptions,
      ),
    );
    created.push(name);
  }
  return { existing, created, wouldCreate: [], groupCreated };
}
