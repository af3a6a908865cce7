import { Command } from 'commander';
import { actionRegistry } from '../actions/registry.js';
import { DEFAULT_RULES_DIR } from '../config/env-variable.js';
import { sourceRegistry } from '../sources/registry.js';
import { processIo } from './io.js';

// Each command's module is imported when the command runs: `check` must not load BullMQ, Express
// or an SDK it never uses (start-up time is most of a `check`). The registries are light: their
// descriptors import SDK clients lazily.
const commands = {
  check: () => import('./commands/check.js'),
  demo: () => import('./commands/demo.js'),
  hubspot: () => import('./commands/hubspot.js'),
  operations: () => import('./commands/operations.js'),
  reconcile: () => import('./commands/reconcile.js'),
  run: () => import('./commands/run.js'),
  schema: () => import('./commands/schema.js'),
  simulate: () => import('./commands/simulate.js'),
  test: () => import('./commands/test.js'),
  whatIf: () => import('./commands/what-if.js'),
};

/** `FirstPromoter and Rewardful`: the registered sources' titles, for help texts. */
const sourceTitles = listInWords(Object.values(sourceRegistry).map((source) => source.title), 'and');
const integrationTitles = listInWords([...new Set(Object.values(actionRegistry).map((action) => action.title))], 'and');

function listInWords(items: readonly string[], conjunction: string): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} ${conjunction} ${items.at(-1)}`;
}

/** Exits with the command's code once it is done; long-running roles keep the process alive. */
function exitWith(result: Promise<number | 'running'>): Promise<void> {
  return result.then((code) => {
    if (code !== 'running') process.exitCode = code;
  });
}

const rulesDirDefault = () => process.env.RULES_DIR || DEFAULT_RULES_DIR;

const program = new Command('affiliate-bridge')
  .description(`Turns ${sourceTitles} webhooks into ${integrationTitles} actions, by rules.`)
  .showHelpAfterError();

/** The options `start`, `api` and `worker` take. */
interface RunOptions {
  /** `--dotenv FILE`: a .env file read first when it exists. @defaultValue undefined (none read) */
  readonly dotenv?: string;
}
const runBridge = (roles: { api: boolean; workers: boolean }, options: RunOptions) =>
  exitWith(commands.run().then(({ runBridgeCommand }) => runBridgeCommand(roles, processIo, { dotenv: options.dotenv })));
// `npm start` passes `--dotenv .env`. Not named --env-file-if-exists: Node 20.20 acts on that flag
// even after the script name (and prints ".env not found" itself).
const ENV_FILE_OPTION = ['--dotenv <file>', 'read this .env file first when it exists; the environment wins over it'] as const;
program.command('start').description('HTTP and workers in one process').option(...ENV_FILE_OPTION).action((options: RunOptions) => runBridge({ api: true, workers: true }, options));
program.command('api').description('HTTP intake only').option(...ENV_FILE_OPTION).action((options: RunOptions) => runBridge({ api: true, workers: false }, options));
program.command('worker').description('workers only (metrics on METRICS_PORT)').option(...ENV_FILE_OPTION).action((options: RunOptions) => runBridge({ api: false, workers: true }, options));

program
  .command('check')
  .description('validate every rule file; exit 1 listing file:line:col: message for every problem')
  .option('--rules <dir>', 'rules directory', rulesDirDefault())
  .action((options: { rules: string }) => exitWith(commands.check().then(({ runCheckCommand }) => runCheckCommand({ rulesDir: options.rules }, processIo))));

program
  .command('test')
  .description('run the rule test cases in <rules>/tests; exit 1 on a failure')
  .option('--rules <dir>', 'rules directory', rulesDirDefault())
  .action((options: { rules: string }) => exitWith(commands.test().then(({ runTestCommand }) => runTestCommand({ rulesDir: options.rules }, processIo))));

program
  .command('simulate <file>')
  .description('which rules match this payload and the rendered actions; sends nothing')
  .option('--source <source>', `${listInWords(Object.keys(sourceRegistry), 'or')} (inferred from the payload when omitted)`)
  .option('--set <path=value>', 'change a field of the payload first, typed as the field (repeatable): --set data.amount=25000', (change: string, changes: string[]) => [...changes, change], [] as string[])
  .option('--rules <dir>', 'rules directory', rulesDirDefault())
  .option('--json', 'print JSON')
  .action((file: string, options: { source?: string; set: string[]; rules: string; json?: boolean }) =>
    exitWith(
      commands
        .simulate()
        .then(({ runSimulateCommand }) =>
          runSimulateCommand({ file, source: options.source, set: options.set, rulesDir: options.rules, json: options.json ?? false }, processIo),
        ),
    ),
  );

// Issue 11.4: editor support.
program
  .command('schema')
  .description('print the JSON Schema of rule files (also shipped as rules/rule-file.schema.json)')
  .action(() => exitWith(commands.schema().then(({ runSchemaCommand }) => runSchemaCommand({}, processIo))));

// Issue 11.5 and 11.6: what-if replay and coverage over the stored events.
program
  .command('diff')
  .description('plan the stored events with the live rules and with DIR: per rule, actions added, removed, changed, unchanged; sends nothing')
  .requiredOption('--rules <dir>', 'the candidate rules directory')
  .option('--since <duration>', 'how far back to read stored events (at most DEDUP_TTL)', '7d')
  .option('--json', 'print JSON')
  .action((options: { rules: string; since: string; json?: boolean }) =>
    exitWith(commands.whatIf().then(({ runDiffCommand }) => runDiffCommand({ rulesDir: options.rules, since: options.since, json: options.json ?? false }, processIo))),
  );
program
  .command('coverage')
  .description('event types received that no rule handles, and rules that never matched')
  .option('--since <duration>', 'how far back to read stored events (at most DEDUP_TTL)', '7d')
  .option('--json', 'print JSON')
  .action((options: { since: string; json?: boolean }) =>
    exitWith(commands.whatIf().then(({ runCoverageCommand }) => runCoverageCommand({ since: options.since, json: options.json ?? false }, processIo))),
  );

const actions = program.command('actions').description('the dead-letter list of failed actions');
actions.command('failed').description('list failed actions').option('--json', 'print JSON')
  .action((options: { json?: boolean }) => exitWith(commands.operations().then(({ runActionsFailedCommand }) => runActionsFailedCommand(options, processIo))));
actions.command('retry [jobId]').description('send a failed action again (or --all)').option('--all', 'retry every failed action')
  .action((jobId: string | undefined, options: { all?: boolean }) => exitWith(commands.operations().then(({ runActionsRetryCommand }) => runActionsRetryCommand(jobId, options, processIo))));

const events = program.command('events').description('stored events');
events.command('replay <eventId>').description('plan and run an event again with the current rules')
  .action((eventId: string) => exitWith(commands.operations().then(({ runEventsReplayCommand }) => runEventsReplayCommand(eventId, processIo))));
events.command('quarantined').description('list quarantined events').option('--json', 'print JSON')
  .action((options: { json?: boolean }) => exitWith(commands.operations().then(({ runEventsQuarantinedCommand }) => runEventsQuarantinedCommand(options, processIo))));
events.command('trace <eventId>').description('why each rule did or did not fire, and each action\'s outcome').option('--json', 'print JSON')
  .action((eventId: string, options: { json?: boolean }) => exitWith(commands.operations().then(({ runEventsTraceCommand }) => runEventsTraceCommand(eventId, options, processIo))));

// Failed event jobs (issue 10): a block of its own.
events.command('failed').description('list event jobs that used all their attempts').option('--json', 'print JSON')
  .action((options: { json?: boolean }) => exitWith(commands.operations().then(({ runEventsFailedCommand }) => runEventsFailedCommand(options, processIo))));
events.command('retry [jobId]').description('plan a failed event job again (or --all)').option('--all', 'retry every failed event job')
  .action((jobId: string | undefined, options: { all?: boolean }) => exitWith(commands.operations().then(({ runEventsRetryCommand }) => runEventsRetryCommand(jobId, options, processIo))));

program
  .command('hubspot')
  .description('HubSpot set-up')
  .command('setup-properties')
  .description('create the custom contact properties the rules use')
  .option('--dry-run', 'list what would be created')
  .option('--rules <dir>', 'rules directory', rulesDirDefault())
  .action((options: { dryRun?: boolean; rules: string }) =>
    exitWith(commands.hubspot().then(({ runHubspotSetupPropertiesCommand }) => runHubspotSetupPropertiesCommand({ dryRun: options.dryRun ?? false, rulesDir: options.rules }, processIo))),
  );

program
  .command('reconcile')
  .description(`fetch objects from the ${sourceTitles} APIs and synthesize the events the bridge never received`)
  .option('--source <source>', `${listInWords(Object.keys(sourceRegistry), 'or')} (every source whose API credentials are set when omitted)`)
  .option('--since <duration>', 'how far back: objects created or changed since then', '24h')
  .option('--dry-run', 'list the missing events, store nothing')
  .option('--json', 'print JSON')
  .action((options: { source?: string; since: string; dryRun?: boolean; json?: boolean }) =>
    exitWith(commands.reconcile().then(({ runReconcileCommand }) => runReconcileCommand(options, processIo))),
  );

program
  .command('demo')
  .description('post the example deliveries to a running bridge with valid credentials')
  .option('--url <url>', 'the bridge, e.g. http://127.0.0.1:3000')
  .option('--keep-ids', "keep the examples' event ids (a second run is answered as duplicate)")
  .action((options: { url?: string; keepIds?: boolean }) => exitWith(commands.demo().then(({ runDemoCommand }) => runDemoCommand(options, processIo))));

await program.parseAsync(process.argv);
