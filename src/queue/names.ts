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
 * The BullMQ job name of a job that carries several deliveries stored together by the intake
 * (event-job-store.ts): each is planned as its own event job would be.
 */
export const DELIVERY_BATCH_JOB_NAME = 'deliveries';

/**
 * Each delivery gets its own event job id, so a duplicate is recognisable: BullMQ's deduplication
 * (keyed by the event id) answers with the first delivery's job id instead of ours.
 */
export function buildEventJobId(eventId: string, deliveryTag: string): string {
  return `${eventId}.${deliveryTag}`;
}

/** A job of deliveries stored together: `deliveries.<tag>`, the tag unique per intake process and batch. */
export function buildDeliveryBatchJobId(batchTag: string): string {
  return `${DELIVERY_BATCH_JOB_NAME}.${batchTag}`;
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

/**
 * A digest group: one per rule action and group key (for Slack, the channel and the rendered `by`).
 * The key is payload text of any length, hence hashed.
 */
export function buildDigestGroupId(ruleId: string, actionIndex: number, groupKey: string): string {
  return `${ruleId}.${actionIndex}.${createHash('sha256').update(groupKey).digest('hex').slice(0, 32)}`;
}

/** A digest's job id in the actions queue: `digest.<rule>.<action index>.<sequence>`, never reused. */
export function buildDigestJobId(ruleId: string, actionIndex: number, sequence: number | string): string {
  return `digest.${ruleId}.${actionIndex}.${sequence}`;
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
     * Rule errors on real events, by rule id: how many (a hash of counts) and the latest (a hash of
     * JSON `{ error, eventId, at }`). A condition that fails to evaluate or an action that cannot be
     * planned counts; the dashboard lists them.
     */
    ruleErrorCounts: `${prefix}:rule-errors`,
    ruleErrorLatest: `${prefix}:rule-error-latest`,
    // --- digests (issue 12, points 6-7): see digests.ts ---
    /** The open digest of a group (its id), per rule action and hashed group key (channel and rendered `by`). */
    digestOpen: (groupId: string) => `${prefix}:digest-open:${groupId}`,
    /** Where digest `digestId` keeps its opening time (`<base><id>`) and its items (`<base><id>:items`). */
    digestBase: `${prefix}:digest:`,
    /** Which digest an event's grouped action joined (a re-run of the event job finds it here). */
    digestMember: (memberId: string) => `${prefix}:digest-member:${memberId}`,
    /** Counter of digests ever opened: the last part of digest job ids, so an id never repeats. */
    digestSequence: `${prefix}:digest-seq`,
    // --- end of digests ---
    /**
     * Counter of replays per event, the generation of replayed action job ids. It expires with the
     * event's trace (each replay run renews both), and at the latest with a failed replay job.
     */
    replayGeneration: (eventId: string) => `${prefix}:replays:${eventId}`,
    /** The rule-file problems of the workers' last (re)load, JSON, absent while the files load (rule-problems.ts). */
    ruleLoadProblems: `${prefix}:rule-load-problems`,
  };
}
