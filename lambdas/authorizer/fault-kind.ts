import type { FaultKind } from '../core/observability/decision-record.ts';
import type { Observation } from './observation.ts';

const BY_CODE: Readonly<Record<string, FaultKind>> = {
  ERR_STORE: 'dynamodb',
  ERR_JWKS_UNAVAILABLE: 'jwks',
  ERR_PLUGIN: 'plugin',
  ERR_CONTENTION: 'contention',
  ERR_CONFIG_INVALID: 'config',
};

/** Infrastructure first: a plugin whose session write DynamoDB refused is a DynamoDB fault. */
const PRECEDENCE: readonly FaultKind[] = ['dynamodb', 'jwks', 'plugin', 'contention', 'config'];

/**
 * What made a request fail closed, for the `Faults` metric: the error and its `cause`s are
 * read, and the most basic kind found wins — an error a DynamoDB call threw (seen by the
 * request counter, or carrying the SDK's `$metadata`), else gatepass's typed errors by
 * code, else `other`.
 */
export function faultKindOf(error: unknown, observation: Pick<Observation, 'dynamodbErrors'>): FaultKind {
  const found = new Set<FaultKind>();
  const seen = new Set<unknown>();
  for (let e: unknown = error; e !== null && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    if (observation.dynamodbErrors.includes(e) || '$metadata' in e) found.add('dynamodb');
    const kind = BY_CODE[String((e as { code?: unknown }).code)];
    if (kind) found.add(kind);
  }
  return PRECEDENCE.find((kind) => found.has(kind)) ?? 'other';
}
