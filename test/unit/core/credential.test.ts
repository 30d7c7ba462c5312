import { describe, expect, it } from 'vitest';
import { normalizeHeaders, readCredential } from '../../../lambdas/core/request/credential.ts';
import { MAX_KEY_LENGTH } from '../../../lambdas/core/model/keys.ts';

const KEY = 'gp_8tJcH0q1m0Yy3bX1fQ2mZ0sWcKp9r6uVn5eL4aT7dGk';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl';

describe('normalizeHeaders', () => {
  it('lower-cases header names and keeps values as they are', () => {
    expect(normalizeHeaders({ 'X-API-Key': 'Abc', AUTHORIZATION: 'Bearer X' })).toEqual({
      'x-api-key': 'Abc',
      authorization: 'Bearer X',
    });
  });

  it('drops headers without a string value', () => {
    expect(normalizeHeaders({ a: undefined, b: null, c: '1' })).toEqual({ c: '1' });
  });

  it('answers an empty map for null or undefined headers', () => {
    expect(normalizeHeaders(null)).toEqual({});
    expect(normalizeHeaders(undefined)).toEqual({});
  });
});

describe('readCredential', () => {
  describe('finding the header', () => {
    it('reads the configured header whatever the case of its name in the config and the request', () => {
      const headers = normalizeHeaders({ 'x-Api-KEY': KEY });

      expect(readCredential(headers, 'X-API-Key', false)).toEqual({ kind: 'apiKey', key: KEY });
    });

    it('answers none when the header is absent', () => {
      expect(readCredential({ other: KEY }, 'Authorization', false)).toEqual({ kind: 'none' });
    });

    it('answers none for an empty or blank header', () => {
      expect(readCredential({ authorization: '' }, 'Authorization', false)).toEqual({ kind: 'none' });
      expect(readCredential({ authorization: '   ' }, 'Authorization', false)).toEqual({ kind: 'none' });
    });
  });

  describe('API keys', () => {
    it('reads a raw key', () => {
      expect(readCredential({ authorization: KEY }, 'Authorization', false)).toEqual({ kind: 'apiKey', key: KEY });
    });

    it('reads a key after Bearer, whatever its case, and trims whitespace', () => {
      expect(readCredential({ authorization: `Bearer ${KEY}` }, 'Authorization', false)).toEqual({ kind: 'apiKey', key: KEY });
      expect(readCredential({ authorization: `bEARER   ${KEY}  ` }, 'Authorization', false)).toEqual({ kind: 'apiKey', key: KEY });
    });

    it('answers none for a Bearer prefix with no key after it', () => {
      expect(readCredential({ authorization: 'Bearer ' }, 'Authorization', false)).toEqual({ kind: 'none' });
      expect(readCredential({ authorization: 'Bearer' }, 'Authorization', false)).toEqual({ kind: 'none' });
    });

    it('reads a key of exactly the longest length', () => {
      const key = 'k'.repeat(MAX_KEY_LENGTH);

      expect(readCredential({ authorization: key }, 'Authorization', false)).toEqual({ kind: 'apiKey', key });
    });

    it('answers malformed for a key one character over the longest length', () => {
      expect(readCredential({ authorization: 'k'.repeat(MAX_KEY_LENGTH + 1) }, 'Authorization', false)).toEqual({ kind: 'malformed' });
    });

    it('answers malformed for 12 KiB of junk, with or without JWT support', () => {
      const junk = 'x'.repeat(12 * 1024);

      expect(readCredential({ authorization: junk }, 'Authorization', false)).toEqual({ kind: 'malformed' });
      expect(readCredential({ authorization: `Bearer ${junk}` }, 'Authorization', true)).toEqual({ kind: 'malformed' });
    });

    it('answers malformed for non-ASCII characters', () => {
      expect(readCredential({ authorization: 'gp_clé-secrète-0123456789' }, 'Authorization', false)).toEqual({ kind: 'malformed' });
      expect(readCredential({ authorization: 'Bearer gp_🔑🔑🔑🔑🔑🔑🔑🔑' }, 'Authorization', false)).toEqual({ kind: 'malformed' });
    });

    it('answers malformed for control characters and inner spaces', () => {
      expect(readCredential({ authorization: 'gp_abc\u0000def0123456789' }, 'Authorization', false)).toEqual({ kind: 'malformed' });
      expect(readCredential({ authorization: 'gp_abc def0123456789' }, 'Authorization', false)).toEqual({ kind: 'malformed' });
    });
  });

  describe('JWTs', () => {
    it('reads a bearer a.b.c value as a JWT when JWT is enabled', () => {
      expect(readCredential({ authorization: `Bearer ${JWT}` }, 'Authorization', true)).toEqual({ kind: 'jwt', token: JWT });
    });

    it('reads a bearer a.b.c value as an API key when JWT is not enabled', () => {
      expect(readCredential({ authorization: `Bearer ${JWT}` }, 'Authorization', false)).toEqual({ kind: 'apiKey', key: JWT });
    });

    it('reads a bearer gp_ key as an API key even when JWT is enabled', () => {
      expect(readCredential({ authorization: `Bearer ${KEY}` }, 'Authorization', true)).toEqual({ kind: 'apiKey', key: KEY });
    });

    it('accepts a JWT longer than the longest API key', () => {
      const long = `${JWT}${'A'.repeat(2 * MAX_KEY_LENGTH)}`;

      expect(readCredential({ authorization: `Bearer ${long}` }, 'Authorization', true)).toEqual({ kind: 'jwt', token: long });
    });

    it('reads a JWT-shaped bearer of 9 KiB as a JWT, not as an over-long API key', () => {
      const large = `${JWT}${'A'.repeat(9 * 1024)}`;

      expect(readCredential({ authorization: `Bearer ${large}` }, 'Authorization', true)).toEqual({ kind: 'jwt', token: large });
    });

    it('reads a JWT-shaped bearer over 10,240 bytes as a JWT too: the verifier refuses it as token_invalid', () => {
      const huge = `${JWT}${'A'.repeat(12 * 1024)}`;

      expect(readCredential({ authorization: `Bearer ${huge}` }, 'Authorization', true)).toEqual({ kind: 'jwt', token: huge });
    });

    it('reads a bearer JWT from Authorization even when API keys come from another header', () => {
      const headers = { authorization: `Bearer ${JWT}`, 'x-api-key': KEY };

      expect(readCredential(headers, 'X-API-Key', true)).toEqual({ kind: 'jwt', token: JWT });
      expect(readCredential({ 'x-api-key': KEY }, 'X-API-Key', true)).toEqual({ kind: 'apiKey', key: KEY });
    });

    it('treats a raw a.b.c value without Bearer as an API key', () => {
      expect(readCredential({ authorization: JWT }, 'Authorization', true)).toEqual({ kind: 'apiKey', key: JWT });
    });
  });
});
