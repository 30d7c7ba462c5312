/**
 * Evaluates a Lambda authorizer's answer the way API Gateway (REST API) does.
 *
 * Sources: "Output from an API Gateway Lambda authorizer" (developer guide): the answer must
 * have `principalId` and a `policyDocument` with statements; `context` values cannot be JSON
 * objects or arrays. IAM evaluation: an explicit Deny that matches wins, otherwise a matching
 * Allow allows, otherwise the request is implicitly denied. Anything API Gateway cannot use
 * fails the request with 500 (`x-amzn-ErrorType: AuthorizerConfigurationException`);
 * serverless-offline PR #1376 confirmed nested context values do this on AWS, and
 * DefinitelyTyped PR #69823 showed a `null` context value is passed through.
 */

/** A context value as API Gateway accepts it. */
export type ContextValue = string | number | boolean | null;

export interface PolicyDecision {
  readonly effect: 'Allow' | 'Deny';
  /** A Deny statement matched (API Gateway's message then says "with an explicit deny"). */
  readonly explicit: boolean;
  readonly principalId: string;
  readonly context: Readonly<Record<string, ContextValue>>;
}

/** The answer cannot be used: API Gateway answers 500. `malformed` says why (for logs). */
export interface MalformedPolicy {
  readonly malformed: string;
}

export type PolicyEvaluation = PolicyDecision | MalformedPolicy;

const INVOKE_ACTION = 'execute-api:Invoke';
const VERSIONS = new Set(['2012-10-17', '2008-10-17']);
const UNSUPPORTED_KEYS = ['NotAction', 'NotResource', 'Condition', 'NotPrincipal', 'Principal'];
/**
 * Longest Resource API Gateway accepts in an authorizer's policy ("Output from an API
 * Gateway Lambda authorizer": "currently limited to 512 characters long"). What a longer one
 * does is not documented; the emulator treats it as an answer API Gateway cannot use (500).
 */
export const MAX_RESOURCE_LENGTH = 512;

/**
 * Validates an authorizer result (as it arrives after Lambda's JSON round trip) and decides
 * whether it allows `methodArn`.
 *
 * Deliberately strict where API Gateway's tolerance is unknown and gatepass never needs the
 * feature: `Condition`, `NotAction`, `NotResource` and `Principal` are reported as
 * malformed (API Gateway rejects even `"Condition": null` — aws-lambda-rust-runtime #863).
 *
 * @example
 * evaluatePolicy({ principalId: 'k', policyDocument: { Version: '2012-10-17',
 *   Statement: [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: '*' }] } }, arn)
 * // { effect: 'Allow', principalId: 'k', context: {} }
 */
export function evaluatePolicy(result: unknown, methodArn: string): PolicyEvaluation {
  if (!isObject(result)) return malformed('authorizer result is not an object');
  const { principalId, policyDocument } = result;
  if (typeof principalId !== 'string') return malformed('principalId is missing or not a string');
  if (!isObject(policyDocument)) return malformed('policyDocument is missing or not an object');
  if (typeof policyDocument.Version !== 'string' || !VERSIONS.has(policyDocument.Version)) {
    return malformed('policyDocument.Version must be "2012-10-17"');
  }
  const statements = asList(policyDocument.Statement);
  if (statements === undefined) return malformed('policyDocument.Statement is missing');

  const context = readContext(result.context);
  if ('malformed' in context) return context;

  let allowed = false;
  for (const [index, statement] of statements.entries()) {
    const checked = readStatement(statement, index);
    if ('malformed' in checked) return checked;
    if (!checked.actions.some((a) => globMatch(a, INVOKE_ACTION, true))) continue;
    if (!checked.resources.some((r) => globMatch(r, methodArn, false))) continue;
    if (checked.effect === 'Deny') return { effect: 'Deny', explicit: true, principalId, context: context.values };
    allowed = true;
  }
  return { effect: allowed ? 'Allow' : 'Deny', explicit: false, principalId, context: context.values };
}

/**
 * IAM wildcard match: `*` is any run of characters (across `/` and `:`), `?` is exactly
 * one. Actions match case-insensitively, resources (ARNs) case-sensitively.
 */
export function globMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'si' : 's').test(value);
}

interface Statement {
  readonly effect: 'Allow' | 'Deny';
  readonly actions: readonly string[];
  readonly resources: readonly string[];
}

function readStatement(value: unknown, index: number): Statement | MalformedPolicy {
  const where = `Statement[${index}]`;
  if (!isObject(value)) return malformed(`${where} is not an object`);
  const unsupported = UNSUPPORTED_KEYS.find((key) => key in value);
  if (unsupported !== undefined) return malformed(`${where}.${unsupported} is not supported`);
  const effect = value.Effect;
  if (effect !== 'Allow' && effect !== 'Deny') return malformed(`${where}.Effect must be "Allow" or "Deny"`);
  const actions = asStrings(value.Action);
  if (actions === undefined) return malformed(`${where}.Action must be a string or a list of strings`);
  const resources = asStrings(value.Resource);
  if (resources === undefined) return malformed(`${where}.Resource must be a string or a list of strings`);
  if (resources.some((r) => r.length > MAX_RESOURCE_LENGTH)) {
    return malformed(`${where}.Resource is longer than ${MAX_RESOURCE_LENGTH} characters`);
  }
  return { effect, actions, resources };
}

function readContext(value: unknown): { values: Record<string, ContextValue> } | MalformedPolicy {
  if (value === undefined || value === null) return { values: {} };
  if (!isObject(value)) return malformed('context is not an object');
  const values: Record<string, ContextValue> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      return malformed(
        `context.${key} is ${Array.isArray(v) ? 'an array' : `a ${typeof v}`}: only strings, numbers and booleans are allowed`,
      );
    }
    values[key] = v;
  }
  return { values };
}

/** IAM allows a single statement object in place of a list. */
function asList(value: unknown): readonly unknown[] | undefined {
  if (Array.isArray(value)) return value;
  return isObject(value) ? [value] : undefined;
}

function asStrings(value: unknown): readonly string[] | undefined {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) return undefined;
  return list.every((v): v is string => typeof v === 'string') ? list : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(reason: string): MalformedPolicy {
  return { malformed: reason };
}
