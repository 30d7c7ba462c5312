/**
 * Test helpers for JWT: a real JWKS endpoint over node:http on 127.0.0.1, key pairs made
 * with jose, and token builders (signed, HMAC, unsecured).
 */
import { generateKeyPairSync, randomUUID, sign as cryptoSign } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  base64url,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';

/**
 * How a downed server fails: `reset` destroys the connection, `unavailable` answers 503,
 * `hang` never answers (for timeouts), `invalid` answers 200 with a body that is no JWKS.
 */
export type JwksOutage = 'reset' | 'unavailable' | 'hang' | 'invalid';

export interface JwksServer {
  /** `http://127.0.0.1:<port>/.well-known/jwks.json` */
  readonly url: string;
  /** Replaces the key set served from now on. */
  setKeys(jwks: JSONWebKeySet): void;
  /** Makes every request fail. @default 'reset' */
  down(outage?: JwksOutage): void;
  /** Serves the key set again. */
  up(): void;
  /** Requests received so far, failed ones included. */
  requests(): number;
  close(): Promise<void>;
}

/** Starts a JWKS server on a free port of 127.0.0.1, serving an empty key set until `setKeys`. */
export async function startJwksServer(): Promise<JwksServer> {
  let jwks: JSONWebKeySet = { keys: [] };
  let outage: JwksOutage | undefined;
  let count = 0;

  const server = createServer((request, response) => {
    count += 1;
    switch (outage) {
      case 'reset':
        request.socket.destroy();
        return;
      case 'unavailable':
        return send(response, 503, { message: 'Service Unavailable' });
      case 'hang':
        return;
      case 'invalid':
        return send(response, 200, { keys: 'not a list' });
      case undefined:
        return send(response, 200, jwks);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    setKeys: (next) => {
      jwks = structuredClone(next);
    },
    down: (mode = 'reset') => {
      outage = mode;
    },
    up: () => {
      outage = undefined;
    },
    requests: () => count,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections(); // keep-alive and hung sockets
      }),
  };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

/** A signing key pair for tests, with its public half as a JWK (with `kid`) and as PEM. */
export interface TestKey {
  readonly alg: 'RS256' | 'ES256';
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly publicPem: string;
}

export async function generateTestKey(alg: 'RS256' | 'ES256', kid: string = randomUUID()): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicJwk, publicPem: await exportSPKI(publicKey) };
}

/** The JWKS publishing these keys' public halves. */
export function jwksOf(...keys: TestKey[]): JSONWebKeySet {
  return { keys: keys.map((key) => key.publicJwk) };
}

/** A compact JWT signed with `key`, `kid` in the header unless overridden. */
export function signToken(key: TestKey, claims: JWTPayload, header: Partial<JWTHeaderParameters> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

/** A JWT MAC'd with HS256 (or `alg`) over arbitrary secret bytes. */
export function signHmacToken(secret: Uint8Array | string, claims: JWTPayload, alg = 'HS256'): Promise<string> {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(bytes);
}

/** An unsecured JWT (`alg: none`, empty signature), built by hand: jose refuses to verify these. */
export function unsecuredToken(claims: JWTPayload): string {
  const part = (value: object): string => base64url.encode(JSON.stringify(value));
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** The same token with its payload replaced (signature kept): a tampered token. */
export function withPayload(token: string, claims: JWTPayload): string {
  const [header, , signature] = token.split('.');
  return `${header}.${base64url.encode(JSON.stringify(claims))}.${signature}`;
}

/**
 * An RSA signing key under 2048 bits, as a misconfigured issuer might publish. jose refuses
 * to sign with one, so `sign` builds the RS256 token with node:crypto.
 */
export interface ShortRsaKey {
  readonly kid: string;
  readonly bits: number;
  readonly publicJwk: JWK;
  sign(claims: JWTPayload): string;
}

export function generateShortRsaKey(bits = 1024, kid: string = randomUUID()): ShortRsaKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const publicJwk: JWK = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const part = (value: object): string => base64url.encode(JSON.stringify(value));
  return {
    kid,
    bits,
    publicJwk,
    sign(claims) {
      const input = `${part({ alg: 'RS256', kid, typ: 'JWT' })}.${part(claims)}`;
      return `${input}.${cryptoSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
    },
  };
}

/**
 * Signs `claims` plus a `pad` claim sized so that the token is `length` characters long
 * (give or take 3: base64url grows in steps of 4).
 */
export async function signTokenOfLength(key: TestKey, claims: JWTPayload, length: number): Promise<string> {
  let pad = 0;
  for (;;) {
    const token = await signToken(key, { ...claims, pad: 'x'.repeat(pad) });
    const missing = length - token.length;
    if (missing >= 0 && missing < 4) return token;
    pad += Math.trunc((missing * 3) / 4) || Math.sign(missing);
  }
}
