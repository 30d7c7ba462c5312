import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { HttpResult } from './http.ts';

/** Answers one request to a matched route; `params` are the pattern's named groups. */
export type RouteHandler = (event: APIGatewayProxyEventV2, params: Record<string, string>) => Promise<HttpResult>;

/** One admin API route: a method, a path pattern and its handler. */
export interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly handle: RouteHandler;
  /** What a write route does, as its audit line names it (`keys.create`, `policies.put`…); reads have none. */
  readonly action?: string;
}
