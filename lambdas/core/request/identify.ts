import type { Config } from '../model/config.ts';
import { readCredential } from './credential.ts';
import { deny, pluginDeny, type Denial } from './decision.ts';
import { GatepassError } from '../model/errors.ts';
import type { HookRunner } from '../plugins/hooks.ts';
import type { JwtVerifier } from '../jwt/jwt.ts';
import { keyIdOf, keySessionPk, maskKey, sha256Hex } from '../model/keys.ts';
import type { Log } from '../model/log.ts';
import type { AuthRequest } from './auth-request.ts';
import { sessionFromPolicies } from '../policies/session-from-policies.ts';
import type { PolicyStore } from '../policies/policy-store.ts';
import type { SessionService } from '../session/service.ts';
import type { StoredSession } from '../store/item.ts';

/**
 * Who is calling: where their session lives, the principal to answer with, and what may
 * be logged about them. The session itself is loaded later, by the pipeline.
 */
export interface Identity {
  readonly pk: string;
  readonly principalId: string;
  /** The hash that names the session (`pk` without its prefix): never the raw key. */
  readonly keyId: string;
  /** Safe to log: masked key or identity, key id, token times. */
  readonly logFields: Record<string, unknown>;
  /** The id of the API key presented (not of a JWT identity): it must be one the session accepts (key rotation). */
  readonly presentedKeyId?: string;
  /** When `pk` was reached through a rotated-in key's pointer: the key's own partition key. */
  readonly pointerPk?: string | undefined;
  /** The session an `auth` hook wrote for this request, when it wrote one. */
  readonly written?: StoredSession;
  /** What happens when there is no session: a denial, or a JWT identity's first session. */
  readonly whenMissing: () => Promise<StoredSession | Denial>;
}

export interface IdentifyDeps {
  readonly config: Config;
  readonly sessions: SessionService;
  readonly log: Log;
  readonly jwt?: JwtVerifier;
  readonly policies?: PolicyStore;
}

/** The partition key of a JWT identity's session: `jwt#` + SHA-256(`iss|identity`). */
export function jwtSessionPk(issuer: string, identity: string): { pk: string; keyId: string } {
  const keyId = sha256Hex(`${issuer}|${identity}`);
  return { pk: jwtSessionPkOf(keyId), keyId };
}

/** The partition key of the JWT identity session whose key id is `keyId`. */
export function jwtSessionPkOf(keyId: string): string {
  return `jwt#${keyId}`;
}

/**
 * Step 2 of the pipeline: find the credential — a custom `auth` hook, else a JWT, else an
 * API key — and say where its session is.
 */
export async function identify(request: AuthRequest, hooks: HookRunner, deps: IdentifyDeps, nowMs: number): Promise<Identity | Denial> {
  if (hooks.hasAuth) {
    const result = await hooks.auth();
    if ('reason' in result) return pluginDeny(result);
    return apiKeyIdentity(result.key, result.session);
  }
  const credential = readCredential(request.headers, deps.config.apiKeyHeader, deps.jwt !== undefined);
  switch (credential.kind) {
    case 'none':
      return deny('missing_credential');
    case 'malformed':
      deps.log.info('credential rejected: malformed');
      return deny('key_not_found');
    case 'jwt':
      return jwtIdentity(credential.token, deps, nowMs);
    case 'apiKey':
      return apiKeyIdentity(credential.key);
  }
}

function apiKeyIdentity(key: string, written?: StoredSession): Identity {
  const keyId = keyIdOf(key);
  const logFields = { key: maskKey(key), keyId };
  return {
    // The session an auth hook wrote (a rotated-in key's lives under another key's id).
    pk: written?.pk ?? keySessionPk(keyId),
    principalId: keyId,
    keyId,
    presentedKeyId: keyId,
    logFields,
    ...(written ? { written } : {}),
    // Logged once, with the other denials, by the pipeline.
    whenMissing: async () => deny('key_not_found'),
  };
}

async function jwtIdentity(token: string, deps: IdentifyDeps, nowMs: number): Promise<Identity | Denial> {
  const now = Math.floor(nowMs / 1000);
  const verdict = await deps.jwt!.verify(token);
  if (!verdict.ok) {
    // Both clocks in one line, so that skew is visible at a glance (I8).
    deps.log.info('request denied', { reason: verdict.reason, detail: verdict.detail, token: verdict.times, serverTime: now });
    return deny(verdict.reason);
  }
  const { pk, keyId } = jwtSessionPk(verdict.issuer, verdict.identity);
  const logFields = { identity: verdict.identity, keyId, token: verdict.times, serverTime: now };
  return {
    pk,
    principalId: verdict.identity,
    keyId,
    logFields,
    whenMissing: () => createIdentitySession(pk, keyId, verdict.policies, logFields, deps, nowMs),
  };
}

/**
 * A JWT identity's first session, from the policies its token names (or the defaults),
 * created with `attribute_not_exists` so that concurrent first requests make exactly one.
 */
async function createIdentitySession(
  pk: string,
  keyId: string,
  named: string[] | undefined,
  logFields: Record<string, unknown>,
  deps: IdentifyDeps,
  nowMs: number,
): Promise<StoredSession | Denial> {
  const ids = named ?? deps.config.jwt!.defaultPolicies;
  const lookup = ids.length > 0 && deps.policies ? await deps.policies.getMany(ids) : undefined;
  if (lookup === undefined || lookup.missing.length > 0 || lookup.policies.length === 0) {
    // Not logged here: the pipeline logs every denial of a session once, with the identity's
    // log fields — so the policies are added to those.
    Object.assign(logFields, { policies: ids, missing: lookup?.missing });
    return deny('no_matching_policy');
  }
  let fields;
  try {
    fields = sessionFromPolicies(lookup.policies, Math.floor(nowMs / 1000));
  } catch (error) {
    if (!(error instanceof GatepassError) || error.code !== 'ERR_VALIDATION') throw error;
    return deny('no_matching_policy'); // policies that grant no API: never every API
  }
  // Concurrent first requests make exactly one session, and all use it.
  return deps.sessions.createOrUse(pk, keyId, fields, nowMs, 'jwt');
}
