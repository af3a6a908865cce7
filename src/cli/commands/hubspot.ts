import { createHubspotClient } from '../../actions/hubspot/client.js';
import { hubspotEnv } from '../../actions/hubspot/env.js';
import { readSettings } from '../../config/env-variable.js';
import { setupHubspotProperties } from '../../actions/hubspot/setup-properties.js';
import { actionRegistry } from '../../actions/registry.js';
import { loadRules } from '../../rules/load-rules.js';
import type { RuleSet } from '../../rules/rule-set.js';
import { reportRuleProblems, type CommandIo } from '../io.js';
import { readConfigOrReport } from './run.js';

/** HubSpot's own contact properties: never created by the bridge. */
const BUILT_IN_CONTACT_PROPERTIES = new Set(['email', 'firstname', 'lastname', 'phone', 'company', 'website', 'lifecyclestage', 'country', 'city', 'jobtitle', 'hs_lead_status']);

/** Every contact property name the rules' `hubspot.upsert_contact` actions write, sorted. */
export function collectContactPropertyNames(ruleSet: RuleSet): string[] {
  const names = new Set<string>();
  for (const rule of ruleSet.rules) {
    for (const action of rule.actions) {
      if (action.name !== 'hubspot.upsert_contact' || action.params.kind !== 'map') continue;
      const properties = action.params.entries.find(([key]) => key === 'properties')?.[1];
      if (properties?.kind === 'map') for (const [name] of properties.entries) names.add(name);
    }
  }
  return [...names].sort();
}

/**
 * `hubspot setup-properties [--dry-run] [--rules DIR]`: creates, in the `affiliate` property group,
 * the custom contact properties the rules write and HubSpot does not have yet.
 */
export async function runHubspotSetupPropertiesCommand(options: { dryRun: boolean; rulesDir: string }, io: CommandIo): Promise<number> {
  const config = readConfigOrReport(process.env, io);
  if (!config) return 1;
  const loaded = await loadRules(options.rulesDir, { actions: actionRegistry });
  if (!loaded.ok) {
    reportRuleProblems(io, loaded.problems, `the rules in ${options.rulesDir} do not load`);
    return 1;
  }
  const propertyNames = collectContactPropertyNames(loaded.ruleSet).filter((name) => !BUILT_IN_CONTACT_PROPERTIES.has(name));
  if (propertyNames.length === 0) {
    io.stdout('The rules write no custom contact properties: nothing to set up.');
    return 0;
  }
  const settings = readSettings(config, hubspotEnv);
  if (!settings.HUBSPOT_ACCESS_TOKEN) {
    io.stderr('HUBSPOT_ACCESS_TOKEN is unset: cannot read or create HubSpot properties.');
    io.stderr(`The rules write these custom contact properties: ${propertyNames.join(', ')}`);
    return 1;
  }
  const client = createHubspotClient({ accessToken: settings.HUBSPOT_ACCESS_TOKEN, baseUrl: settings.HUBSPOT_BASE_URL, timeoutMs: config.actionTimeoutMs, now: Date.now });
  try {
    const report = await setupHubspotProperties({ client, propertyNames, dryRun: options.dryRun });
    if (report.existing.length > 0) io.stdout(`Already in HubSpot: ${report.existing.join(', ')}`);
    if (options.dryRun) {
      if (report.groupCreated) io.stdout('Would create the property group "affiliate".');
      io.stdout(report.wouldCreate.length > 0 ? `Would create: ${report.wouldCreate.join(', ')}` : 'Nothing to create.');
    } else {
      if (report.groupCreated) io.stdout('Created the property group "affiliate".');
      io.stdout(report.created.length > 0 ? `Created: ${report.created.join(', ')}` : 'Nothing to create.');
    }
    return 0;
  } catch (error) {
    io.stderr(`HubSpot answered: ${(error as Error).message}`);
    return 1;
  } finally {
    client.close();
  }
}
