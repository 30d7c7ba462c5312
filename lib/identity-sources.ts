/**
 * Identity sources are written the REST API way (`method.request.header.X`, as
 * `apigateway.IdentitySource` builds them); HTTP APIs spell the same sources differently.
 */
const REST_TO_HTTP: readonly (readonly [prefix: string, httpPrefix: string])[] = [
  ['method.request.header.', '$request.header.'],
  ['method.request.querystring.', '$request.querystring.'],
  ['stageVariables.', '$stageVariables.'],
  ['context.', '$context.'],
];

/**
 * The HTTP API selection expression for a REST API identity source.
 *
 * @example
 * httpIdentitySource('method.request.header.X-Api-Key'); // '$request.header.X-Api-Key'
 */
export function httpIdentitySource(restSource: string): string {
  for (const [prefix, httpPrefix] of REST_TO_HTTP) {
    if (restSource.startsWith(prefix)) return httpPrefix + restSource.slice(prefix.length);
  }
  throw new Error(`gatepass: identity source "${restSource}" has no HTTP API equivalent`);
}
