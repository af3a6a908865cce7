import type { ActionName } from '../actions/action.js';
import type { ActionProvenance } from '../rules/plan.js';

/** What the actions queue holds for one action. Rendered params only: no template, no secret. */
export interface ActionJobData {
  readonly action: ActionName;
  readonly params: Record<string, unknown>;
  readonly provenance: ActionProvenance;
  readonly eventType: string;
  /** When the webhook arrived (ISO): the start of `bridge_event_to_action_seconds`. */
  readonly eventReceivedAt: string;
  /** Backoff base for this action's retries, in ms (a rule may override the default policy). */
  readonly backoffBaseMs: number;
  /**
   * Set on a digest's job (issue 12): `params` are the first grouped message's, and the worker
   * closes the group and renders the digest from the items Redis holds before it sends.
   */
  readonly digest?: DigestJobRef;
}

/** Which digest a job posts. */
export interface DigestJobRef {
  /** The digest's id: its job id. */
  readonly id: string;
  /** The group it was opened in (buildDigestGroupId): its open pointer is closed when it is posted. */
  readonly groupId: string;
}

/** What a finished action job returns (and what its completion record holds). */
export interface ActionJobResult {
  readonly outcome: 'succeeded' | 'dry_run';
  readonly detail?: Record<string, unknown>;
  readonly request?: Record<string, unknown>;
  /** True when the completion record showed the call had already succeeded: nothing was sent. */
  readonly alreadyDone?: boolean;
}
