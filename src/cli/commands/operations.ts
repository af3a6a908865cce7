import { createRedisConnection } from '../../infra/redis.js';
import { actionRegistry } from '../../actions/registry.js';
import { BridgeOperations, DRY_RUN_STATUS, describeAmbiguousProviderId, describeMissingEvent } from '../../queue/operations.js';
import { describeFalseParts } from '../../rules/condition-explanation.js';
import { sourceRegistry } from '../../sources/registry.js';
import type { CommandIo } from '../io.js';
import { readConfigOrReport } from './run.js';

/** Runs `work` with a BridgeOperations on the configured Redis, then closes everything. */
async function withOperations(io: CommandIo, work: (operations: BridgeOperations) => Promise<number>): Promise<number> {
  const config = readConfigOrReport(process.env, io);
  if (!config) return 1;
  const redis = createRedisConnection(config.redisUrl, 'state', { maxRetriesPerRequest: 1, connectTimeout: 3_000 }, { cluster: config.redisCluster });
  redis.on('error', () => undefined);
  const operations = new BridgeOperations(redis, config.queuePrefix);
  try {
    return await work(operations);
  } catch (error) {
    io.stderr(error instanceof Error ? error.message : String(error));
    return 1;
  } finally {
    await operations.close().catch(() => undefined);
    redis.disconnect();
  }
}

/** `actions failed [--json]`: the dead-letter list. */
export function runActionsFailedCommand(options: { json?: boolean }, io: CommandIo): Promise<number> {
  return withOperations(io, async (operations) => {
    const failed = await operations.listFailedActions(1000);
    if (options.json) {
      io.stdout(JSON.stringify(failed, null, 2));
      return 0;
    }
    if (failed.length === 0) {
      io.stdout('No failed actions.');
      return 0;
    }
    for (const entry of failed) {
      io.stdout(`${entry.jobId}`);
      io.stdout(`  action ${entry.action}  rule ${entry.ruleId}  event ${entry.eventId}  attempts ${entry.attemptsMade}  failed ${entry.failedAt ?? '?'}`);
      io.stdout(`  error  ${entry.error}`);
      if (entry.kind === 'plan') io.stdout(`  could not be planned: fix the rule, then run: affiliate-bridge events replay ${entry.eventId}`);
    }
    io.stdout(`${failed.length} failed action(s). Retry one with: affiliate-bridge actions retry <job id>, or all with --all`);
    return 0;
  });
}

/** `actions retry <job id> | --all`. */
export function runActionsRetryCommand(jobId: string | undefined, options: { all?: boolean }, io: CommandIo): Promise<number> {
  return withOperations(io, async (operations) => {
    if (options.all) {
      io.stdout(`Retried ${await operations.retryAllFailedActions()} failed action(s).`);
      return 0;
    }
    if (!jobId) {
      io.stderr('Name a job id, or pass --all');
      return 1;
    }
    await operations.retryAction(jobId);
    io.stdout(`Retrying ${jobId}.`);
    return 0;
  });
}

/** `events replay <event id>`. */
export function runEventsReplayCommand(eventId: string, io: CommandIo): Promise<number> {
  return withOperations(io, async (operations) => {
    const generation = await operations.replayEvent(eventId);
    io.stdout(`Replaying ${eventId} with the current rules (replay ${generation}).`);
    return 0;
  });
}

/** `events quarantined [--json]`. */
export function runEventsQuarantinedCommand(options: { json?: boolean }, io: CommandIo): Promise<number> {
  return withOperations(io, async (operations) => {
    const events = await operations.listQuarantinedEvents(1000);
    if (options.json) {
      io.stdout(JSON.stringify(events, null, 2));
      return 0;
    }
    if (events.length === 0) {
      io.stdout('No quarantined events.');
      return 0;
    }
    for (const event of events) {
      io.stdout(`${event.eventId}  ${event.type}  received ${event.receivedAt}`);
      for (const problem of event.validationErrors) io.stdout(`  ${problem}`);
    }
    io.stdout(`${events.length} quarantined event(s). Replay one after a fix with: affiliate-bridge events replay <event id>`);
    return 0;
  });
}

/** `events failed [--json]`: event jobs that used all their attempts (planning failed, e.g. Redis trouble). */
export function runEventsFailedCommand(options: { json?: boolean }, io: CommandIo): Promise<number> {
  return withOperations(io, async (operations) => {
    const failed = await operations.listFailedEvents(1000);
    if (options.json) {
      io.stdout(JSON.stringify(failed, null, 2));
      return 0;
    }
    if (failed.length === 0) {
      io.stdout('No failed event jobs.');
      return 0;
    }
    for (const entry of failed) {
      io.stdout(`${entry.jobId}`);
      io.stdout(`  event ${entry.eventId}  type ${entry.type}${entry.replayGeneration > 0 ? `  replay ${entry.replayGeneration}` : ''}  attempts ${entry.attemptsMade}  failed ${entry.failedAt ?? '?'}`);
      io.stdout(`  error  ${entry.error}`);
    }
    io.stdout(`${failed.length} failed event job(s). Retry one with: affiliate-bridge events retry <job id>, or all with --all`);
    return 0;
  });
}

/** `events retry <job id> | --all`: plan failed event jobs again. */
export function runEventsRetryCommand(jobId: string | undefined, options: { all?: boolean }, io: CommandIo): Promise<number> {
  return withOperations(io, async (operations) => {
    if (options.all) {
      io.stdout(`Retried ${await operations.retryAllFailedEvents()} failed event job(s).`);
      return 0;
    }
    if (!jobId) {
      io.stderr('Name an event job id, or pass --all');
      return 1;
    }
    await operations.retryEvent(jobId);
    io.stdout(`Retrying ${jobId}.`);
    return 0;
  });
}

/**
 * `events trace <event id> [--json]`: the event, which rules matched or not and why, each action's
 * state. The provider's bare id (`22736304`) finds the event too, when one source has it; when
 * several have, they are listed and the command fails.
 */
export function runEventsTraceCommand(requestedId: string, options: { json?: boolean }, io: CommandIo): Promise<number> {
  return withOperations(io, async (operations) => {
    let eventId = requestedId;
    let trace = await operations.getEventTrace(eventId);
    if (!trace) {
      const matches = await operations.findEventIdsByProviderId(requestedId, Object.keys(sourceRegistry));
      if (matches.length > 1) {
        for (const line of describeAmbiguousProviderId(requestedId, matches)) io.stderr(line);
        return 1;
      }
      if (matches.length === 1) {
        eventId = matches[0];
        trace = await operations.getEventTrace(eventId);
      }
    }
    if (!trace) {
      io.stderr(describeMissingEvent(requestedId));
      return 1;
    }
    const actions = await operations.getActionStatuses(trace);
    const conflictingDuplicates = await operations.listConflictingDuplicates(eventId);
    if (options.json) {
      io.stdout(JSON.stringify({ ...trace, actions, conflictingDuplicates }, null, 2));
      return 0;
    }
    const { event } = trace;
    io.stdout(`${event.id}  ${event.type}  ${event.status}  received ${event.receivedAt}`);
    for (const problem of event.validationErrors ?? []) io.stdout(`  invalid: ${problem}`);
    for (const id of conflictingDuplicates) io.stdout(`  conflicting duplicate: ${id} (same event id, another body; see: affiliate-bridge events trace ${id})`);
    for (const run of trace.runs) {
      io.stdout(`run ${run.generation === 0 ? '(first)' : `replay ${run.generation}`} at ${run.at}${run.quarantined ? ' (quarantined)' : ''}`);
      if (run.duplicateOf) io.stdout(`  not planned: the same milestone of this provider object was already announced by ${run.duplicateOf} (see: affiliate-bridge events trace ${run.duplicateOf})`);
      for (const rule of run.matched) io.stdout(`  matched     ${rule.ruleId} (${rule.file})`);
      for (const rule of run.unmatched) {
        const why = rule.error ?? (rule.falseParts && rule.falseParts.length > 0 ? describeFalseParts(rule.falseParts) : null);
        io.stdout(`  not matched ${rule.ruleId}: ${rule.reason}${why ? `: ${why}` : ''}`);
      }
      for (const failure of run.failures) io.stdout(`  not planned ${failure.ruleId} ${failure.action}: ${failure.error}`);
      for (const entry of run.grouped ?? []) {
        io.stdout(`  grouped     ${entry.ruleId} ${entry.action}: carried by digest ${entry.digest}`);
      }
      for (const entry of run.suppressed ?? []) {
        io.stdout(`  suppressed  ${entry.ruleId} ${entry.action}: throttle key ${JSON.stringify(entry.key)} is held by ${entry.heldBy} (see: affiliate-bridge events trace ${entry.heldBy})`);
      }
      for (const warning of run.warnings) io.stdout(`  warning     ${warning}`);
    }
    for (const action of actions) {
      const dryRun = action.status === DRY_RUN_STATUS ? `: ${describeDryRun(action.action)}` : '';
      io.stdout(`action ${action.jobId}: ${action.status} after ${action.attemptsMade} attempt(s)${dryRun}${action.error ? `: ${action.error}` : ''}`);
    }
    return 0;
  });
}

/** Why a dry-run sent nothing: the integration's credential was unset in the worker that ran it. */
function describeDryRun(action: string): string {
  const credential = Object.hasOwn(actionRegistry, action) ? actionRegistry[action as keyof typeof actionRegistry].credential : null;
  return credential ? `nothing sent (${credential} was not set in the worker that ran it)` : 'nothing sent';
}
