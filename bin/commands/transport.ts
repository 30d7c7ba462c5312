import { randomUUID } from 'node:crypto';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { rfc3986Query, type RequestSigner } from './sigv4.ts';

/** One admin API request, whatever carries it. */
export interface AdminRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** @default 'application/json' */
  readonly contentType?: string;
}

export interface AdminResponse {
  readonly status: number;
  /** The parsed JSON body; `undefined` for an empty one (204). */
  readonly body: unknown;
}

/**
 * How the CLI reaches the admin API: over HTTP (`--admin-url`, the local admin port or a
 * Function URL) or by invoking the admin Lambda (`--function`). Commands see only this.
 */
export interface AdminTransport {
  /** Where requests go, for messages. */
  readonly target: string;
  send(request: AdminRequest): Promise<AdminResponse>;
}

/** The admin API could not be reached, or answered something that is not the admin API. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
}

/** Options of {@link HttpTransport}. */
export interface HttpTransportOptions {
  /**
   * Signs every request (SigV4) for an `AWS_IAM` Function URL.
   *
   * @default - unsigned (the local admin port)
   */
  readonly signer?: RequestSigner;
}

/** The admin API over HTTP: the local admin port, or the deployed Function URL with signed requests. */
export class HttpTransport implements AdminTransport {
  readonly target: string;
  readonly #base: string;
  readonly #signer: RequestSigner | undefined;

  constructor(baseUrl: string, options: HttpTransportOptions = {}) {
    this.#base = baseUrl.replace(/\/+$/, '');
    this.target = this.#base;
    this.#signer = options.signer;
  }

  async send(request: AdminRequest): Promise<AdminResponse> {
    const url = new URL(this.#base + request.path);
    const query = Object.entries(request.query ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined);
    url.search = rfc3986Query(query);
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    let headers: Record<string, string> = { ...request.headers };
    if (body !== undefined) headers['content-type'] = request.contentType ?? 'application/json';
    if (this.#signer) {
      try {
        // fetch sends the Host it signs for (the URL's); it may not be set by hand.
        const { host: _host, ...signed } = await this.#signer.sign({
          method: request.method,
          url,
          headers,
          ...(body === undefined ? {} : { body }),
        });
        headers = signed;
      } catch (error) {
        throw new TransportError(`cannot sign the request to ${this.target}: ${(error as Error).message}`);
      }
    }
    let res: Response;
    try {
      res = await fetch(url, { method: request.method, headers, ...(body === undefined ? {} : { body }) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new TransportError(
        `cannot reach the admin API at ${this.target}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
      );
    }
    const parsed = parseBody(await res.text(), this.target);
    if (res.status === 403 && this.#signer && (parsed as { error?: unknown } | undefined)?.error === undefined) {
      // Lambda's own refusal, not the admin API's: the signature or the caller's permissions.
      const message =
        (parsed as { Message?: string; message?: string } | undefined)?.Message ??
        (parsed as { message?: string } | undefined)?.message ??
        'Forbidden';
      throw new TransportError(
        `${this.target} refused the signed request (403 ${message}): the credentials need lambda:InvokeFunctionUrl and lambda:InvokeFunction on the admin function, in the URL's Region`,
      );
    }
    return { status: res.status, body: parsed };
  }
}

/** The admin Lambda, invoked with the AWS SDK (region and credentials from the usual AWS environment). */
export class LambdaTransport implements AdminTransport {
  readonly target: string;
  readonly #functionName: string;
  readonly #client: () => Promise<LambdaClient>;

  /** @param client - @default a LambdaClient for the environment, created on first use */
  constructor(functionName: string, client?: LambdaClient) {
    this.#functionName = functionName;
    this.target = `function ${functionName}`;
    let created: Promise<LambdaClient> | undefined;
    this.#client = () =>
      client !== undefined
        ? Promise.resolve(client)
        : (created ??= import('@aws-sdk/client-lambda').then(({ LambdaClient: Client }) => new Client({})));
  }

  async send(request: AdminRequest): Promise<AdminResponse> {
    const { InvokeCommand } = await import('@aws-sdk/client-lambda');
    const client = await this.#client();
    let out;
    try {
      out = await client.send(
        new InvokeCommand({ FunctionName: this.#functionName, Payload: Buffer.from(JSON.stringify(adminEvent(request)), 'utf8') }),
      );
    } catch (error) {
      throw new TransportError(`cannot invoke ${this.target}: ${(error as Error).message}`);
    }
    const payload = out.Payload === undefined ? '' : Buffer.from(out.Payload).toString('utf8');
    if (out.FunctionError) {
      const message = (parseBody(payload, this.target) as { errorMessage?: string } | undefined)?.errorMessage ?? out.FunctionError;
      throw new TransportError(`${this.target} failed: ${message}`);
    }
    const result = parseBody(payload, this.target) as { statusCode?: unknown; body?: unknown; isBase64Encoded?: boolean } | undefined;
    if (typeof result?.statusCode !== 'number') throw new TransportError(`${this.target} did not answer like the gatepass admin API`);
    const body =
      typeof result.body === 'string' ? (result.isBase64Encoded ? Buffer.from(result.body, 'base64').toString('utf8') : result.body) : '';
    return { status: result.statusCode, body: parseBody(body, this.target) };
  }
}

/**
 * An HTTP API payload 2.0 event for a request, as a Lambda Function URL builds it (header
 * names lower-case, the query both raw and parsed).
 */
export function adminEvent(request: AdminRequest, now = new Date()): APIGatewayProxyEventV2 {
  const query = Object.fromEntries(Object.entries(request.query ?? {}).filter((e): e is [string, string] => e[1] !== undefined));
  const headers: Record<string, string> = { 'user-agent': 'gatepass-cli' };
  for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
  if (request.body !== undefined) headers['content-type'] = request.contentType ?? 'application/json';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: request.path,
    rawQueryString: new URLSearchParams(query).toString(),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: 'anonymous',
      apiId: 'gatepass-cli',
      domainName: 'lambda.invoke',
      domainPrefix: 'lambda',
      http: { method: request.method, path: request.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'gatepass-cli' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
    isBase64Encoded: false,
  };
}

function parseBody(text: string, target: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new TransportError(`${target} answered something that is not JSON`);
  }
}
