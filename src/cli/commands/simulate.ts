import { readFile } from 'node:fs/promises';
import type { ActionCatalog } from '../../actions/action.js';
import { actionRegistry } from '../../actions/registry.js';
import { INTERNAL_SOURCE } from '../../events/internal-events.js';
import { buildEventFromPayload, recheckInternalEvent, type PayloadNormalizers } from '../../rules/tooling/event-from-payload.js';
import { applyPayloadChanges, parsePayloadChange, PayloadChangeError } from '../../rules/tooling/payload-changes.js';
import { applySchemaCheck } from '../../sources/check-event.js';
import { loadRules } from '../../rules/load-rules.js';
import { planUnlessQuarantined } from '../../delivery/delivery-policy.js';
import { planActions } from '../../rules/plan.js';
import { buildSimulationReport, formatSimulationReport } from '../../rules/tooling/simulate.js';
import { sourceRegistry } from '../../sources/registry.js';
import { reportRuleProblems, type CommandIo } from '../io.js';

export interface SimulateCommandOptions {
  /** A delivery body (the provider's full JSON envelope), or a bridge event's `{ "type": "bridge.…", "data": {…} }`. */
  readonly file: string;
  /** A registered source name (firstpromoter, rewardful…) or `bridge`. @defaultValue inferred from the payload (see buildEventFromPayload) */
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
  /**
   * `PATH=VALUE` changes to the payload, applied in order after it becomes an event (`--set
   * data.amount=25000 --set data.state=voided`): see applyPayloadChanges for paths and typing.
   * @defaultValue none
   */
  readonly set?: readonly string[];
}

/**
 * `affiliate-bridge simulate FILE [--source S] [--set PATH=VALUE]… [--rules DIR] [--json]`: which rules match the
 * payload and the actions they would send, rendered. Sends nothing; needs no Redis. Missing fields
 * render as at run time (empty, with a warning). Quarantined events are planned anyway, with the
 * quarantine reason shown, since simulate is how one checks a fix.
 * @returns 0 once printed; 1 when the file, the payload, a `--set` or the rules cannot be used.
 */
export async function runSimulateCommand(options: SimulateCommandOptions, io: CommandIo): Promise<number> {
  let body: unknown;
  try {
    body = JSON.parse(await readFile(options.file, 'utf8'));
  } catch (error) {
    io.stderr(`cannot read ${options.file} as JSON: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  const normalizers = options.normalizers ?? sourceRegistry;
  let event;
  try {
    event = buildEventFromPayload(body, {
      source: options.source,
      normalizers,
      receivedAt: options.now?.() ?? new Date(),
    });
  } catch (error) {
    io.stderr(`cannot build an event from ${options.file}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  if (options.set !== undefined && options.set.length > 0) {
    // Changed as if the provider (or the bridge) had sent it so: a provider's event gets its
    // affiliate model derived again.
    const normalizer = event.source === INTERNAL_SOURCE ? undefined : (normalizers[event.source] as PayloadNormalizers[string]);
    try {
      event = applyPayloadChanges(event, options.set.map(parsePayloadChange), normalizer?.normalizeAffiliate);
    } catch (error) {
      if (!(error instanceof PayloadChangeError)) throw error;
      io.stderr(error.message);
      return 1;
    }
    // Then checked again: a fraction in a provider's integer field quarantines the event, as it would
    // at run time; the bridge never stores a bridge event whose data does not match its schema, so
    // there it is an error.
    if (normalizer) event = applySchemaCheck(normalizer, event);
    else {
      try {
        event = recheckInternalEvent(event);
      } catch (error) {
        io.stderr(`after --set: ${error instanceof Error ? error.message : String(error)}`);
        return 1;
      }
    }
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
