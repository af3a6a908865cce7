import { createHubspotClient } from '../../actions/hubspot/client.js';
import { hubspotEnv } from '../../actions/hubspot/env.js';
import { readSettings } from '../../config/env-variable.js';
import { actionRegistry } from '../../actions/registry.js';
import type { HubspotPropertyParam, HubspotPropertyType } from '../../actions/hubspot/params.js';
import { setupHubspotProperties, type ContactPropertyDeclaration } from '../../actions/hubspot/setup-properties.js';
import { loadRules } from '../../rules/load-rules.js';
import type { RuleSet } from '../../rules/rule-set.js';
import type { TemplateTree } from '../../rules/templates.js';
import { reportRuleProblems, type CommandIo } from '../io.js';
import { readConfigOrReport } from './run.js';

/** HubSpot's own contact properties: never created by the bridge. */
const BUILT_IN_CONTACT_PROPERTIES = new Set(['email', 'firstname', 'lastname', 'phone', 'company', 'website', 'lifecyclestage', 'country', 'city', 'jobtitle', 'hs_lead_status']);

/** A params tree as plain values: static parts as they are, templates as their source. */
function plainValueOf(tree: TemplateTree): unknown {
  switch (tree.kind) {
    case 'static':
      return tree.value;
    case 'template':
      return tree.source;
    case 'list':
      return tree.items.map(plainValueOf);
    case 'map':
      return Object.fromEntries(tree.entries.map(([key, item]) => [key, plainValueOf(item)]));
  }
}

/** What {@link collectContactProperties} found. */
export interface CollectedContactProperties {
  /** By name, sorted; enumeration options merged across rules. */
  readonly declarations: ContactPropertyDeclaration[];
  /** A property declared with two different types: `name: number in rule a, datetime in rule b`. */
  readonly conflicts: string[];
}

/** Every contact property the rules' `hubspot.upsert_contact` actions write, with its declared type. */
export function collectContactProperties(ruleSet: RuleSet): CollectedContactProperties {
  const byName = new Map<string, { type?: HubspotPropertyType; ruleId?: string; options: Set<string> }>();
  const conflicts: string[] = [];
  for (const rule of ruleSet.rules) {
    for (const action of rule.actions) {
      if (action.name !== 'hubspot.upsert_contact') continue;
      const params = plainValueOf(action.params) as { properties?: Record<string, HubspotPropertyParam> };
      for (const [name, param] of Object.entries(params.properties ?? {})) {
        const entry = byName.get(name) ?? { options: new Set<string>() };
        byName.set(name, entry);
        if (typeof param !== 'object' || param === null || param.type === undefined) continue;
        if (entry.type !== undefined && entry.type !== param.type) {
          conflicts.push(`${name}: ${entry.type} in rule ${entry.ruleId}, ${param.type} in rule ${rule.id}`);
          continue;
        }
        entry.type = param.type;
        entry.ruleId = rule.id;
        for (const option of param.options ?? []) entry.options.add(String(option));
      }
    }
  }
  const declarations = [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, entry]) => ({ name, type: entry.type ?? 'string', ...(entry.type === 'enumeration' ? { options: [...entry.options] } : {}) }));
  return { declarations, conflicts };
}

/** Every contact property name the rules' `hubspot.upsert_contact` actions write, sorted. */
export function collectContactPropertyNames(ruleSet: RuleSet): string[] {
  return collectContactProperties(ruleSet).declarations.map((declaration) => declaration.name);
}

function describeDeclaration(declaration: ContactPropertyDeclaration): string {
  const type = declaration.type ?? 'string';
  return declaration.options ? `${declaration.name} (${type}: ${declaration.options.join(', ')})` : `${declaration.name} (${type})`;
}

/**
 * `hubspot setup-properties [--dry-run] [--rules DIR]`: creates, in the `affiliate` property group,
 * the custom contact properties the rules write and HubSpot does not have yet, typed as the rules
 * declare. `--dry-run` works without a token (it lists what it would create); with a token it also
 * compares with the account: a different type, an enumeration lacking an option.
 */
export async function runHubspotSetupPropertiesCommand(options: { dryRun: boolean; rulesDir: string }, io: CommandIo): Promise<number> {
  const config = readConfigOrReport(process.env, io);
  if (!config) return 1;
  const loaded = await loadRules(options.rulesDir, { actions: actionRegistry });
  if (!loaded.ok) {
    reportRuleProblems(io, loaded.problems, `the rules in ${options.rulesDir} do not load`);
    return 1;
  }
  const collected = collectContactProperties(loaded.ruleSet);
  if (collected.conflicts.length > 0) {
    for (const conflict of collected.conflicts) io.stderr(`property declared with two types: ${conflict}`);
    return 1;
  }
  const declarations = collected.declarations.filter((declaration) => !BUILT_IN_CONTACT_PROPERTIES.has(declaration.name));
  if (declarations.length === 0) {
    io.stdout('The rules write no custom contact properties: nothing to set up.');
    return 0;
  }
  const settings = readSettings(config, hubspotEnv);
  if (!settings.HUBSPOT_ACCESS_TOKEN) {
    if (options.dryRun) {
      io.stdout('HUBSPOT_ACCESS_TOKEN is unset: listing what the rules need, without comparing with the account.');
      io.stdout(`Would create (where missing): ${declarations.map(describeDeclaration).join(', ')}`);
      return 0;
    }
    io.stderr('HUBSPOT_ACCESS_TOKEN is unset: cannot read or create HubSpot properties.');
    io.stderr(`The rules write these custom contact properties: ${declarations.map((declaration) => declaration.name).join(', ')}`);
    return 1;
  }
  const client = createHubspotClient({ accessToken: settings.HUBSPOT_ACCESS_TOKEN, baseUrl: settings.HUBSPOT_BASE_URL, timeoutMs: config.actionTimeoutMs, now: Date.now });
  try {
    const report = await setupHubspotProperties({ client, properties: declarations, dryRun: options.dryRun });
    const byName = new Map(declarations.map((declaration) => [declaration.name, declaration]));
    const described = (names: readonly string[]) => names.map((name) => describeDeclaration(byName.get(name)!)).join(', ');
    if (report.existing.length > 0) io.stdout(`Already in HubSpot: ${report.existing.join(', ')}`);
    if (options.dryRun) {
      if (report.groupCreated) io.stdout('Would create the property group "affiliate".');
      io.stdout(report.wouldCreate.length > 0 ? `Would create: ${described(report.wouldCreate)}` : 'Nothing to create.');
    } else {
      if (report.groupCreated) io.stdout('Created the property group "affiliate".');
      io.stdout(report.created.length > 0 ? `Created: ${described(report.created)}` : 'Nothing to create.');
    }
    for (const mismatch of report.mismatches) io.stdout(`Differs from the rules: ${mismatch.problem}`);
    return 0;
  } catch (error) {
    io.stderr(`HubSpot answered: ${(error as Error).message}`);
    return 1;
  } finally {
    client.close();
  }
}
