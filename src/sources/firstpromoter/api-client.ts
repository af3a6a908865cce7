import { ProviderApiClient, PermanentProviderApiError, type RequestBudget } from '../../reconcile/provider-api.js';
import type { ApiClientRuntime, ReconcileWindow } from '../../reconcile/reconciliation.js';
import type { Secret } from '../../secret.js';

/*
 * FirstPromoter's REST API v2, as documented in github.com/firstpromoter/docs
 * (api-reference-v2/api-admin/*: introduction.mdx, authentication.mdx and the OpenAPI files
 * openapi-v2-referrals.json, -commissions.json, -promoters.json, -payouts.json):
 *
 * - Base URL `https://api.firstpromoter.com/api/v2/company`.
 * - Every request carries `Authorization: Bearer <API key>` and `Account-ID: <account id>`
 *   (authentication.mdx; the OpenAPI `AccountId` header parameter is required).
 * - 401 has no JSON body ("No JSON response body is returned").
 * - "400 requests per minute per account"; over it, `429 Too Many Requests` (introduction.mdx). No
 *   `Retry-After` is documented: without one, the client waits the whole minute.
 * - Pagination: `page` (default 1) and `per_page` (default 20, max 100). No total is documented, so
 *   the last page is the first one shorter than `per_page` (or empty).
 * - `GET /referrals`, `/commissions` and `/payouts` answer a bare array; `GET /promoters` answers
 *   `{ data: [...], meta: { pending_count } }`.
 * - Date filters are days (`YYYY-MM-DD`), inclusive: `filters[created_at][from|to]`,
 *   `filters[customer_since][…]`, `filters[cancelled_at][…]` (referrals), `filters[created_at][…]`
 *   (commissions), `filters[joined_at][…]` (promoters), `filters[period_end][…]` (payouts).
 */

/** FirstPromoter's production API (FIRSTPROMOTER_API_URL when unset). */
export const FIRSTPROMOTER_API_URL = 'https://api.firstpromoter.com/api/v2/company';

/**
 * Half of the documented 400 requests per minute: the account's limit is shared with whatever else
 * uses its API key (the company's own scripts, other integrations).
 */
export const FIRSTPROMOTER_REQUEST_BUDGET: RequestBudget = Object.freeze({ requests: 200, intervalMs: 60_000 });

/** The documented page size maximum. */
const PER_PAGE = 100;

/**
 * A safety stop: an API that ignored `page` would answer the same full page forever. 500 pages are
 * 50,000 objects of one kind created in one window.
 */
const MAX_PAGES = 500;

/**
 * Payouts have no creation filter; they are listed by the end of their period, looking this far
 * back, so that a payout completed in the window for a period that ended earlier is found.
 */
const PAYOUT_PERIOD_LOOKBACK_MS = 62 * 24 * 60 * 60 * 1000;

/** The settings a FirstPromoter API client is built from (the source's variables). */
export interface FirstPromoterApiSettings {
  readonly apiKey: Secret;
  readonly accountId: string;
  readonly baseUrl: string;
}

/** The list endpoints reconciliation reads. */
export class FirstPromoterApi {
  readonly #client: ProviderApiClient;

  constructor(settings: FirstPromoterApiSettings, runtime: ApiClientRuntime) {
    this.#client = new ProviderApiClient({
      title: 'FirstPromoter',
      baseUrl: settings.baseUrl,
      authenticate: () => ({ Authorization: `Bearer ${settings.apiKey.reveal()}`, 'Account-ID': settings.accountId }),
      budget: FIRSTPROMOTER_REQUEST_BUDGET,
      rateLimitWindowMs: 60_000,
      runtime,
    });
  }

  /** Referrals created, converted (`customer_since`) or cancelled in the window's days, each once. */
  async *listReferrals(window: ReconcileWindow): AsyncIterable<Record<string, unknown>> {
    const seen = new Set<unknown>();
    for (const field of ['created_at', 'customer_since', 'cancelled_at']) {
      for await (const referral of this.#paginate('/referrals', dayRange(`filters[${field}]`, window.since, window.until))) {
        if (seen.has(referral.id)) continue;
        seen.add(referral.id);
        yield referral;
      }
    }
  }

  /**
   * Commissions created in the window's days. The API has no filter on `status_updated_at`, so an
   * approval or denial is found only for a commission created in the window.
   */
  listCommissions(window: ReconcileWindow): AsyncIterable<Record<string, unknown>> {
    return this.#paginate('/commissions', dayRange('filters[created_at]', window.since, window.until));
  }

  /** Promoters who joined in the window's days. */
  listPromoters(window: ReconcileWindow): AsyncIterable<Record<string, unknown>> {
    return this.#paginate('/promoters', dayRange('filters[joined_at]', window.since, window.until));
  }

  /** Payouts whose period ended in the window or up to 62 days before it (see PAYOUT_PERIOD_LOOKBACK_MS). */
  listPayouts(window: ReconcileWindow): AsyncIterable<Record<string, unknown>> {
    return this.#paginate('/payouts', dayRange('filters[period_end]', new Date(window.since.getTime() - PAYOUT_PERIOD_LOOKBACK_MS), window.until));
  }

  async *#paginate(path: string, filters: Record<string, string>): AsyncIterable<Record<string, unknown>> {
    for (let page = 1; page <= MAX_PAGES; page += 1) {
      const body = await this.#client.getJson(path, { ...filters, page, per_page: PER_PAGE });
      const items = readItems(body);
      if (items === null) {
        throw new PermanentProviderApiError('provider_invalid_body', `FirstPromoter API answered GET ${path} without a list of objects`, 200);
      }
      for (const item of items) yield item;
      if (items.length < PER_PAGE) return;
    }
    throw new PermanentProviderApiError('provider_too_many_pages', `FirstPromoter API GET ${path} went on for more than ${MAX_PAGES} pages`, 200);
  }
}

/** A bare array (referrals, commissions, payouts) or `{ data: [...] }` (promoters). */
function readItems(body: unknown): Record<string, unknown>[] | null {
  const list = Array.isArray(body) ? body : body !== null && typeof body === 'object' && Array.isArray((body as { data?: unknown }).data) ? (body as { data: unknown[] }).data : null;
  if (list === null) return null;
  return list.filter((item): item is Record<string, unknown> => item !== null && typeof item === 'object' && !Array.isArray(item));
}

/** `filters[x][from]` and `filters[x][to]` as UTC days, both inclusive. */
function dayRange(filter: string, from: Date, to: Date): Record<string, string> {
  return { [`${filter}[from]`]: from.toISOString().slice(0, 10), [`${filter}[to]`]: to.toISOString().slice(0, 10) };
}
