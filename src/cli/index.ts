import { Command } from 'commander';
import { processIo } from './io.js';
import { runCheckCommand } from './commands/check.js';
import { runDemoCommand } from './commands/demo.js';
import { runHubspotSetupPropertiesCommand } from './commands/hubspot.js';
import {
  runActionsFailedCommand,
  runActionsRetryCommand,
  runEventsQuarantinedCommand,
  runEventsReplayCommand,
  runEventsTraceCommand,
} from './commands/operations.js';
import { runBridgeCommand } from './commands/run.js';
import { runSimulateCommand } from './commands/simulate.js';
import { runTestCommand } from './commands/test.js';

/** Exits with the command's code once it is done; long-running roles keep the process alive. */
function exitWith(result: Promise<number | 'running'>): Promise<void> {
  return result.then((code) => {
    if (code !== 'running') process.exitCode = code;
  });
}

const rulesDirDefault = () => process.env.RULES_DIR || './rules';

const program = new Command('affiliate-bridge')
  .description('Turns FirstPromoter and Rewardful webhooks into Slack messages and HubSpot contact updates, by rules.')
  .showHelpAfterError();

program.command('start').description('HTTP and workers in one process').action(() => exitWith(runBridgeCommand({ api: true, workers: true }, processIo)));
program.command('api').description('HTTP intake only').action(() => exitWith(runBridgeCommand({ api: true, workers: false }, processIo)));
program.command('worker').description('workers only (metrics on METRICS_PORT)').action(() => exitWith(runBridgeCommand({ api: false, workers: true }, processIo)));

program
  .command('check')
  .description('validate every rule file; exit 1 listing file:line:col: message for every problem')
  .option('--rules <dir>', 'rules directory', rulesDirDefault())
  .action((options: { rules: string }) => exitWith(runCheckCommand({ rulesDir: options.rules }, processIo)));

program
  .command('test')
  .description('run the rule test cases in <rules>/tests; exit 1 on a failure')
  .option('--rules <dir>', 'rules directory', rulesDirDefault())
  .action((options: { rules: string }) => exitWith(runTestCommand({ rulesDir: options.rules }, processIo)));

program
  .command('simulate <file>')
  .description('which rules match this payload and the rendered actions; sends nothing')
  .option('--source <source>', 'firstpromoter or rewardful (inferred from the payload when omitted)')
  .option('--rules <dir>', 'rules directory', rulesDirDefault())
  .option('--json', 'print JSON')
  .action((file: string, options: { source?: string; rules: string; json?: boolean }) =>
    exitWith(runSimulateCommand({ file, source: options.source, rulesDir: options.rules, json: options.json ?? false }, processIo)),
  );

const actions = program.command('actions').description('the dead-letter list of failed actions');
actions.command('failed').description('list failed actions').option('--json', 'print JSON')
  .action((options: { json?: boolean }) => exitWith(runActionsFailedCommand(options, processIo)));
actions.command('retry [jobId]').description('send a failed action again (or --all)').option('--all', 'retry every failed action')
  .action((jobId: string | undefined, options: { all?: boolean }) => exitWith(runActionsRetryCommand(jobId, options, processIo)));

const events = program.command('events').description('stored events');
events.command('replay <eventId>').description('plan and run an event again with the current rules')
  .action((eventId: string) => exitWith(runEventsReplayCommand(eventId, processIo)));
events.command('quarantined').description('list quarantined events').option('--json', 'print JSON')
  .action((options: { json?: boolean }) => exitWith(runEventsQuarantinedCommand(options, processIo)));
events.command('trace <eventId>').description('why each rule did or did not fire, and each action\'s outcome').option('--json', 'print JSON')
  .action((eventId: string, options: { json?: boolean }) => exitWith(runEventsTraceCommand(eventId, options, processIo)));

program
  .command('hubspot')
  .description('HubSpot set-up')
  .command('setup-properties')
  .description('create the custom contact properties the rules use')
  .option('--dry-run', 'list what would be created')
  .option('--rules <dir>', 'rules directory', rulesDirDefault())
  .action((options: { dryRun?: boolean; rules: string }) => exitWith(runHubspotSetupPropertiesCommand({ dryRun: options.dryRun ?? false, rulesDir: options.rules }, processIo)));

program
  .command('demo')
  .description('post the example deliveries to a running bridge with valid credentials')
  .option('--url <url>', 'the bridge, e.g. http://127.0.0.1:3000')
  .option('--keep-ids', "keep the examples' event ids (a second run is answered as duplicate)")
  .action((options: { url?: string; keepIds?: boolean }) => exitWith(runDemoCommand(options, processIo)));

await program.parseAsync(process.argv);
