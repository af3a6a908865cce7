import type { SourceName } from '../events/event.js';
import { firstpromoter } from './firstpromoter/index.js';
import { rewardful } from './rewardful/index.js';
import type { Source } from './source.js';

/**
 * Every webhook provider the bridge accepts, by the name in `POST /webhooks/<source>`. Adding a
 * provider adds one line here and a folder beside it.
 */
export const sourceRegistry: Readonly<Record<SourceName, Source>> = Object.freeze({
  firstpromoter,
  rewardful,
});

/**
 * Whether `name` (e.g. a route parameter) names a registered source. Only own keys count, so
 * `constructor` or `__proto__` are not sources.
 */
export function isSourceName(name: string): name is SourceName {
  return Object.hasOwn(sourceRegistry, name);
}
