import type { Config } from './config.ts';
import { readCredential } from './credential.ts';
import { deny, pluginDeny, type Denial } from './decision.ts';
import { AlreadyExistsError } from './errors.ts';
import type { HookRunner } from './hooks.ts';
import type { JwtVerifier } from './jwt.ts';
import { keyIdOf, keySessionPk, maskKey, sha256Hex } from './keys.ts';
import type { Log } from './log.ts';
import type { AuthRequest } from './pipeline.ts';
import { sessionFromPolicies } from './policy.ts';
import type { PolicyStore } from './policy-store.ts';
import type { SessionStore, StoredSession } from './store.ts';

/** Who is calling: their session, the principal to answer with, and what to log about them. */
export interface Identified {
  readonly session: StoredSession;
  readonly principalId: string;
  /** Safe to log: masked key or identity, key id, token times. */
  readonly logFields: Record<string, unknown>;
}

export interface IdentifyDeps {
  readonly config: Config;
  readonly store: SessionStore;
  readonly log: Log;
  readonly jwt?: JwtVerifier;
  readonly policies?: PolicyStore;
}

/** The partition key of a JWT identity's session: `jwt#` + SHA-256(`iss|identity`). */
export function jwtSessionPk(issuer: string, identity: string): { pk: string; keyId: string } {
  const keyId = sha256Hex(`${issuer}|${identity}`);
  return { pk: `jwt#${keyId}`, keyId };
}

/**
 * Steps 2 and 3 of the pipeline: find the credential (a custom `auth` hook, else a JWT,
 * else an API key) and load its session with a consistent read — creating a JWT
 * identity's session from its policies on first sight.
 */
export async function identify(request: AuthRequest, hooks: HookRunner, deps: IdentifyDeps, now: number): Promise<Identified | Denial> {
  if (hooks.hasAuth) {
    const result = await hooks.auth();
    if ('reason' in result) return pluginDeny(result);
    return apiKeySession(result.key, deps, result.session);
  }
  const credential = readCredential(request.headers, deps.config.apiKeyHeader, deps.jwt !== undefined);
  switch (credential.kind) {
    case 'none':
      return deny('missing_credential');
    case 'malformed':
      deps.log.info('credential rejected: malformed');
      return deny('key_not_found');
    case 'jwt':
      return jwtSession(credential.token, deps, now);
    case 'apiKey':
      return apiKeySession(credential.key, deps);
  }
}

async function apiKeySession(key: string, deps: IdentifyDeps, written?: StoredSession): Promise<Identified | Denial> {
  const keyId = keyIdOf(key);
  const logFields = { key: maskKey(key), keyId };
  const session = written ?? (await deps.store.get(keySessionPk(keyId)));
  if (session === undefined) {
    deps.log.info('request denied', { ...logFields, reason: 'key_not_found' });
    return deny('key_not_found');
  }
  return { session, principalId: keyId, logFields };
}

async function jwtSession(token: string, deps: IdentifyDeps, now: number): Promise<Identified | Denial> {
  const verdict = await deps.jwt!.verify(token);
  if (!verdict.ok) {
    // Both clocks in one line, so that skew is visible at a glance (I8).
    deps.log.info('request denied', { reason: verdict.reason, detail: verdict.detail, token: verdict.times, serverTime: now });
    return deny(verdict.reason);
  }
  const { pk, keyId } = jwtSessionPk(verdict.issuer, verdict.identity);
  const logFields = { identity: verdict.identity, keyId, token: verdict.times, serverTime: now };
  const existing = await deps.store.get(pk);
  if (existing !== undefined) return { session: existing, principalId: verdict.identity, logFields };

  // First sight: a session from the token's policies (or the defaults), created once.
  const ids = verdict.policies ?? deps.config.jwt!.defaultPolicies;
  const lookup = ids.length > 0 && deps.policies ? await deps.policies.getMany(ids) : undefined;
  if (lookup === undefined || lookup.missing.length > 0 || lookup.policies.length === 0) {
    deps.log.info('request denied', { ...logFields, reason: 'no_matching_policy', policies: ids, missing: lookup?.missing });
    return deny('no_matching_policy');
  }
  try {
    const session = await deps.store.create(pk, keyId, sessionFromPolicies(lookup.policies, now), now, 'jwt');
    return { session, principalId: verdict.identity, logFields };
  } catch (error) {
    if (!(error instanceof AlreadyExistsError)) throw error;
    // A concurrent first request created it: use that one.
    const session = await deps.store.get(pk);
    if (session === undefined) throw error;
    return { session, principalId: verdict.identity, logFields };
  }
}
