import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { NotFoundError } from '../core/model/errors.ts';
import { fieldProblems, InvalidInputError, type FieldProblem } from './key-service.ts';
import { isPolicyId, parsePolicyInput, type PolicyFields } from '../core/policies/policy.ts';
import type { PolicyStore } from '../core/policies/policy-store.ts';
import { TYK_POLICY_CONTENT_TYPE, tykFieldName, tykPolicyToInput } from './tyk.ts';
import { header, HttpError, ifMatchVersion, json, noContent, readBody } from './http.ts';
import type { Route } from './routes.ts';

const JSON_TYPE = 'application/json';

/**
 * Any path segment: the id is validated by the handler, so that a bad id on PUT is a 400
 * naming the field `id` (and on GET or DELETE a 404, as no such policy can exist).
 */
const POLICY = /^\/policies\/(?<id>[^/]+)$/;
const NO_POLICY_MESSAGE = 'no policy with this id';

/**
 * The admin API's policy routes:
 * - `PUT /policies/{id}`: create or replace; 200 with the policy either way (`version` 1
 *   means it was created). `If-Match: <version>` replaces only that version (409
 *   otherwise, 404 if absent); `If-None-Match: *` creates only (409 if it exists);
 *   neither: against the policy as read now (409 if a concurrent write came first).
 *   A Tyk policy object is accepted with `content-type: application/vnd.tyk.policy+json`
 *   (see `tyk.ts`); the answer then adds `ignoredFields`.
 * - `GET /policies/{id}`: 200 with the policy, 404.
 * - `DELETE /policies/{id}`: 204, 404; `If-Match` optional (409).
 * A write whose DynamoDB answer was lost and re-sent by the SDK answers as the write that
 * landed (200, 204), never 409 or 404 against itself (see `PolicyStore.put` and `delete`).
 * - `GET /policies`: 200 `{items}`, every policy sorted by id.
 * Errors map as the keys' do (`toHttpError` in `routes.ts`): bad fields → 400
 * `invalid_fields` naming each, conflicts → 409, missing → 404.
 *
 * @example
 * const table = [...routes(keys, usage), ...policyRoutes(policyStore)];
 */
export function policyRoutes(store: PolicyStore): Route[] {
  return [
    {
      method: 'GET',
      pattern: /^\/policies$/,
      handle: async () => json(200, { items: await store.list() }),
    },
    {
      method: 'PUT',
      pattern: POLICY,
      action: 'policies.put',
      handle: async (event, { id }) => {
        const { body, type } = readBody(event, [JSON_TYPE, TYK_POLICY_CONTENT_TYPE]);
        const expectedVersion = preconditionOf(event);
        const { fields, ignored } = policyInput(id!, body, type === TYK_POLICY_CONTENT_TYPE);
        const policy = await store.put(id!, fields, expectedVersion);
        return json(200, ignored === undefined ? policy : { ...policy, ignoredFields: ignored });
      },
    },
    {
      method: 'GET',
      pattern: POLICY,
      handle: async (_event, { id }) => {
        const policy = isPolicyId(id!) ? await store.get(id!) : undefined;
        if (policy === undefined) throw new NotFoundError(NO_POLICY_MESSAGE);
        return json(200, policy);
      },
    },
    {
      method: 'DELETE',
      pattern: POLICY,
      action: 'policies.delete',
      handle: async (event, { id }) => {
        const expectedVersion = ifMatchVersion(event);
        if (!isPolicyId(id!) || !(await store.delete(id!, expectedVersion))) throw new NotFoundError(NO_POLICY_MESSAGE);
        return noContent();
      },
    },
  ];
}

/**
 * A validated policy body (a Tyk policy object mapped first), or {@link InvalidInputError}
 * naming every bad field — the id, schema problems, over-long windows — by the names the
 * caller used.
 */
function policyInput(id: string, body: unknown, tyk: boolean): { fields: PolicyFields; ignored?: string[] } {
  const problems: FieldProblem[] = isPolicyId(id) ? [] : [{ field: 'id', message: 'must be 1 to 128 letters, digits, _, . or -' }];
  let input = body;
  let ignored: string[] | undefined;
  if (tyk) {
    const mapped = tykPolicyToInput(body);
    if (!mapped.ok) throw new InvalidInputError([...problems, ...mapped.problems]);
    input = mapped.input;
    ignored = mapped.ignored;
  }
  const parsed = parsePolicyInput(input);
  const invalid = parsed.success ? [] : fieldProblems(parsed.error);
  for (const problem of invalid) {
    const field = tyk ? tykFieldName(problem.field) : problem.field;
    if (!problems.some((p) => p.field === field)) problems.push({ ...problem, field });
  }
  if (problems.length > 0 || !parsed.success) throw new InvalidInputError(problems);
  return ignored === undefined ? { fields: parsed.data } : { fields: parsed.data, ignored };
}

/** `If-Match: n` → n; `If-None-Match: *` → 0 (create only); neither → undefined; both or a bad value → 400. */
function preconditionOf(event: APIGatewayProxyEventV2): number | undefined {
  const ifMatch = ifMatchVersion(event);
  const ifNoneMatch = header(event, 'if-none-match');
  if (ifNoneMatch === undefined) return ifMatch;
  if (ifNoneMatch.trim() !== '*') {
    throw new HttpError(400, 'invalid_if_none_match', 'If-None-Match must be *', [{ field: 'If-None-Match', message: 'must be *' }]);
  }
  if (ifMatch !== undefined) {
    throw new HttpError(400, 'invalid_precondition', 'If-Match and If-None-Match cannot be combined', [
      { field: 'If-None-Match', message: 'cannot be combined with If-Match' },
    ]);
  }
  return 0;
}
