import { randomInt, randomUUID } from 'node:crypto';

/**
 * FirstPromoter as a webhook *sender*: posts deliveries to an endpoint URL the way FirstPromoter
 * does, and reads the answers the way its documentation says it does. Each behaviour cites its
 * source (github.com/firstpromoter/docs, published at docs.firstpromoter.com):
 *
 * - Classic (v1) deliveries go to a URL configured per campaign, which FirstPromoter echoes back
 *   inside payloads as `data.campaign.default_webhook_url` (webhooks/promoter-accepted.mdx,
 *   webhooks/fulfilment-pending.mdx examples). The bridge authenticates FirstPromoter with a
 *   `?token=` in that URL, so the token travels inside the payload. The documentation shows a
 *   placeholder URL; the less forgiving reading is that the real one is echoed whole, query included.
 * - Classic events other than `fulfilment_pending` are never retried: "For events other than
 *   fulfilment_pending, if your endpoint is unavailable at the time of delivery the event will not
 *   be re-sent" (webhooks/deliveries.mdx, "Retry behaviour"). A non-2xx loses the event.
 * - `fulfilment_pending` (webhooks/deliveries.mdx, "The fulfilment_pending response protocol"):
 *   200 marks the reward fulfilled; another 2xx keeps it pending and "the event will fire again on
 *   the next fulfilment check"; any other status is an error, retried "up to 7 times throughout the
 *   day", after which `has_issues` is set on the reward.
 * - v2 test deliveries (webhooks-v2/deliveries.mdx, "Sending a test delivery"): a real envelope with
 *   `"data": { "test": true }`. The documentation promises no event id or timestamp for the sample
 *   envelope; `sendTest` can leave them out (the less forgiving reading). Like any v2 delivery, a
 *   2xx marks it `delivered`, anything else `retrying`/`failed` (webhooks-v2/deliveries.mdx).
 */

/** What FirstPromoter concluded from the answers to one classic delivery. */
export type ClassicOutcome =
  /** 2xx: acknowledged. */
  | 'delivered'
  /** Non-2xx to an event FirstPromoter never retries: the event is gone. */
  | 'lost';

/** The reward's state in FirstPromoter after a `fulfilment_pending` delivery and its retries. */
export type FulfilmentState =
  /** The endpoint answered 200. */
  | 'fulfilled'
  /** Another 2xx: still pending; the event fires again at the next fulfilment check. */
  | 'pending'
  /** Every attempt failed: `has_issues` is set. */
  | 'has_issues';

/** "up to 7 retries spread throughout the day" after the first attempt. */
export const FULFILMENT_RETRIES = 7;

export interface SentDelivery {
  readonly body: Record<string, unknown>;
  /** The status of every attempt, in order. */
  readonly statuses: readonly number[];
}

export class FirstPromoterSender {
  /** Every attempt's status, for assertions (one entry per POST). */
  readonly attempts: number[] = [];

  /**
   * @param endpointUrl the webhook URL as configured in FirstPromoter, `?token=` included; it is
   *   what payloads echo as `default_webhook_url`.
   */
  constructor(readonly endpointUrl: string) {}

  /** A classic delivery of `type`, once: FirstPromoter does not retry these. */
  async sendClassic(type: string, data: Record<string, unknown>): Promise<SentDelivery & { outcome: ClassicOutcome }> {
    const body = this.classicEnvelope(type, data);
    const status = await this.post(body);
    return { body, statuses: [status], outcome: is2xx(status) ? 'delivered' : 'lost' };
  }

  /**
   * A `fulfilment_pending` delivery with its documented retries: up to 7 more attempts while the
   * answer is neither 2xx; the retries of a real day are sent back to back here.
   */
  async sendFulfilmentPending(data: Record<string, unknown>): Promise<SentDelivery & { state: FulfilmentState }> {
    const body = this.classicEnvelope('fulfilment_pending', data);
    const statuses: number[] = [];
    for (let attempt = 0; attempt <= FULFILMENT_RETRIES; attempt += 1) {
      const status = await this.post(body);
      statuses.push(status);
      if (status === 200) return { body, statuses, state: 'fulfilled' };
      if (is2xx(status)) return { body, statuses, state: 'pending' };
    }
    return { body, statuses, state: 'has_issues' };
  }

  /**
   * A v2 test delivery for `eventType`, as "Send test" sends it. `withIds: false` leaves out the
   * event id and timestamp, which the documentation does not promise for the sample envelope.
   */
  async sendTest(eventType: string, options: { withIds?: boolean } = {}): Promise<SentDelivery & { deliveryStatus: 'delivered' | 'retrying' }> {
    const entity = eventType.slice(0, eventType.indexOf('.'));
    const body: Record<string, unknown> = {
      ...(options.withIds === false ? {} : { event_id: randomUUID() }),
      event_type: eventType,
      action: eventType.slice(eventType.lastIndexOf('.') + 1),
      entity_type: entity,
      entity_id: null,
      changes: {},
      data: { test: true },
      ...(options.withIds === false ? {} : { timestamp: new Date().toISOString() }),
    };
    const status = await this.post(body);
    return { body, statuses: [status], deliveryStatus: is2xx(status) ? 'delivered' : 'retrying' };
  }

  /**
   * The campaign object FirstPromoter puts in `promoter_accepted` and `fulfilment_pending`, with
   * the receiving URL echoed as `default_webhook_url` (see the class comment).
   */
  campaign(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      id: 17476,
      name: 'Campaign Name',
      landing_url: 'https://www.your-company.com',
      description: 'Private campaign with 2 plans',
      private: false,
      color: '#42a5f5',
      default_webhook_url: this.endpointUrl,
      auto_approve_rewards: true,
      auto_approve_promoters: false,
      offer: null,
      referral_reward: null,
      promotion_reward: null,
      target_reward: null,
      ...overrides,
    };
  }

  private classicEnvelope(type: string, data: Record<string, unknown>): Record<string, unknown> {
    return { event: { id: randomInt(100_000_000, 999_999_999), type, created_at: new Date().toISOString() }, data };
  }

  private async post(body: Record<string, unknown>): Promise<number> {
    const response = await fetch(this.endpointUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    await response.arrayBuffer();
    this.attempts.push(response.status);
    return response.status;
  }
}

function is2xx(status: number): boolean {
  return status >= 200 && status < 300;
}
