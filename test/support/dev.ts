import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startDev, type DevOptions, type DevServer } from '../../local/dev.ts';
import { dynamoEndpoint } from './dynamo.ts';

/**
 * `gatepass dev` on free ports, on the test run's DynamoDB Local, with its own table
 * (written to a temporary config file, the way a user configures it).
 */
export async function startTestDev(config: Record<string, unknown> = {}, options: DevOptions = {}): Promise<DevServer> {
  const folder = mkdtempSync(path.join(tmpdir(), 'gatepass-dev-'));
  const file = path.join(folder, 'gatepass.config.json');
  writeFileSync(file, JSON.stringify({ tableName: `e2e-${randomUUID()}`, ...config }));
  return startDev({ config: file, port: 0, adminPort: 0, dynamodbEndpoint: dynamoEndpoint(), seed: false, ...options });
}

/** POST a JSON body to the admin API. */
export async function adminPost(dev: DevServer, route: string, body: unknown): Promise<Response> {
  return fetch(dev.adminUrl + route, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Creates a key through the admin API and returns `{ key, keyId, session }`. */
export async function createKey(
  dev: DevServer,
  body: Record<string, unknown> = {},
): Promise<{ key: string; keyId: string; session: Record<string, unknown> }> {
  const res = await adminPost(dev, '/keys', body);
  if (res.status !== 201) throw new Error(`POST /keys answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { key: string; keyId: string; session: Record<string, unknown> };
}
