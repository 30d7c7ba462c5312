import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLog } from '../../../lambdas/core/model/log.ts';
import type { GatepassPlugin, PluginRequest } from '../../../lambdas/core/plugins/plugin.ts';
import type { SessionService } from '../../../lambdas/core/session/service.ts';

/**
 * Attack that held: the code that runs hooks (`hook-calls.ts`) is imported on demand, the first
 * time a request has a hook to run. When that import fails (a corrupt bundle chunk, a fault
 * while loading), does a hook that should run get skipped — `pre` answering "no denial" — or
 * does the request fail closed? And does a failure stick for the instance's life?
 * Observed: `pre`, `postAuth` and `post` all reject (the pipeline fails closed: 500), and the
 * next request, once the import works, runs the hook (its denial is answered).
 */
const REQUEST: PluginRequest = {
  method: 'GET',
  path: '/pets',
  headers: {},
  query: {},
  sourceIp: '198.18.0.7',
  apiId: 'api1',
  stage: 'prod',
};

const denyAll: GatepassPlugin = {
  name: 'deny-all',
  pre: () => ({ deny: { status: 403, message: 'no' } }),
  postAuth: () => ({ deny: { status: 403, message: 'no' } }),
  post: () => ({ context: { seen: 'yes' } }),
};

describe('attack10: the hook code fails to load', () => {
  afterEach(() => {
    vi.doUnmock('../../../lambdas/core/plugins/hook-calls.ts');
    vi.resetModules();
  });

  it('fails every hook closed, and runs them once the code loads', async () => {
    vi.resetModules();
    vi.doMock('../../../lambdas/core/plugins/hook-calls.ts', () => {
      throw new Error('chunk failed to load');
    });
    const { HookRunner } = await import('../../../lambdas/core/plugins/hooks.ts');
    const options = {
      plugins: [denyAll],
      sessions: {} as SessionService,
      log: silentLog,
      timeoutMs: 1000,
      request: REQUEST,
      nowMs: Date.now(),
    };
    const runner = new HookRunner(options);
    await expect(runner.pre()).rejects.toThrow();
    await expect(new HookRunner(options).postAuth()).rejects.toThrow();
    await expect(new HookRunner(options).post({}, new Set())).rejects.toThrow();
    vi.doUnmock('../../../lambdas/core/plugins/hook-calls.ts');
    const next = await new HookRunner(options).pre();
    expect(next).toMatchObject({ reason: 'plugin_denied' });
  });
});
