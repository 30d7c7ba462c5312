import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { KeyService } from './key-service.ts';
import { TYK_SESSION_CONTENT_TYPE } from './tyk.ts';
import { ifMatchVersion, json, noContent, readBody, readJsonBody } from './http.ts';
import { ExplainQuerySchema, ListQuerySchema, parseQuery } from './queries.ts';
import type { Route } from './route.ts';

const KEY_ID = '(?<keyId>[0-9a-f]{64})';
const KEY = new RegExp(`^/keys/${KEY_ID}$`);
const JSON_TYPE = 'application/json';

/**
 * The admin API's key routes (README, "Keys and sessions"). Each turns a request into one `KeyService` call:
 * - `POST /keys` → 201 `{key, keyId, session}`; a Tyk session object with
 *   `content-type: application/vnd.tyk.session+json` (adds `ignoredFields`);
 * - `GET /keys?alias=&limit=&cursor=` → 200 `{items, cursor}` (`cursor` null on the last page);
 * - `GET|PATCH|PUT|DELETE /keys/{keyId}`, `POST /keys/{keyId}/reset-quota`, `POST /keys/{keyId}/rotate`
 *   (body `{graceSeconds}` → 201 `{key, keyId, session}`),
 *   `GET /keys/{keyId}/explain?apiId=&stage=&method=&path=&at=`.
 * Writes take an optional `If-Match: <version>` (409 `version_conflict` with `currentVersion`).
 */
export function keyRoutes(keys: KeyService): Route[] {
  return [
    {
      method: 'POST',
      pattern: /^\/keys$/,
      action: 'keys.create',
      handle: async (event) => {
        const { body, type } = readBody(event, [JSON_TYPE, TYK_SESSION_CONTENT_TYPE]);
        return json(201, type === JSON_TYPE ? await keys.create(body) : await keys.createFromTyk(body));
      },
    },
    {
      method: 'GET',
      pattern: /^\/keys$/,
      handle: async (event) => {
        const { alias, limit, cursor } = parseQuery(event, ListQuerySchema);
        return json(
          200,
          await keys.list({ limit, ...(alias === undefined ? {} : { alias }), ...(cursor === undefined ? {} : { cursor }) }),
        );
      },
    },
    {
      method: 'GET',
      pattern: KEY,
      handle: async (_event, { keyId }) => json(200, await keys.get(keyId!)),
    },
    {
      method: 'PATCH',
      pattern: KEY,
      action: 'keys.update',
      handle: async (event, { keyId }) => {
        const body = readJsonBody(event);
        return json(200, await keys.update(keyId!, body, ifMatchVersion(event)));
      },
    },
    {
      method: 'PUT',
      pattern: KEY,
      action: 'keys.replace',
      handle: async (event, { keyId }) => {
        const body = readJsonBody(event);
        return json(200, await keys.replace(keyId!, body, ifMatchVersion(event)));
      },
    },
    {
      method: 'DELETE',
      pattern: KEY,
      action: 'keys.delete',
      handle: async (event, { keyId }) => {
        await keys.delete(keyId!, ifMatchVersion(event));
        return noContent();
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/keys/${KEY_ID}/reset-quota$`),
      action: 'keys.reset-quota',
      handle: async (event, { keyId }) => json(200, await keys.resetQuota(keyId!, ifMatchVersion(event))),
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/keys/${KEY_ID}/rotate$`),
      action: 'keys.rotate',
      handle: async (event, { keyId }) => json(201, await keys.rotate(keyId!, readJsonBody(event), ifMatchVersion(event))),
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/keys/${KEY_ID}/explain$`),
      handle: async (event: APIGatewayProxyEventV2, { keyId }) => {
        const { at, ...target } = parseQuery(event, ExplainQuerySchema);
        return json(200, await keys.explain(keyId!, target, at));
      },
    },
  ];
}
