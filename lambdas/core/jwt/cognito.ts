/**
 * Amazon Cognito's own claims, checked as AWS's aws-jwt-verify checks them
 * (`validateCognitoJwtFields`): `token_use` is `id` or `access` and, when pinned, the one
 * pinned; the app client id is an access token's `client_id` and an id token's `aud`
 * (a single string in both), and must be one of the configured ones.
 */
import type { JWTPayload } from 'jose';

/** The Cognito part of the JWT config (`jwt.tokenUse`, `jwt.clientIds`). */
export interface CognitoSettings {
  /** @default - not checked */
  readonly tokenUse?: 'id' | 'access' | undefined;
  /** @default - not checked */
  readonly clientIds?: string | readonly string[] | undefined;
}

/**
 * Why the token fails the configured `tokenUse` / `clientIds`, or `undefined` when it
 * passes (or neither is configured).
 *
 * @example
 * cognitoProblem({ token_use: 'access', client_id: 'b' }, { tokenUse: 'access', clientIds: ['a'] });
 * // '"client_id" "b" is not one of the configured clientIds'
 */
export function cognitoProblem(claims: JWTPayload, config: CognitoSettings): string | undefined {
  const { tokenUse, clientIds } = config;
  if (tokenUse === undefined && clientIds === undefined) return undefined;
  const use = claims.token_use;
  if (use !== 'id' && use !== 'access') return `"token_use" must be "id" or "access", not ${describe(use)}`;
  if (tokenUse !== undefined && use !== tokenUse) return `"token_use" is "${use}", not the configured "${tokenUse}"`;
  if (clientIds === undefined) return undefined;
  const claim = use === 'id' ? 'aud' : 'client_id';
  const clientId = claims[claim];
  if (typeof clientId !== 'string') return `"${claim}" of an ${use} token must be a client id (a string), not ${describe(clientId)}`;
  const accepted: readonly string[] = typeof clientIds === 'string' ? [clientIds] : clientIds;
  if (!accepted.includes(clientId)) return `"${claim}" "${clientId}" is not one of the configured clientIds`;
  return undefined;
}

function describe(value: unknown): string {
  return value === undefined ? 'missing' : (JSON.stringify(value) ?? typeof value);
}
