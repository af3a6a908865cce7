/**
 * The most instants any rolling window of `windowMs` holds (a window starting at an instant and
 * ending just before `windowMs` has passed): how Slack counts its per-second and per-minute limits.
 */
export function mostInAnyWindow(instants: readonly number[], windowMs: number): number {
  const sorted = [...instants].sort((a, b) => a - b);
  let most = 0;
  for (let first = 0, last = 0; first < sorted.length; first += 1) {
    while (last < sorted.length && sorted[last] - sorted[first] < windowMs) last += 1;
    most = Math.max(most, last - first);
  }
  return most;
}
