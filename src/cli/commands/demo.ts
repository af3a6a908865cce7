import { createHmac, randomInt, randomUUID } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { CommandIo } from '../io.js';

/** The provider example deliveries shipped with the project (the seeds, as providers send them). */
export const DEMO_DELIVERIES_DIR = fileURLToPath(new URL('../../../test/fixtures/deliveries/', import.meta.url));

export interface DemoOptions {
  /** @defaultValue http://127.0.0.1:$PORT (3000) */
  readonly url?: string;
  /** Keep the fixtures' own event ids (a second run is then answered as duplicates). */
  readonly keepIds?: boolean;
}

/**
 * `demo`: posts every example delivery to a running bridge with valid credentials, taken from
 * FIRSTPROMOTER_WEBHOOK_TOKEN and REWARDFUL_SIGNING_SECRET. Each gets a fresh event id unless
 * `keepIds`, so the demo can run again and again.
 */
export async function runDemoCommand(options: DemoOptions, io: CommandIo): Promise<number> {
  const baseUrl = options.url ?? `http://127.0.0.1:${process.env.PORT ?? '3000'}`;
  const token = process.env.FIRSTPROMOTER_WEBHOOK_TOKEN ?? '';
  const signingSecret = process.env.REWARDFUL_SIGNING_SECRET ?? '';
  let failures = 0;
  for (const source of ['firstpromoter', 'rewardful'] as const) {
    const dir = path.join(DEMO_DELIVERIES_DIR, source);
    for (const file of (await readdir(dir)).filter((name) => name.endsWith('.json')).sort()) {
      const delivery = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as { event: { id: unknown } };
      if (!options.keepIds) delivery.event.id = source === 'firstpromoter' ? randomInt(100_000_000, 999_999_999) : randomUUID();
      const body = JSON.stringify(delivery);
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (source === 'firstpromoter' && token) headers.Authorization = `Bearer ${token}`;
      if (source === 'rewardful' && signingSecret) {
        headers['X-Rewardful-Signature'] = createHmac('sha256', signingSecret).update(body).digest('hex');
      }
      try {
        const response = await fetch(`${baseUrl}/webhooks/${source}`, { method: 'POST', headers, body });
        const answer = await response.text();
        io.stdout(`${source}/${file} → ${response.status} ${answer}`);
        if (!response.ok) failures += 1;
      } catch (error) {
        io.stderr(`${source}/${file} → could not reach ${baseUrl}: ${(error as Error).message}`);
        failures += 1;
      }
    }
  }
  if (failures > 0) io.stderr(`${failures} delivery(ies) not accepted: is the bridge running, with the same tokens in its environment?`);
  return failures > 0 ? 1 : 0;
}
