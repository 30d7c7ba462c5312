import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { adminEvent, LambdaTransport, TransportError } from '../../../bin/commands/transport.ts';

const lambda = mockClient(LambdaClient);

const payload = (value: unknown) => Buffer.from(JSON.stringify(value)) as unknown as Uint8Array;

describe('adminEvent', () => {
  it('builds the payload 2.0 event a Function URL would send', () => {
    const event = adminEvent(
      {
        method: 'PATCH',
        path: '/keys/abc',
        query: { limit: '5', cursor: undefined, alias: 'a b' },
        headers: { 'If-Match': '3' },
        body: { alias: 'x' },
      },
      new Date(1_700_000_000_000),
    );

    expect(event).toMatchObject({
      version: '2.0',
      rawPath: '/keys/abc',
      rawQueryString: 'limit=5&alias=a+b',
      queryStringParameters: { limit: '5', alias: 'a b' },
      headers: { 'if-match': '3', 'content-type': 'application/json' },
      body: '{"alias":"x"}',
      isBase64Encoded: false,
      requestContext: { http: { method: 'PATCH', path: '/keys/abc' }, timeEpoch: 1_700_000_000_000 },
    });
  });

  it('leaves out the body, its content type and the query when there are none', () => {
    const event = adminEvent({ method: 'GET', path: '/health' });

    expect(event).not.toHaveProperty('body');
    expect(event).not.toHaveProperty('queryStringParameters');
    expect(event.headers).not.toHaveProperty('content-type');
  });
});

describe('LambdaTransport', () => {
  afterEach(() => {
    lambda.reset();
  });

  it('invokes the function with the event and reads its HTTP result', async () => {
    lambda
      .on(InvokeCommand)
      .resolves({ StatusCode: 200, Payload: payload({ statusCode: 201, headers: {}, body: '{"keyId":"k"}' }) as never });

    const response = await new LambdaTransport('gatepass-admin', new LambdaClient({ region: 'us-east-1' })).send({
      method: 'POST',
      path: '/keys',
      body: { alias: 'x' },
    });

    expect(response).toEqual({ status: 201, body: { keyId: 'k' } });
    const input = lambda.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(input.FunctionName).toBe('gatepass-admin');
    expect(JSON.parse(Buffer.from(input.Payload as Uint8Array).toString('utf8'))).toMatchObject({
      rawPath: '/keys',
      body: '{"alias":"x"}',
    });
  });

  it('decodes a base64 body and an empty 204', async () => {
    lambda
      .on(InvokeCommand)
      .resolvesOnce({
        Payload: payload({ statusCode: 200, body: Buffer.from('{"a":1}').toString('base64'), isBase64Encoded: true }) as never,
      })
      .resolvesOnce({ Payload: payload({ statusCode: 204, body: '' }) as never });
    const transport = new LambdaTransport('f', new LambdaClient({ region: 'us-east-1' }));

    expect(await transport.send({ method: 'GET', path: '/x' })).toEqual({ status: 200, body: { a: 1 } });
    expect(await transport.send({ method: 'DELETE', path: '/x' })).toEqual({ status: 204, body: undefined });
  });

  it('fails with a TransportError when the function fails, answers something else, or cannot be invoked', async () => {
    lambda
      .on(InvokeCommand)
      .resolvesOnce({ FunctionError: 'Unhandled', Payload: payload({ errorMessage: 'boom' }) as never })
      .resolvesOnce({ Payload: payload({ hello: 'world' }) as never })
      .rejectsOnce(new Error('AccessDeniedException: not allowed'));
    const transport = new LambdaTransport('f', new LambdaClient({ region: 'us-east-1' }));

    await expect(transport.send({ method: 'GET', path: '/x' })).rejects.toThrow(new TransportError('function f failed: boom'));
    await expect(transport.send({ method: 'GET', path: '/x' })).rejects.toThrow(/did not answer like the gatepass admin API/);
    await expect(transport.send({ method: 'GET', path: '/x' })).rejects.toThrow(/cannot invoke function f: AccessDeniedException/);
  });
});
