import { readFile } from 'node:fs/promises';
import type { ActionCatalog } from '../../actions/action.js';
import { actionRegistry } from '../../actions/registry.js';
import { buildEventFromPayload, type PayloadNormalizers } from '../../rules/tooling/event-from-payload.js';
import { loadRules } from '../../rules/load-rules.js';
import { planUnlessQuarantined } from '../../delivery/delivery-policy.js';
import { planActions } from '../../rules/plan.js';
import { buildSimulationReport, formatSimulationReport } from '../../rules/tooling/simulate.js';
import { sourceRegistry } from '../../sources/registry.js';
import { reportRuleProblems, type CommandIo } from '../io.js';

export interface SimulateCommandOptions {
  /** A delivery body (the provider's full JSON envelope). */
  readonly file: string;
  /** A registered source name (firstpromoter, rewardful…). @defaultValue inferred from the payload's envelope (see inferSource) */
  readonly source?: string;
  /** The rules directory to load (the CLI's `--rules`: RULES_DIR, else DEFAULT_RULES_DIR, ./rules). */
  readonly rulesDir: string;
  /** Print the report as JSON. @defaultValue false */
  readonly json?: boolean;
  /** How payloads become events. @defaultValue sourceRegistry */
  readonly normalizers?: PayloadNormalizers;
  /** `receivedAt` of the simulated event. @defaultValue now */
  readonly now?: () => Date;
  /** The actions rules may name. @defaultValue actionRegistry */
  readonly actions?: ActionCatalog;
}

/**
 * `affiliate-bridge simulate FILE [--source S] [--rules DIR] [--json]`: which rules match the
 * payload and the actions they would send, rendered. Sends nothing; needs no Redis. Missing fields
 * render as at run time (empty, with a warning). Quarantined events are planned anyway, with the
 * quarantine reason shown, since simulate is how one checks a fix.
 * @returns 0 once printed; 1 when the file, the payload or the rules cannot be used.
 */
export async function runSimulateCommand(options: SimulateCommandOptions, io: CommandIo): Promise<number> {
  let body: unknown;
  try {
    body = JSON.parse(await readFile(options.file, 'utf8'));
  } catch (error) {
    io.stderr(`cannot read ${options.file} as JSON: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  let event;
  try {
    event = buildEventFromPayload(body, {
      source: options.source,
      normalizers: options.normalizers ?? sourceRegistry,
      receivedAt: options.now?.() ?? new Date(),
    });
  } catch (error) {
    io.stderr(`cannot build an event from ${options.file}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  const actions = options.actions ?? actionRegistry;
  const loaded = await loadRules(options.rulesDir, { actions });
  if (!loaded.ok) {
    reportRuleProblems(io, loaded.problems, `the rules in ${options.rulesDir} do not load`);
    return 1;
  }
  // What a replay would do: the delivery policy plans a replayed event even when quarantined.
  const { plan } = planUnlessQuarantined(event, 'replay', (planned) => planActions(loaded.ruleSet, planned, { strictTemplates: false }));
  const report = buildSimulationReport(event, plan, (action) => actions[action.action]?.explain?.(action.params) ?? []);
  if (options.json === true) io.stdout(JSON.stringify(report, null, 2));
  else for (const line of formatSimulationReport(report)) io.stdout(line);
  return 0;
}
