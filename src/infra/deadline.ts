/** A signal that ends at a deadline or with its parent, whichever comes first. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Whether the deadline (not the parent) aborted `signal`. */
  isTimedOut(): boolean;
  /** Clears the timer and the parent's listener: call it once the work is over. */
  release(): void;
}

/**
 * A signal that aborts after `timeoutMs` with a `TimeoutError` (the reason `AbortSignal.timeout`
 * gives) or when `parent` aborts, with the parent's reason. One controller, one timer and one
 * listener, all released by {@link Deadline.release}: `AbortSignal.timeout` combined by
 * `AbortSignal.any`, per action job and per Slack or HubSpot call, cost about 2% of the bridge's CPU
 * under load (issue 14), and their timer and listener outlived the work.
 */
export function startDeadline(timeoutMs: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  let isTimedOut = false;
  const timer = setTimeout(() => {
    isTimedOut = true;
    controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  }, timeoutMs);
  const forwardAbort = () => controller.abort(parent!.reason);
  if (parent?.aborted) forwardAbort();
  else parent?.addEventListener('abort', forwardAbort, { once: true });
  return {
    signal: controller.signal,
    isTimedOut: () => isTimedOut,
    release: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', forwardAbort);
    },
  };
}
