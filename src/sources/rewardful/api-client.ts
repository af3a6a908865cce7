import { ProviderApiClient, PermanentProviderApiError, type RequestBudget } from '../../reconcile/provider-api.js';
import type { ApiClientRuntime, ReconcileWindow } from '../../reconcile/reconciliation.js';
import type { Secret } from '../../secret.js';

/*
 * Rewardful's REST API v1, as documented at developers.rewardful.com/rest-api (older revisions in
 * github.com/rewardful/rest-api-docs):
 *
 * - Base URL `https://api.getrewardful.com/v1`.
 * - HTTP Basic authentication with the API Secret as the username and no password ("similar to how
 *   Stripe authenticates"); a missing or wrong secret answers 401 `{ "error": "Invalid API Secret." }`.
 * - "In most cases the API rate limit is 45 requests per 30 second window"; a 429 carries the
 *   `RateLimit` header fields of draft-polli-ratelimit-headers-02 (rest-api/overview). No
 *   `Retry-After` is promised: without `RateLimit-Reset` the client waits the whole window.
 * - Lists take `page` and `limit` (default 25, maximum 100) and answer
 *   `{ pagination: { previous_page, current_page, next_page, count, limit, total_pages, total_count }, data }`.
 * - Lists are "sorted by creation date, with the most recent … first" (commissions/list) and have no
 *   date filter: a listing stops at the first object created before the window.
 * - `expand[]=affiliate` (referrals), `expand[]=sale` and `expand[]=campaign` (commissions) nest the
 *   related objects as the webhooks carry them.
 */

/** Rewardful's production API (REWARDFUL_API_URL when unset). */
export const REWARDFUL_API_URL = 'https://api.getrewardful.com/v1';

/** Two thirds of the documented 45 requests per 30 s, which Rewardful "may reduce at any time". */
export const REWARDFUL_REQUEST_BUDGET: RequestBudget = Object.freeze({ requests: 30, intervalMs: 30_000 });

const PAGE_LIMIT = 100;

/** A safety stop, as for FirstPromoter: 50,000 objects of one kind created in one window. */
const MAX_PAGES = 500;

/** The settings a Rewardful API client is built from (the source's variables). */
export interface RewardfulApiSettings {
  readonly apiSecret: Secret;
  readonly baseUrl: string;
}

/** The list endpoints reconciliation reads. */
export class RewardfulApi {
  readonly #client: ProviderApiClient;

  constructor(settings: RewardfulApiSettings, runtime: ApiClientRuntime) {
    this.#client = new ProviderApiClient({
      title: 'Rewardful',
      baseUrl: settings.baseUrl,
      authenticate: () => ({ Authorization: `Basic ${Buffer.from(`${settings.apiSecret.reveal()}:`).toString('base64')}` }),
      budget: REWARDFUL_REQUEST_BUDGET,
      rateLimitWindowMs: 30_000,
      runtime,
    });
  }

  /** Objects of `path` created since the window began, newest first. */
  async *listCreatedSince(path: string, window: ReconcileWindow, expand: readonly string[] = []): AsyncIterable<Record<string, unknown>> {
    const since = window.since.getTime();
    for (let page = 1; page <= MAX_PAGES; page += 1) {
      const body = await this.#client.getJson(path, { page, limit: PAGE_LIMIT, ...(expand.length > 0 ? { 'expand[]': expand } : {}) });
      if (body === null || typeof body !== 'object' || !Array.isArray((body as { data?: unknown }).data)) {
        throw new PermanentProviderApiError('provider_invalid_body', `Rewardful API answered GET ${path} without a data list`, 200);
      }
      const { data, pagination } = body as { data: unknown[]; pagination?: { next_page?: unknown } };
      for (const item of data) {
        if (item === null || typeof item !== 'object' || Array.isArray(item)) continue;
        const object = item as Record<string, unknown>;
        const created = typeof object.created_at === 'string' ? Date.parse(object.created_at) : Number.NaN;
        // Newest first: the first object created before the window ends the listing.
        if (!Number.isNaN(created) && created < since) return;
        yield object;
      }
      if (pagination?.next_page === null || pagination?.next_page === undefined || data.length === 0) return;
    }
    throw new PermanentProviderApiError('provider_too_many_pages', `Rewardful API GET ${path} went on for more than ${MAX_PAGES} pages`, 200);
  }
}
