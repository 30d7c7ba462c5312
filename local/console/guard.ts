import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Who may use the console's local server. It signs admin calls with the user's AWS
 * credentials, so a page from anywhere else — another site, another local port, a DNS name
 * rebound to 127.0.0.1 — must not be able to drive it, nor read its answers:
 * - `Host` must be `127.0.0.1:<port>` or `localhost:<port>` (DNS rebinding sends the
 *   attacker's host name);
 * - a request from another origin is refused: a foreign `Origin`, or `Sec-Fetch-Site`
 *   other than `same-origin` or `none` (a typed or pasted URL);
 * - every request but the token exchange carries the session cookie, which the browser
 *   got by opening the printed URL (`?token=`) and sends only to this origin
 *   (`SameSite=Strict`, `HttpOnly`: page scripts never see it);
 * - writes (anything but GET and HEAD) must name this origin in `Origin`, which browsers
 *   always send with them.
 */

/** What a request may do, or why it is refused. */
export type Verdict =
  | { readonly ok: true; readonly session: boolean }
  | { readonly ok: false; readonly status: 400 | 401 | 403; readonly message: string };

export interface GuardOptions {
  readonly port: number;
  /** The random token printed in the console URL (also the cookie's value). */
  readonly token: string;
}

/** The cookie's name: one per port, since browsers send a host's cookies to all its ports. */
export function cookieName(port: number): string {
  return `gatepass_console_${port}`;
}

/** The origins this server answers: the loopback address and `localhost`, on its port. */
export function allowedOrigins(port: number): string[] {
  return [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
}

/** Checks a request's `Host`, origin and session; `session` tells whether the cookie is valid. */
export function checkRequest(method: string, headers: IncomingHttpHeaders, options: GuardOptions): Verdict {
  const hosts = allowedOrigins(options.port).map((origin) => origin.slice('http://'.length));
  if (!hosts.includes((headers.host ?? '').toLowerCase())) {
    return { ok: false, status: 400, message: `this console answers only at ${hosts.join(' or ')}` };
  }
  const origin = headers.origin;
  if (origin !== undefined && !allowedOrigins(options.port).includes(origin.toLowerCase())) {
    return { ok: false, status: 403, message: 'requests from other origins are refused' };
  }
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return { ok: false, status: 403, message: 'requests from other sites are refused' };
  }
  if (method !== 'GET' && method !== 'HEAD' && origin === undefined) {
    return { ok: false, status: 403, message: 'a write must come from the console page (Origin header missing)' };
  }
  return { ok: true, session: sameSecret(readCookie(headers.cookie, cookieName(options.port)), options.token) };
}

/** True when `given` is the token, compared in constant time. */
export function sameSecret(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const [a, b] = [Buffer.from(given), Buffer.from(token)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The `Set-Cookie` value that starts a session: this origin only, never readable by scripts. */
export function sessionCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; Path=/; HttpOnly; SameSite=Strict`;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/**
 * Headers on every answer: a Content-Security-Policy that allows only this origin's own
 * script, style and connections (no inline script, no framing), no MIME sniffing, no
 * referrer (the first URL holds the token), nothing cached.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
};
