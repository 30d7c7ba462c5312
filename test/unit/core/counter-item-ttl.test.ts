import { describe, expect, it } from 'vitest';
import { counterItemTtl, ttlAfterChange, ttlOfNew } from '../../../lambdas/core/store/session-ttl.ts';

/** A counter item's TTL is its session item's (docs/ARCHITECTURE.md, "How long a counter item lives"). */
describe('counterItemTtl', () => {
  const retention = 30 * 86_400;
  const expires = 1_900_000_000;

  it('is the session item’s TTL: expires + retention for an API key that expires', () => {
    expect(counterItemTtl('key#k1', expires, retention)).toBe(ttlOfNew('key', expires, retention).ttl);
    expect(counterItemTtl('key#k1', expires, retention)).toBe(ttlAfterChange('key#k1', expires, retention));
  });

  it('is none when the key never expires, or for a JWT identity’s session (which never has one)', () => {
    expect(counterItemTtl('key#k1', 0, retention)).toBeUndefined();
    expect(counterItemTtl('key#k1', undefined, retention)).toBeUndefined();
    expect(counterItemTtl('jwt#abc', expires, retention)).toBeUndefined();
    expect(ttlOfNew('jwt', expires, retention)).toEqual({});
  });
});
