/**
 * End-to-end helpers for JWT identities: the local gateway configured for a JWKS server,
 * calls through it, policies through the admin port, and the authorizer's log lines.
 */
import type { JWTPayload } from 'jose';
import { afterAll, beforeAll, vi } from 'vitest';
import type { DevServer } from '../../local/dev.ts';
import { startTestDev } from './dev.ts';
import type { JwksServer } from './jwks-server.ts';

export const ISS = 'https://issuer.test/';
export const AUD = 'gatepass-api';

export interface Answer {
  readonly status: number;
  readonly body: { error?: string; reason?: string; authorizer?: Record<string, string | null> };
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Claims of a valid token for `sub`, issued now, valid for an hour. */
export function claims(sub: string, overrides: JWTPayload = {}): JWTPayload {
  const now = nowSeconds();
  return { iss: ISS, aud: AUD, sub, iat: now, exp: now + 3600, ...overrides };
}

/**
 * The local gateway verifying RS256 and ES256 tokens of `ISS` for `AUD` (unless `jwt` says
 * otherwise), verbose: the authorizer's denial lines are printed, for {@link captureLogs}.
 */
export async function startJwtDev(
  jwks: JwksServer,
  jwt: Record<string, unknown> = {},
  config: Record<string, unknown> = {},
): Promise<DevServer> {
  return startTestDev(
    {
      jwt: { jwksUrl: jwks.url, algorithms: ['RS256', 'ES256'], issuer: ISS, audience: AUD, ...jwt },
      ...config,
    },
    { verbose: true },
  );
}

/** `PUT /policies/{id}` on the admin port; throws unless 200. */
export async function putPolicy(dev: DevServer, id: string, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${dev.adminUrl}/policies/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`PUT /policies/${id} answered ${res.status}: ${await res.text()}`);
}

/** GET `path` through the gateway with `Authorization: <authorization>`. */
export async function call(dev: DevServer, authorization: string, path = '/pets'): Promise<Answer> {
  const res = await fetch(dev.gatewayUrl + path, { headers: { Authorization: authorization } });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

export function bearer(dev: DevServer, token: string, path?: string): Promise<Answer> {
  return call(dev, `Bearer ${token}`, path);
}

/**
 * Keeps the authorizer's log lines (Powertools writes JSON lines, warnings and errors to
 * stderr, the rest to stdout) for the test file that calls it; answers the JSON entries
 * logged so far.
 */
export function captureLogs(): () => Array<Record<string, unknown>> {
  const chunks: string[] = [];
  beforeAll(() => {
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown) => {
        chunks.push(String(chunk));
        return true;
      }) as typeof stream.write);
    }
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });
  return () =>
    chunks
      .flatMap((chunk) => chunk.split('\n'))
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
}
