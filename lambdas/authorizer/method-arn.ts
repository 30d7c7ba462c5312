/**
 * The parts of an execute-api ARN,
 * `arn:<partition>:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path>`, as API
 * Gateway puts it in `methodArn` (REST) and `routeArn` (HTTP API).
 */
export interface MethodArn {
  /** `arn:<partition>:execute-api:<region>:<account>`. */
  readonly prefix: string;
  readonly apiId: string;
  readonly stage: string;
  readonly method: string;
  /** Everything after `<stage>/<METHOD>`, with a leading `/`: `/` for the root. */
  readonly path: string;
}

/** The event's ARN is not an execute-api ARN: the request fails closed. */
export class MalformedArnError extends Error {
  override readonly name = 'MalformedArnError';
}

/**
 * Splits an execute-api ARN. Only the first five `:` separate ARN fields: the path is
 * taken whole, so `GET /users/me:/admin/keys` is the path `/users/me:/admin/keys`, never
 * `/users/me`.
 *
 * @example
 * parseMethodArn('arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets/1').path; // '/pets/1'
 */
export function parseMethodArn(arn: string): MethodArn {
  const fields = arn.split(':');
  if (fields.length < 6 || fields[0] !== 'arn' || fields[2] !== 'execute-api') {
    throw new MalformedArnError('the event carries no execute-api ARN');
  }
  const resource = fields.slice(5).join(':');
  const [apiId, stage, method, ...path] = resource.split('/');
  if (!apiId || !stage || !method) throw new MalformedArnError('the execute-api ARN names no API, stage and method');
  return { prefix: fields.slice(0, 5).join(':'), apiId, stage, method, path: `/${path.join('/')}` };
}

/**
 * The ARN of every route of the ARN's API and stage, `<prefix>:<apiId>/<stage>/*`: at most
 * about 200 characters (a stage name is at most 128), so always within the 512 characters
 * API Gateway allows in a policy's Resource, whatever the request's path.
 *
 * @example
 * stageWildcard('arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets/1'); // '…:abc/prod/*'
 */
export function stageWildcard(arn: string): string {
  const { prefix, apiId, stage } = parseMethodArn(arn);
  return `${prefix}:${apiId}/${stage}/*`;
}
