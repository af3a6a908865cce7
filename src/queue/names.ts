import { createHash } from 'node:crypto';

/**
 * Queue names, job-id builders and the bridge's own Redis keys, defined once.
 *
 * BullMQ rejects custom job ids that look like integers and most ids containing `:`, so every id
 * here starts from the prefixed event id (`firstpromoter-22736304`) and joins parts with `.`.
 */
export const EVENTS_QUEUE = 'events';
export const ACTIONS_QUEUE = 'actions';

/** The BullMQ job name of every event job and every action job. */
export const EVENT_JOB_NAME = 'event';

/**
 * Each delivery gets its own event job id, so a duplicate is recognisable: BullMQ's deduplication
 * (keyed by the event id) answers with the first delivery's job id instead of ours.
 */
export function buildEventJobId(eventId: string, deliveryTag: string): string {
  return `${eventId}.${deliveryTag}`;
}

/** A replay's event job: one per replay generation, so it never collides with the delivery's. */
export function buildReplayJobId(eventId: string, generation: number): string {
  return buildEventJobId(eventId, `replay${generation}`);
}

/**
 * Deterministic: re-running an event job plans the same ids, and BullMQ ignores an add whose id
 * exists, so actions are never duplicated. A replay uses a new generation to run them again.
 */
export function buildActionJobId(eventId: string, ruleId: string, actionIndex: number, generation = 0): string {
  const base = `${eventId}.${ruleId}.${actionIndex}`;
  return generation === 0 ? base : `${base}.replay${generation}`;
}

/** Keys the bridge keeps beside BullMQ's, all under the same prefix (and hash tag, on Cluster). */
export function bridgeKeys(prefix: string) {
  return {
    /** Set when an action's call succeeded, before the job is acknowledged: never send twice. */
    actionDone: (actionJobId: string) => `${prefix}:done:${actionJobId}`,
    /** The stored event and every planning run of it: what matched, what did not and why. */
    trace: (eventId: string) => `${prefix}:trace:${eventId}`,
    /** Sorted set of quarantined event ids, scored by receipt time; capped, pruned to the dedup window. */
    quarantined: `${prefix}:quarantined`,
    /**
     * Sorted set of the conflicting duplicates of one event id (the ids they were stored under),
     * scored by receipt time, kept for the dedup window: the first event's trace lists them.
     */
    conflicts: (eventId: string) => `${prefix}:conflicts:${eventId}`,
    /** Sorted set of recent event ids, scored by receipt time (for the dashboard). */
    recentEvents: `${prefix}:recent-events`,
    /** Sorted set of plan-failure ids (the dead-letter entries no action job holds), scored by failure time. */
    planFailures: `${prefix}:plan-failures`,
    /** One plan failure (JSON), kept for the dedup window. */
    planFailure: (failureId: string) => `${prefix}:plan-failure:${failureId}`,
    /**
     * An action's `once_per` claim: which event first ran rule `ruleId`'s action `actionIndex` for
     * a rendered key (the value is that event's id), kept for the once_per window. The rendered
     * key is hashed: it is payload text, of any length.
     */
    actionClaim: (ruleId: string, actionIndex: number, renderedKey: string) =>
      `${prefix}:once:${ruleId}.${actionIndex}.${createHash('sha256').update(renderedKey).digest('hex')}`,
    /**
     * Counter of replays per event, the generation of replayed action job ids. It expires with the
     * event's trace (each replay run renews both), and at the latest with a failed replay job.
     */
    replayGeneration: (eventId: string) => `${prefix}:replays:${eventId}`,
  };
}
