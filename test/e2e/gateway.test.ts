import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { denialFields, GATEWAY_RESPONSES } from '../../lambdas/core/model/gateway-responses.ts';
import type { EchoBody } from '../../local/echo.ts';
import { startGateway } from '../../local/gateway.ts';
import type { RunningGateway } from '../../local/gateway.ts';

type Authorizer = (event: APIGatewayRequestAuthorizerEvent) => Promise<unknown>;

function policy(effect: 'Allow' | 'Deny', resource: string, context?: Record<string, unknown>): Record<string, unknown> {
  return {
    principalId: 'key-1',
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
    ...(context === undefined ? {} : { context }),
  };
}

const allow: Authorizer = async (event) =>
  policy('Allow', event.methodArn, { keyId: 'k1', quotaRemaining: 9, meta_tier: 'gold', trial: false });

/** Starts a gateway whose authorizer can be swapped per test; collects its log entries. */
async function gatewayWith(options: { upstream?: string; integrationTimeoutMs?: number } = {}) {
  const state = { authorizer: allow, events: [] as APIGatewayRequestAuthorizerEvent[], logs: [] as Record<string, unknown>[] };
  const gateway = await startGateway({
    authorizer: (event) => {
      state.events.push(event);
      return state.authorizer(event);
    },
    apiId: 'api1',
    stage: 'dev',
    port: 0,
    authorizerTimeoutMs: 300,
    maxBodyBytes: 1024,
    log: (entry) => state.logs.push(entry as Record<string, unknown>),
    ...options,
  });
  return { gateway, state };
}

/** Sends raw bytes and returns the status line: for requests fetch() refuses to build. */
function rawRequest(port: number, head: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(head));
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString('latin1')));
    socket.on('end', () => resolve(data.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

describe('local gateway with the echo backend', () => {
  let gateway: RunningGateway;
  let state: Awaited<ReturnType<typeof gatewayWith>>['state'];

  beforeAll(async () => ({ gateway, state } = await gatewayWith()));
  afterAll(() => gateway.close());
  afterEach(() => {
    state.authorizer = allow;
    state.events.length = 0;
    state.logs.length = 0;
  });

  it('passes an allowed request to the echo backend with the stringified authorizer context', async () => {
    const res = await fetch(`${gateway.url}/pets/42?tag=a&tag=b`, {
      method: 'POST',
      headers: { authorization: 'Bearer key', 'content-type': 'text/plain', 'x-gatepass-authorizer': 'forged' },
      body: 'hello',
    });

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    const echo = (await res.json()) as EchoBody;
    expect(echo).toMatchObject({
      method: 'POST',
      path: '/pets/42',
      query: { tag: 'b' },
      body: 'hello',
      headers: { authorization: 'Bearer key', 'X-Forwarded-For': '127.0.0.1', 'X-Forwarded-Proto': 'http' },
      authorizer: { principalId: 'key-1', keyId: 'k1', quotaRemaining: '9', meta_tier: 'gold', trial: 'false' },
    });
    expect(echo.headers).not.toHaveProperty('x-gatepass-authorizer');
    expect(state.events[0]?.headers).toHaveProperty('x-gatepass-authorizer', 'forged');
  });

  it('builds the authorizer event with the stage in the method ARN and the context path', async () => {
    await fetch(`${gateway.url}/pets?tag=a&tag=b`, { headers: { 'x-api-key': 'k' } });

    const [event] = state.events;
    expect(event).toMatchObject({
      type: 'REQUEST',
      methodArn: 'arn:aws:execute-api:local:000000000000:api1/dev/GET/pets',
      path: '/pets',
      resource: '/{proxy+}',
      httpMethod: 'GET',
      queryStringParameters: { tag: 'b' },
      multiValueQueryStringParameters: { tag: ['a', 'b'] },
      headers: { 'x-api-key': 'k' },
      requestContext: { path: '/dev/pets', stage: 'dev', apiId: 'api1', identity: { sourceIp: '127.0.0.1' } },
    });
    expect(event?.requestContext.requestId).toBeTypeOf('string');
  });

  it("answers 403 with gatepass's denial fields and API Gateway's message in the ACCESS_DENIED template", async () => {
    state.authorizer = async (event) =>
      policy('Deny', event.methodArn, {
        reason: 'session_expired',
        message: 'Key has expired, please renew',
        gatepassDenial: denialFields('session_expired', 'Key has expired, please renew'),
      });

    const res = await fetch(`${gateway.url}/pets`);

    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
    expect(await res.json()).toEqual({
      error: 'Key has expired, please renew',
      reason: 'session_expired',
      message: 'User is not authorized to access this resource with an explicit deny',
    });
  });

  it('keeps quotes and backslashes of a denial message as JSON (the fields are built with JSON.stringify)', async () => {
    const message = 'no "quotes" \\ here\n';
    state.authorizer = async (event) => policy('Deny', event.methodArn, { gatepassDenial: denialFields('plugin_denied', message) });

    const res = await fetch(`${gateway.url}/pets`);

    expect(await res.json()).toMatchObject({ error: message, reason: 'plugin_denied' });
  });

  it("answers a Deny that is not gatepass's with API Gateway's own body, no empty gatepass fields", async () => {
    state.authorizer = async (event) => policy('Deny', event.methodArn);

    const res = await fetch(`${gateway.url}/pets`);

    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ message: 'User is not authorized to access this resource with an explicit deny' });
  });

  it('answers 500 when the policy names a Resource longer than the 512 characters API Gateway allows', async () => {
    state.authorizer = async (event) => policy('Allow', event.methodArn);

    const short = await fetch(`${gateway.url}/files/${'a'.repeat(100)}`);
    const long = await fetch(`${gateway.url}/files/${'a'.repeat(600)}`);

    expect(short.status).toBe(200);
    expect(long.status).toBe(500);
    expect(JSON.stringify(state.logs)).toContain('longer than 512');
  });

  it('answers 403 when the policy allows only another method', async () => {
    state.authorizer = async (event) => policy('Allow', event.methodArn.replace('/GET/', '/POST/'));

    const res = await fetch(`${gateway.url}/pets`);

    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ message: 'User is not authorized to access this resource' });
  });

  it('answers 401 with the UNAUTHORIZED body when the authorizer throws Unauthorized', async () => {
    state.authorizer = async () => {
      throw new Error('Unauthorized');
    };

    const res = await fetch(`${gateway.url}/pets`);

    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await res.text()).toBe(GATEWAY_RESPONSES.UNAUTHORIZED.template);
  });

  it('answers 500 without the stack when the authorizer throws anything else, and logs it', async () => {
    state.authorizer = async () => {
      throw new Error('DynamoDB unreachable');
    };

    const res = await fetch(`${gateway.url}/pets`);

    expect(res.status).toBe(500);
    expect(res.headers.get('x-amzn-errortype')).toBe('AuthorizerConfigurationException');
    const body = await res.text();
    expect(body).toBe(GATEWAY_RESPONSES.AUTHORIZER_FAILURE.template);
    expect(body).not.toContain('DynamoDB');
    expect(JSON.stringify(state.logs)).toContain('DynamoDB unreachable');
  });

  it('answers 500 when the authorizer runs past its timeout', async () => {
    state.authorizer = () => new Promise(() => {});

    const res = await fetch(`${gateway.url}/pets`);

    expect(res.status).toBe(500);
    expect(await res.text()).toBe(GATEWAY_RESPONSES.AUTHORIZER_FAILURE.template);
    expect(JSON.stringify(state.logs)).toContain('timed out');
  });

  it('answers 500 when the authorizer returns a context API Gateway rejects', async () => {
    state.authorizer = async (event) => policy('Allow', event.methodArn, { user: { id: 1 } });

    const res = await fetch(`${gateway.url}/pets`);

    expect(res.status).toBe(500);
    expect(JSON.stringify(state.logs)).toContain('context.user');
  });

  it('answers 500 when the authorizer returns nothing', async () => {
    state.authorizer = async () => undefined;

    expect((await fetch(`${gateway.url}/pets`)).status).toBe(500);
  });

  it('answers 413 for a body over the limit, declared or streamed', async () => {
    const declared = await fetch(`${gateway.url}/upload`, { method: 'POST', body: 'x'.repeat(1025) });
    const streamed = await fetch(`${gateway.url}/upload`, {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 3; i += 1) controller.enqueue(new TextEncoder().encode('y'.repeat(600)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);

    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({ message: 'HTTP content length exceeded 1024 bytes' });
    expect(streamed.status).toBe(413);
    expect(state.events).toHaveLength(0);
  });

  it('survives a 12 KiB junk header and a non-ASCII header value', async () => {
    const junk = await fetch(`${gateway.url}/pets`, { headers: { 'x-junk': 'j'.repeat(12 * 1024) } });
    const utf8 = await rawRequest(
      gateway.port,
      Buffer.concat([
        Buffer.from('GET /pets HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Name: '),
        Buffer.from('Zoë — 日本', 'utf8'),
        Buffer.from('\r\n\r\n'),
      ]),
    );
    const after = await fetch(`${gateway.url}/pets`);

    expect(junk.status).toBe(200);
    expect(utf8).toBe('HTTP/1.1 200 OK');
    // The name keeps the client's spelling; the value arrives as Node decodes it (latin1).
    expect(state.events[1]?.headers?.['X-Name']).toBe(Buffer.from('Zoë — 日本', 'utf8').toString('latin1'));
    expect(after.status).toBe(200);
  });
});

describe('local gateway with a real upstream', () => {
  let upstream: Server;
  let upstreamUrl: string;
  const seen: { method?: string; url?: string; headers?: IncomingHttpHeaders; body?: string }[] = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        if (req.url?.startsWith('/base/slow')) return; // never answers
        res.writeHead(201, { 'content-type': 'text/plain', 'x-upstream': 'yes' }).end(`got ${body}`);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/base`;
  });
  afterAll(async () => {
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it('proxies method, path, query, headers and body, and returns the upstream answer', async () => {
    const { gateway } = await gatewayWith({ upstream: upstreamUrl });
    try {
      const res = await fetch(`${gateway.url}/orders/7?x=1&x=2`, {
        method: 'PUT',
        headers: { 'x-custom': 'c', 'x-gatepass-authorizer': '{"principalId":"forged"}', 'proxy-authorization': 'secret' },
        body: 'payload',
      });

      expect(res.status).toBe(201);
      expect(res.headers.get('x-upstream')).toBe('yes');
      expect(res.headers.get('x-amzn-requestid')).toBeTruthy();
      expect(await res.text()).toBe('got payload');
      const request = seen.at(-1);
      expect(request).toMatchObject({ method: 'PUT', url: '/base/orders/7?x=1&x=2', body: 'payload' });
      expect(request?.headers).toMatchObject({ 'x-custom': 'c', 'x-amzn-apigateway-api-id': 'api1', 'x-forwarded-for': '127.0.0.1' });
      expect(request?.headers).not.toHaveProperty('proxy-authorization');
      expect(JSON.parse(request?.headers?.['x-gatepass-authorizer'] as string)).toEqual({
        principalId: 'key-1',
        keyId: 'k1',
        quotaRemaining: '9',
        meta_tier: 'gold',
        trial: 'false',
      });
    } finally {
      await gateway.close();
    }
  });

  it('escapes non-ASCII context values in the authorizer header', async () => {
    const { gateway, state } = await gatewayWith({ upstream: upstreamUrl });
    state.authorizer = async (event) => policy('Allow', event.methodArn, { alias: 'Zoë 日本' });
    try {
      await fetch(`${gateway.url}/x`);

      const header = seen.at(-1)?.headers?.['x-gatepass-authorizer'] as string;
      expect(header).toMatch(/^[\x20-\x7e]+$/);
      expect(header).toContain('\\u00eb');
      expect(JSON.parse(header)).toMatchObject({ alias: 'Zoë 日本' });
    } finally {
      await gateway.close();
    }
  });

  it('answers 504 when the upstream is unreachable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { gateway, state } = await gatewayWith({ upstream: `http://127.0.0.1:${port}` });
    try {
      const res = await fetch(`${gateway.url}/pets`);

      expect(res.status).toBe(504);
      expect(await res.json()).toEqual({ message: 'Network error communicating with endpoint' });
      expect(JSON.stringify(state.logs)).toContain('integration failure');
    } finally {
      await gateway.close();
    }
  });

  it('answers 504 when the upstream does not answer within the integration timeout', async () => {
    const { gateway } = await gatewayWith({ upstream: upstreamUrl, integrationTimeoutMs: 300 });
    try {
      const res = await fetch(`${gateway.url}/slow`);

      expect(res.status).toBe(504);
      expect(await res.json()).toEqual({ message: 'Endpoint request timed out' });
    } finally {
      await gateway.close();
    }
  });
});
