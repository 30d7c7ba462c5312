import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevOptions, DevServer } from '../../local/dev.ts';
import { createKey, startTestDev } from '../support/dev.ts';
import { captureLogs } from '../support/jwt-gateway.ts';

const SECRET = 'an-hmac-secret-of-at-least-32-characters';

/** `gatepass dev` whose access log lines are kept. */
async function devWithAccessLog(
  config: Record<string, unknown> = {},
  options: DevOptions = {},
): Promise<{ dev: DevServer; lines: string[] }> {
  const lines: string[] = [];
  const dev = await startTestDev(config, { accessLog: (line) => lines.push(line), ...options });
  return { dev, lines };
}

async function token(sub: string, expiresIn: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .sign(new TextEncoder().encode(SECRET));
}

describe('the logs of gatepass dev', { timeout: 120_000 }, () => {
  const logs = captureLogs();
  const started: DevServer[] = [];
  afterAll(async () => {
    for (const dev of started) await dev.stop();
  });
  const denials = (requestPath?: string) =>
    logs().filter((line) => line.message === 'request denied' && (requestPath === undefined || JSON.stringify(line).includes(requestPath)));

  describe('by default', () => {
    let dev: DevServer;
    let lines: string[];
    beforeAll(async () => {
      ({ dev, lines } = await devWithAccessLog());
      started.push(dev);
    });

    it('prints one access line per request, and no JSON denial line', async () => {
      const before = denials().length;
      await fetch(`${dev.gatewayUrl}/quiet`, { headers: { Authorization: 'gp_no-such-key-at-all' } });

      expect(lines.filter((line) => line.includes(' GET /quiet '))).toEqual([
        expect.stringMatching(/^\S+Z GET \/quiet 403 key_not_found key=\*{4}\S+ \d+ms dynamodb=1$/),
      ]);
      expect(denials().length).toBe(before);
    });

    it('prints admin requests in the access log', async () => {
      await createKey(dev, { alias: 'logged' });
      await fetch(`${dev.adminUrl}/keys/${'0'.repeat(64)}`);

      expect(lines).toContainEqual(expect.stringMatching(/^\S+Z admin POST \/keys 201 ok \d+ms$/));
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\S+Z admin GET /keys/${'0'.repeat(64)} 404 not_found \\d+ms$`)));
    });
  });

  it('prints the JSON denial line with --verbose', async () => {
    const { dev } = await devWithAccessLog({}, { verbose: true });
    started.push(dev);

    await fetch(`${dev.gatewayUrl}/loud`, { headers: { Authorization: 'gp_another-unknown-key' } });

    expect(denials('****-key').filter((line) => line.reason === 'key_not_found')).toHaveLength(1);
  });

  it('logs a JWT denial once: a bad token, and an identity whose policy does not exist', async () => {
    const { dev, lines } = await devWithAccessLog(
      { jwt: { secret: SECRET, algorithms: ['HS256'], defaultPolicies: ['nowhere'] } },
      { verbose: true },
    );
    started.push(dev);
    const before = denials().length;

    await fetch(`${dev.gatewayUrl}/jwt`, { headers: { Authorization: `Bearer ${await token('expired-user', -600)}` } });
    await fetch(`${dev.gatewayUrl}/jwt`, { headers: { Authorization: `Bearer ${await token('policyless-user', 600)}` } });

    const logged = denials().slice(before);
    expect(logged.map((line) => line.reason)).toEqual(['token_expired', 'no_matching_policy']);
    expect(logged[1]).toMatchObject({ identity: 'policyless-user', missing: ['nowhere'] });
    expect(lines.filter((line) => line.includes(' GET /jwt '))).toHaveLength(2);
  });

  it('names an upstream failure on the access line', async () => {
    // Port 9 (discard) on loopback: nothing listens there, the connection is refused.
    const { dev, lines } = await devWithAccessLog({}, { upstream: 'http://127.0.0.1:9' });
    started.push(dev);
    const { key } = await createKey(dev);

    const res = await fetch(`${dev.gatewayUrl}/down`, { headers: { Authorization: key } });

    expect(res.status).toBe(504);
    expect(lines.filter((line) => line.includes(' GET /down '))).toEqual([
      expect.stringMatching(
        / 504 allowed key=\S+ \d+ms dynamodb=\d+ upstream=http:\/\/127\.0\.0\.1:9 error="connect ECONNREFUSED 127\.0\.0\.1:9"$/,
      ),
    ]);
  });
});
