import { MAX_KEY_LENGTH } from '../model/keys.ts';

/** A request's headers with lower-case names (HTTP header names are case-insensitive). */
export type Headers = Readonly<Record<string, string | undefined>>;

/** Lower-cases header names; a later duplicate wins, as API Gateway's single-value map does. */
export function normalizeHeaders(headers: Readonly<Record<string, string | undefined | null>> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value === 'string') out[name.toLowerCase()] = value;
  }
  return out;
}

export type Credential =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'apiKey'; readonly key: string }
  | { readonly kind: 'jwt'; readonly token: string };

/** A compact JWS: three base64url segments (the signature may be empty, so that `alg: none` is refused as a JWT). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Reads the request's credential. With JWT configured, `Authorization: Bearer <a.b.c>` —
 * three base64url segments, of any length — is a JWT (whatever the API key header is); the
 * verifier refuses one over its bound (`MAX_TOKEN_LENGTH`, 10,240 bytes) as `token_invalid`.
 * Otherwise the API key comes from the configured header, raw or as `Bearer <key>`. A key
 * that is too long or not printable ASCII is `malformed` (denied without a look-up).
 */
export function readCredential(headers: Headers, headerName: string, jwtEnabled: boolean): Credential {
  if (jwtEnabled) {
    const bearer = bearerToken(headers['authorization']);
    if (bearer !== undefined && JWT_SHAPE.test(bearer)) return { kind: 'jwt', token: bearer };
  }
  const raw = headers[headerName.toLowerCase()];
  if (raw === undefined) return { kind: 'none' };
  const value = raw.trim();
  // A scheme without credentials (`Bearer`, `Bearer `) is no credential at all.
  if (value === '' || /^bearer$/i.test(value)) return { kind: 'none' };
  const secret = bearerToken(value) ?? value;
  if (secret === '') return { kind: 'none' };
  if (secret.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(secret)) return { kind: 'malformed' };
  return { kind: 'apiKey', key: secret };
}

/** The value after `Bearer `, or undefined when the value is not a bearer credential. */
function bearerToken(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}
