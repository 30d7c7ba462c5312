import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../../lambdas/admin/session-index.ts';

const PK = `key#${'a'.repeat(64)}`;

describe('list cursors', () => {
  it('round-trip the start key of the query they came from', () => {
    const kind = { pk: PK, kind: 'key' };
    const alias = { pk: PK, alias: 'team a' };

    expect(decodeCursor(encodeCursor(kind), { kind: 'key' })).toEqual(kind);
    expect(decodeCursor(encodeCursor(alias), { alias: 'team a' })).toEqual(alias);
  });

  it('are opaque base64url', () => {
    expect(encodeCursor({ pk: PK, kind: 'key' })).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it.each([
    ['garbage', '!!!'],
    ['empty', ''],
    ['not JSON', Buffer.from('{pk').toString('base64url')],
    ['an array', Buffer.from('[1]').toString('base64url')],
    ['a string', Buffer.from('"x"').toString('base64url')],
    ['no pk', Buffer.from('{"kind":"key","x":"y"}').toString('base64url')],
    ['a bad pk', Buffer.from('{"pk":"policy#x","kind":"key"}').toString('base64url')],
    ['another kind', Buffer.from(`{"pk":"${PK}","kind":"jwt"}`).toString('base64url')],
    ['an extra key', Buffer.from(`{"pk":"${PK}","kind":"key","x":"y"}`).toString('base64url')],
    ['a number', Buffer.from(`{"pk":"${PK}","kind":1}`).toString('base64url')],
    ['an alias cursor', encodeCursor({ pk: PK, alias: 'a' })],
    ['too long', 'A'.repeat(3000)],
  ])('reject %s for a listing of every key', (_name, cursor) => {
    expect(decodeCursor(cursor, { kind: 'key' })).toBeUndefined();
  });

  it('reject a cursor of another alias', () => {
    expect(decodeCursor(encodeCursor({ pk: PK, alias: 'a' }), { alias: 'b' })).toBeUndefined();
  });
});
