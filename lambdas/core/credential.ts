import { MAX_KEY_LENGTH } from './keys.ts';

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

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Reads the credential from the configured header: a raw key or `Bearer <key>`.
 * With `jwtEnabled`, a bearer value shaped like a JWT (`a.b.c`) is a JWT. A value that
 * is too long or not printable ASCII is `malformed` (denied without a look-up).
 */
export function readCredential(headers: Headers, headerName: string, jwtEnabled: boolean): Credential {
  const raw = headers[headerName.toLowerCase()];
  if (raw === undefined) return { kind: 'none' };
  const value = raw.trim();
  // A scheme without credentials (`Bearer`, `Bearer `) is no credential at all.
  if (value === '' || /^bearer$/i.test(value)) return { kind: 'none' };
  const bearer = /^bearer\s+/i.exec(value);
  const secret = bearer ? value.slice(bearer[0].length).trim() : value;
  if (secret === '') return { kind: 'none' };
  if (secret.length > MAX_KEY_LENGTH * 8 || !/^[\x21-\x7e]+$/.test(secret)) return { kind: 'malformed' };
  if (jwtEnabled && JWT_SHAPE.test(secret)) return { kind: 'jwt', token: secret };
  if (secret.length > MAX_KEY_LENGTH) return { kind: 'malformed' };
  return { kind: 'apiKey', key: secret };
}
