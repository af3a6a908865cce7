import { readFileSync } from 'node:fs';
import type { BridgeEvent } from '../../../src/events/event.js';

/**
 * Builds the event rules see from a delivery fixture by hand (no source normaliser), so matching
 * tests do not depend on src/sources. Secrets are left in: rules must not need them.
 */
export function eventFromFixture(relativePath: string, overrides: Partial<BridgeEvent> = {}): BridgeEvent {
  const body = JSON.parse(readFileSync(`test/fixtures/deliveries/${relativePath}`, 'utf8')) as {
    event: { id: string | number; type: string; created_at: string };
    data?: Record<string, unknown>;
    object?: Record<string, unknown>;
  };
  const source = body.object ? 'rewardful' : 'firstpromoter';
  return {
    id: `${source}-${body.event.id}`,
    source,
    type: `${source}.${body.event.type}`,
    providerType: body.event.type,
    occurredAt: body.event.created_at,
    receivedAt: '2024-10-03T14:00:00.000Z',
    status: 'valid',
    data: (body.data ?? body.object)!,
    ...overrides,
  };
}

/** A minimal hand-built event of `type` with `data`. */
export function buildEvent(type: string, data: Record<string, unknown>, overrides: Partial<BridgeEvent> = {}): BridgeEvent {
  const source = type.startsWith('rewardful.') ? 'rewardful' : 'firstpromoter';
  return {
    id: `${source}-evt1`,
    source,
    type,
    providerType: type.slice(source.length + 1),
    occurredAt: '2024-10-03T13:45:20.103Z',
    receivedAt: '2024-10-03T13:45:21.000Z',
    status: 'valid',
    data,
    ...overrides,
  };
}
