import { describe, expect, it } from 'vitest';
import plugin, { renewOnExpiry } from './renew-on-expiry.ts';
import { NOW, sessionContext, testSession } from './testing.ts';

describe('renew-on-expiry', () => {
  it('is a plugin named renew-on-expiry with only a postAuth hook', () => {
    expect(plugin.name).toBe('renew-on-expiry');
    expect(Object.keys(plugin).sort()).toEqual(['name', 'postAuth']);
  });

  it.each([
    ['expired more than 24 h ago', NOW - 86_401],
    ['expiring in this very second', NOW],
    ['expiring within 5 s', NOW + 5],
  ])('renews a session %s to now + 60', async (_case, expires) => {
    const ctx = sessionContext({ session: testSession({ expires }), now: NOW });

    await plugin.postAuth(ctx);

    expect(ctx.updates).toEqual([{ expires: NOW + 60 }]);
    expect(ctx.current().expires).toBe(NOW + 60);
  });

  it.each([
    ['never expires (0)', 0],
    ['expires in 6 s', NOW + 6],
    ['expires in an hour', NOW + 3600],
  ])('leaves a session alone that %s', async (_case, expires) => {
    const ctx = sessionContext({ session: testSession({ expires }), now: NOW });

    await plugin.postAuth(ctx);

    expect(ctx.updates).toEqual([]);
  });

  it('does not renew an inactive key (it is denied anyway)', async () => {
    const ctx = sessionContext({ session: testSession({ expires: NOW - 10, isInactive: true }), now: NOW });

    await plugin.postAuth(ctx);

    expect(ctx.updates).toEqual([]);
  });

  it('takes its window and extension from the factory', async () => {
    const hourly = renewOnExpiry({ within: 300, extendBy: 3600 });
    const soon = sessionContext({ session: testSession({ expires: NOW + 300 }), now: NOW });
    const later = sessionContext({ session: testSession({ expires: NOW + 301 }), now: NOW });

    await hourly.postAuth(soon);
    await hourly.postAuth(later);

    expect(soon.updates).toEqual([{ expires: NOW + 3600 }]);
    expect(later.updates).toEqual([]);
  });

  it('with resetQuota, starts a fresh quota window in the same write', async () => {
    const resetting = renewOnExpiry({ resetQuota: true });
    const ctx = sessionContext({
      session: testSession({ expires: NOW - 1, quotaMax: 1000, quotaRemaining: 3, quotaRenewalRate: 60, quotaRenews: NOW - 500 }),
      now: NOW,
    });

    await resetting.postAuth(ctx);

    expect(ctx.updates).toEqual([{ expires: NOW + 60, quotaRemaining: 1000, quotaRenews: NOW + 60 }]);
  });

  it('logs the renewal with the key id, never a key', async () => {
    const ctx = sessionContext({ session: testSession({ expires: NOW - 1 }), now: NOW });

    await plugin.postAuth(ctx);

    expect(ctx.log.lines).toEqual([
      {
        level: 'info',
        message: 'session renewed',
        extra: { keyId: 'a'.repeat(64), expired: NOW - 1, expires: NOW + 60, resetQuota: false },
      },
    ]);
  });

  it.each([
    [{ within: -1 }, /within/],
    [{ within: 1.5 }, /within/],
    [{ extendBy: 0 }, /extendBy/],
    [{ extendBy: Number.NaN }, /extendBy/],
  ])('rejects bad options when built: %o', (options, message) => {
    expect(() => renewOnExpiry(options)).toThrow(message);
  });
});
