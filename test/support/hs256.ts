import { SignJWT } from 'jose';

/**
 * A signer of HS256 tokens from `issuer` under `secret`: a token for subject `sub`, good for
 * ten minutes (a JWT identity's requests in tests).
 */
export function hs256Tokens(secret: string, issuer: string): (sub: string) => Promise<string> {
  const key = new TextEncoder().encode(secret);
  return (sub) => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer(issuer).setSubject(sub).setExpirationTime('10m').sign(key);
}
