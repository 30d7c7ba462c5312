import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateKey, KEY_PREFIX, keyIdOf, keySessionPk, maskKey, sha256Hex } from '../../../lambdas/core/model/keys.ts';

describe('generateKey', () => {
  it('starts with gp_ and is 46 characters long', () => {
    const key = generateKey();

    expect(KEY_PREFIX).toBe('gp_');
    expect(key.startsWith('gp_')).toBe(true);
    expect(key).toHaveLength(46);
  });

  it('encodes 32 bytes in base64url after the prefix', () => {
    const body = generateKey().slice(3);

    expect(body).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(body, 'base64url')).toHaveLength(32);
  });

  it('returns a different key every time', () => {
    const keys = new Set(Array.from({ length: 100 }, () => generateKey()));

    expect(keys.size).toBe(100);
  });
});

describe('keyIdOf', () => {
  it('is the lowercase hex SHA-256 of the key', () => {
    const key = generateKey();

    expect(keyIdOf(key)).toBe(createHash('sha256').update(key).digest('hex'));
    expect(keyIdOf(key)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('matches a known SHA-256 test vector', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('hashes the UTF-8 bytes of the key', () => {
    expect(keyIdOf('é')).toBe(createHash('sha256').update(Buffer.from('é', 'utf8')).digest('hex'));
  });
});

describe('maskKey', () => {
  it('shows only the last four characters behind asterisks', () => {
    expect(maskKey('5976507eb46f2e00016bb4a13a4e7ca913238ee243102a32d27e56bc')).toBe('****56bc');
  });

  it('never contains the key itself', () => {
    const key = generateKey();

    expect(maskKey(key)).not.toContain(key.slice(0, -4));
    expect(maskKey(key)).toHaveLength(8);
  });
});

describe('keySessionPk', () => {
  it('prefixes the key id with key#', () => {
    expect(keySessionPk('ab12')).toBe('key#ab12');
  });
});
