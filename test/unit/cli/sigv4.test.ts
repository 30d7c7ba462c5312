import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { transportOf } from '../../../bin/commands/common.ts';
import { runCli } from '../../../bin/commands/program.ts';
import { functionUrlRegion, RequestSigner, rfc3986Query } from '../../../bin/commands/sigv4.ts';
import { HttpTransport, TransportError } from '../../../bin/commands/transport.ts';

const REGION = 'eu-west-1';
/** What the test process's standard provider chain finds: the environment (vitest.config.ts). */
const ENV_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly body: string;
  readonly verdict: string;
}

/**
 * The part of Lambda's Function URL front end that matters here: it recomputes the SigV4
 * signature of each request from what it received (method, path, query, the signed headers
 * and the body's SHA-256) with `@smithy/signature-v4` and the caller's secret, and answers
 * 403 `{"Message":"Forbidden"}` when it differs, as a Function URL does.
 */
class VerifyingServer {
  readonly seen: Seen[] = [];
  #server: Server | undefined;
  url = '';

  constructor(readonly secrets: Readonly<Record<string, string>>) {}

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        void this.verify(req, body).then((verdict) => {
          this.seen.push({ method: req.method ?? '', url: req.url ?? '', body, verdict });
          if (verdict !== 'valid') {
            res.writeHead(403, { 'content-type': 'application/json' }).end('{"Message":"Forbidden"}');
            return;
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keyId: 'k1', alias: 'signed', version: 1 }));
        });
      });
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.#server?.close(() => resolve()));
  }

  /** `valid`, or why not. */
  async verify(req: IncomingMessage, body: string): Promise<string> {
    const authorization = String(req.headers.authorization ?? '');
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
        authorization,
      );
    if (!match) return 'no SigV4 authorization header';
    const [, accessKeyId = '', , region, service, signedHeaders = '', signature] = match;
    const secretAccessKey = this.secrets[accessKeyId];
    if (secretAccessKey === undefined) return 'unknown access key';
    if (createHash('sha256').update(body).digest('hex') !== req.headers['x-amz-content-sha256']) return 'body does not match its hash';
    const amzDate = String(req.headers['x-amz-date']);
    const signingDate = new Date(
      `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
    );
    const url = new URL(req.url ?? '/', 'http://placeholder');
    const query: Record<string, string> = {};
    for (const [name, value] of url.searchParams) query[name] = value;
    const headers: Record<string, string> = {};
    for (const name of signedHeaders.split(';')) headers[name] = String(req.headers[name] ?? '');
    const signer = new SignatureV4({
      service: service ?? '',
      region: region ?? '',
      credentials: { accessKeyId, secretAccessKey },
      sha256: Sha256,
    });
    const resigned = await signer.sign(
      new HttpRequest({ method: req.method ?? 'GET', protocol: 'http:', hostname: '127.0.0.1', path: url.pathname, query, headers, body }),
      { signingDate },
    );
    const expected = /Signature=([0-9a-f]{64})$/.exec(String(resigned.headers.authorization))?.[1];
    if (service !== 'lambda' || region !== REGION) return `signed for ${service} in ${region}`;
    return expected === signature ? 'valid' : 'signature mismatch';
  }
}

/** node:crypto SHA-256 for the verifying signer (independent of the CLI's own). */
class Sha256 {
  readonly #hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
}

function bytes(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
}

const KEY_ID = 'a'.repeat(64);

describe('functionUrlRegion', () => {
  it('reads the Region of a Lambda Function URL from its host, and nothing from other URLs', () => {
    expect(functionUrlRegion('https://abcdefghij0123456789abcdefghij01.lambda-url.eu-west-1.on.aws/')).toBe('eu-west-1');
    expect(functionUrlRegion('http://127.0.0.1:3001')).toBeUndefined();
    expect(functionUrlRegion('https://api.example.com/admin')).toBeUndefined();
  });
});

describe('rfc3986Query', () => {
  it('encodes a space as %20 and reserved characters as AWS decodes them', () => {
    expect(
      rfc3986Query([
        ['alias', 'ci team (eu)*'],
        ['limit', '5'],
      ]),
    ).toBe('alias=ci%20team%20%28eu%29%2A&limit=5');
  });
});

describe('the CLI over an IAM-authenticated admin URL', () => {
  const server = new VerifyingServer({
    AKIDEXAMPLE: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    [ENV_CREDENTIALS.accessKeyId]: ENV_CREDENTIALS.secretAccessKey,
  });

  beforeAll(() => server.start());
  afterAll(() => server.stop());
  afterEach(() => {
    server.seen.length = 0;
  });

  it('signs a request with a body and a query so that the server recomputes the same signature', async () => {
    const signer = new RequestSigner({
      region: REGION,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    });
    const transport = new HttpTransport(server.url, { signer });

    const answer = await transport.send({
      method: 'PATCH',
      path: '/keys/k1',
      query: { alias: 'ci team', limit: '5' },
      headers: { 'If-Match': '3' },
      body: { alias: 'x y' },
    });

    expect(server.seen.map((s) => s.verdict)).toEqual(['valid']);
    expect(server.seen[0]).toMatchObject({ method: 'PATCH', url: '/keys/k1?alias=ci%20team&limit=5', body: '{"alias":"x y"}' });
    expect(answer).toEqual({ status: 200, body: { keyId: 'k1', alias: 'signed', version: 1 } });
  });

  it('is refused when the signature was made with another secret, and says which permissions are needed', async () => {
    const signer = new RequestSigner({ region: REGION, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-the-secret' } });

    const error = await new HttpTransport(server.url, { signer }).send({ method: 'GET', path: '/keys/k1' }).catch((e: unknown) => e);

    expect(server.seen.map((s) => s.verdict)).toEqual(['signature mismatch']);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as Error).message).toMatch(/lambda:InvokeFunctionUrl and lambda:InvokeFunction/);
  });

  it('sends nothing signed to the local admin port', async () => {
    const transport = transportOf({ out: () => undefined, err: () => undefined, env: {} }, { adminUrl: server.url });

    await transport.send({ method: 'GET', path: '/keys/k1' }).catch(() => undefined);

    expect(server.seen.map((s) => s.verdict)).toEqual(['no SigV4 authorization header']);
  });

  it('`keys get --admin-url URL --region R` signs with credentials from the standard provider chain', async () => {
    const out: string[] = [];
    const err: string[] = [];

    const code = await runCli(['node', 'gatepass', 'keys', 'get', KEY_ID, '--admin-url', server.url, '--region', REGION, '--json'], {
      out: (text) => out.push(text),
      err: (text) => err.push(text),
      env: process.env,
    });

    expect(err.join('')).toBe('');
    expect(code).toBe(0);
    expect(server.seen.map((s) => s.verdict)).toEqual(['valid']);
    expect(JSON.parse(out.join(''))).toMatchObject({ keyId: 'k1', alias: 'signed' });
  });
});
