/** A history's authorization requests as the pipeline gets them, and their outcomes as the model reads them. */
import type { Pipeline } from '../../../lambdas/core/request/pipeline.ts';
import { HOOK_HEADER } from './hooks.ts';
import type { BatchRequest, Outcome } from './observation.ts';

type AuthRequest = Parameters<Pipeline['authorize']>[0];

/** The request of `r`, with `authorization` (a raw key or `Bearer <jwt>`) and the hook header it asks for. */
export function request(r: BatchRequest, authorization: string): AuthRequest {
  const { route } = r;
  return {
    apiId: route.apiId,
    stage: route.stage,
    method: route.method,
    path: route.path,
    headers: { authorization, ...(r.hook ? { [HOOK_HEADER]: JSON.stringify(r.hook) } : {}) },
    query: {},
    sourceIp: '127.0.0.1',
  };
}

/** A decision, or the fault it failed closed with (which API Gateway would answer 500: a deny). */
export async function authorize(pipeline: Pipeline, req: AuthRequest): Promise<Outcome> {
  try {
    const decision = await pipeline.authorize(req);
    return decision.allow ? { allow: true } : { allow: false, reason: decision.reason };
  } catch (error) {
    const e = error as { code?: string; name?: string; message?: string };
    // A throttled request names what was throttled (the simulated ceiling says which units ran out).
    const units = /simulated ceiling: [\d.]+ (read|write) units/.exec(e.message ?? '')?.[1];
    return { error: `${e.code ?? e.name ?? 'Error'}${units === undefined ? '' : ` (${units})`}` };
  }
}
