import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthorizerHandler } from '../../../lambdas/authorizer/handler.ts';
import { ConfigSchema } from '../../../lambdas/core/model/config.ts';
import { createDocumentClient } from '../../../lambdas/core/store/dynamo-client.ts';
import { LAMBDA_CONTEXT, restRequestEvent } from '../../support/authorizer-events.ts';

/**
 * Attack that held: the authorizer imports the plugin loader only when its config names
 * plugins, and the hook code on the first request with a hook to run. Through the handler, as
 * Lambda runs it (a config string, plugins loaded from the layer directory): does a named
 * plugin's `pre` hook run on the very first request (it denies, before any DynamoDB read), and
 * does a plugin that throws while loading, or is missing, fail every request closed rather than
 * being skipped? Observed: the denial on requests 1 and 2 (nothing read), and
 * "Authorizer misconfigured" for every request of a broken or missing plugin, never an Allow.
 */
const KEY = 'gp_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh2';

describe('attack10: plugins named by the config, loaded on demand', () => {
  const logger = new Logger({ serviceName: 'attack10', logLevel: 'SILENT' });
  const dir = mkdtempSync(path.join(tmpdir(), 'attack10-plugins-'));
  let reads = 0;
  let endpoint: string;
  const server = createServer((socket) => {
    reads += 1;
    socket.destroy();
  });

  beforeAll(async () => {
    writeFileSync(
      path.join(dir, 'deny-pre.mjs'),
      "export default { name: 'deny-pre', pre: () => ({ deny: { status: 403, message: 'blocked by plugin' } }) };\n",
    );
    writeFileSync(path.join(dir, 'broken.mjs'), "throw new Error('broken at load');\nexport default { name: 'broken' };\n");
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const handlerWith = (plugins: string[]) =>
    createAuthorizerHandler({
      config: JSON.stringify(ConfigSchema.parse({ plugins })),
      client: createDocumentClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }),
      logger,
      pluginDir: dir,
      metrics: false,
    });

  /** The answer, as text: a policy's effect, or the error a rejected invocation gives API Gateway. */
  const outcome = (handler: ReturnType<typeof handlerWith>) =>
    handler(restRequestEvent({ authorization: KEY }), LAMBDA_CONTEXT).then(
      (result) => JSON.stringify(result).match(/"Effect":"(\w+)"/)?.[1] ?? JSON.stringify(result),
      (error: Error) => `error: ${error.message}`,
    );

  it("runs a named plugin's pre hook on the first request, and the next", async () => {
    const handler = handlerWith(['deny-pre']);
    const answers = [await outcome(handler), await outcome(handler)];
    // Denied by the hook before any DynamoDB read (this DynamoDB refuses every connection).
    expect(answers).toEqual(['Deny', 'Deny']);
    expect(reads).toBe(0);
    // Control: without the plugin the request reads DynamoDB, which fails it closed.
    expect(await outcome(handlerWith([]))).toBe('error: Authorizer failure');
    expect(reads).toBeGreaterThan(0);
  });

  it('fails every request closed when a named plugin throws while loading, or is missing', async () => {
    for (const plugins of [['broken'], ['deny-pre', 'missing'], ['missing', 'deny-pre']]) {
      const handler = handlerWith(plugins);
      const answers = [await outcome(handler), await outcome(handler)];
      expect(answers, JSON.stringify(plugins)).toEqual(['error: Authorizer misconfigured', 'error: Authorizer misconfigured']);
    }
  });
});
