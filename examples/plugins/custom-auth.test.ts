import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import plugin, { aliasOf, customAuth, sessionKeyOf } from './custom-auth.ts';
import { hookContext, NOW, testSession } from './testing.ts';

const TOKEN = 'tok_5976507eb46f2e00016bb4a1';

describe('custom-auth', () => {
  it('is a plugin named custom-auth with only an auth hook', () => {
    expect(plugin.name).toBe('custom-auth');
    expect(Object.keys(plugin).sort()).toEqual(['auth', 'name']);
  });

  it('creates a session on the first sight of a token: 60 s, quota 1000, this API only', async () => {
    const ctx = hookContext({ request: { headers: { 'x-auth-token': TOKEN }, apiId: 'api1' }, now: NOW });

    const result = await plugin.auth(ctx);

    const key = sessionKeyOf(TOKEN);
    expect(result).toEqual({
      key,
      createSession: {
        alias: aliasOf(key),
        expires: NOW + 60,
        quotaMax: 1000,
        quotaRenewalRate: 60,
        accessRights: { api1: { versions: ['Default'] } },
      },
    });
  });

  it('reuses the session of a token it has seen: names the key and writes nothing', async () => {
    const key = sessionKeyOf(TOKEN);
    const ctx = hookContext({
      request: { headers: { 'x-auth-token': TOKEN } },
      stored: new Map([[key, testSession({ quotaRemaining: 998 })]]),
    });

    expect(await plugin.auth(ctx)).toEqual({ key });
  });

  it.each([
    ['absent', {}],
    ['empty', { 'x-auth-token': '' }],
    ['blank', { 'x-auth-token': '   ' }],
  ])('denies with missing_token when the token is %s', async (_case, headers) => {
    const ctx = hookContext({ request: { headers } });

    expect(await plugin.auth(ctx)).toEqual({ deny: { reason: 'missing_token', message: 'Auth token missing' } });
  });

  it('derives the key from the token alone, and keeps both the token and the key out of the alias', () => {
    const key = sessionKeyOf(TOKEN);

    expect(key).toBe(createHash('sha256').update(TOKEN).digest('hex'));
    expect(sessionKeyOf(`${TOKEN}x`)).not.toBe(key);
    expect(aliasOf(key)).toMatch(/^custom-auth-[0-9a-f]{16}$/);
    expect(aliasOf(key)).not.toContain(key.slice(0, 16));
  });

  it('reads the header named in the factory, whatever its case', async () => {
    const partner = customAuth({ header: 'X-Partner-Token', quotaMax: 5 });
    const ctx = hookContext({ request: { headers: { 'x-partner-token': TOKEN } } });

    expect(await partner.auth(ctx)).toMatchObject({ key: sessionKeyOf(TOKEN), createSession: { quotaMax: 5 } });
  });
});
