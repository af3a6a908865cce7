import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { DEFAULT_PORT } from '../../config/env-variable.js';
import { sourceRegistry, type SourceRegistry } from '../../sources/registry.js';
import type { CommandIo } from '../io.js';

/** The provider example deliveries shipped with the project (the seeds, as providers send them). */
export const DEMO_DELIVERIES_DIR = fileURLToPath(new URL('../../../test/fixtures/deliveries/', import.meta.url));

export interface DemoOptions {
  /** The running bridge. @defaultValue http://127.0.0.1:$PORT, PORT defaulting to DEFAULT_PORT (3000) */
  readonly url?: string;
  /** Keep the fixtures' own event ids (a second run is then answered as duplicates). @defaultValue false: each delivery gets a fresh event id */
  readonly keepIds?: boolean;
  /** Whose examples are sent: each source with an `example`, from `<dir>/<source name>/`. @defaultValue sourceRegistry */
  readonly sources?: SourceRegistry;
  /** @defaultValue DEMO_DELIVERIES_DIR */
  readonly deliveriesDir?: string;
  /** Where the sources' secrets are read. @defaultValue process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * `demo`: posts every example delivery to a running bridge with valid credentials, taken from each
 * source's webhook secret variable (FIRSTPROMOTER_WEBHOOK_TOKEN, REWARDFUL_SIGNING_SECRET). Each
 * gets a fresh event id unless `keepIds`, so the demo can run again and again.
 */
export async function runDemoCommand(options: DemoOptions, io: CommandIo): Promise<number> {
  const env = options.env ?? process.env;
  const baseUrl = options.url ?? `http://127.0.0.1:${env.PORT ?? String(DEFAULT_PORT)}`;
  const deliveriesDir = options.deliveriesDir ?? DEMO_DELIVERIES_DIR;
  let failures = 0;
  for (const source of Object.values(options.sources ?? sourceRegistry)) {
    const { example } = source;
    if (!example) continue;
    const secret = env[source.webhookSecret] ?? '';
    const dir = path.join(deliveriesDir, source.name);
    // A source without example deliveries shipped yet has nothing to send.
    const files = await readdir(dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
    for (const file of files.filter((name) => name.endsWith('.json')).sort()) {
      const delivery = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as Record<string, unknown>;
      if (!options.keepIds) example.renewEventId(delivery);
      const body = JSON.stringify(delivery);
      const headers: Record<string, string> = { 'Content-Type': 'application/json', ...(secret ? example.authenticate(body, secret) : {}) };
      try {
        const response = await fetch(`${baseUrl}/webhooks/${source.name}`, { method: 'POST', headers, body });
        const answer = await response.text();
        io.stdout(`${source.name}/${file} → ${response.status} ${answer}`);
        if (!response.ok) failures += 1;
      } catch (error) {
        io.stderr(`${source.name}/${file} → could not reach ${baseUrl}: ${(error as Error).message}`);
        failures += 1;
      }
    }
  }
  if (failures > 0) io.stderr(`${failures} delivery(ies) not accepted: is the bridge running, with the same tokens in its environment?`);
  return failures > 0 ? 1 : 0;
}
