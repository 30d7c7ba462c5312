import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { fromNodeProviderChain } from '@aws-sdk/credential-providers';

/** AWS credentials, or a function that resolves them (what the signer takes). */
type Credentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];

/**
 * AWS Signature Version 4 for the admin API's Function URL (`AWS_IAM` auth): the signing
 * name of Lambda Function URLs is `lambda`, the Region is the function's.
 */
export const FUNCTION_URL_SERVICE = 'lambda';

/** `<url-id>.lambda-url.<region>.on.aws`, the host of every Lambda Function URL. */
const FUNCTION_URL_HOST = /^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$/;

/**
 * The Region of a Lambda Function URL, read from its host; `undefined` for any other URL
 * (such as the local admin port, which is not signed).
 *
 * @example
 * functionUrlRegion('https://abcdefghij.lambda-url.eu-west-1.on.aws/'); // 'eu-west-1'
 */
export function functionUrlRegion(url: string): string | undefined {
  return FUNCTION_URL_HOST.exec(new URL(url).hostname)?.[1];
}

/** What a request to sign looks like; `body` is the exact text sent. */
export interface SignableRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** Options of {@link RequestSigner}. */
export interface RequestSignerOptions {
  /** The Region the function is in. */
  readonly region: string;
  /**
   * AWS credentials.
   *
   * @default the standard provider chain (`fromNodeProviderChain`: environment, `AWS_PROFILE`
   * and the shared config and credentials files, SSO, web identity, container and instance
   * roles), loaded when first needed
   */
  readonly credentials?: Credentials;
  /** @default 'lambda' */
  readonly service?: string;
  /** @default the current time */
  readonly signingDate?: Date;
}

/**
 * Signs admin API requests with SigV4 (`@smithy/signature-v4`, the signer the AWS SDK itself
 * uses), so that an `AWS_IAM` Function URL accepts them. The signature covers the method,
 * path, query, the headers given and the body's SHA-256 (`x-amz-content-sha256`).
 *
 * @example
 * const signer = new RequestSigner({ region: 'eu-west-1' });
 * const headers = await signer.sign({ method: 'GET', url: new URL(adminUrl + '/keys'), headers: {} });
 */
export class RequestSigner {
  readonly #signer: SignatureV4;
  readonly #signingDate: Date | undefined;

  constructor(options: RequestSignerOptions) {
    this.#signer = new SignatureV4({
      service: options.service ?? FUNCTION_URL_SERVICE,
      region: options.region,
      credentials: options.credentials ?? defaultCredentials(),
      sha256: Sha256,
    });
    this.#signingDate = options.signingDate;
  }

  /** The headers to send: the given ones plus `host`, `x-amz-date`, `x-amz-content-sha256`, `authorization` (and a session token). */
  async sign(request: SignableRequest): Promise<Record<string, string>> {
    const signed = await this.#signer.sign(toHttpRequest(request), this.#signingDate ? { signingDate: this.#signingDate } : {});
    return signed.headers;
  }
}

/** The smithy request the signer reads: `host` included, the query as decoded pairs. */
export function toHttpRequest(request: SignableRequest): HttpRequest {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of request.url.searchParams) {
    const seen = query[name];
    query[name] = seen === undefined ? value : ([] as string[]).concat(seen, value);
  }
  return new HttpRequest({
    method: request.method,
    protocol: request.url.protocol,
    hostname: request.url.hostname,
    ...(request.url.port === '' ? {} : { port: Number(request.url.port) }),
    path: request.url.pathname,
    query,
    headers: { ...lowerCased(request.headers), host: request.url.host },
    ...(request.body === undefined ? {} : { body: request.body }),
  });
}

/**
 * A query string as SigV4 and AWS decode it: RFC 3986 percent-encoding (`%20` for a space,
 * never `+`, which AWS reads as a literal plus).
 */
export function rfc3986Query(params: Iterable<readonly [string, string]>): string {
  const encode = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return [...params].map(([name, value]) => `${encode(name)}=${encode(value)}`).join('&');
}

function lowerCased(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

/** The standard provider chain, imported on first use (commands that sign nothing never load it). */
function defaultCredentials(): Credentials {
  let chain: Promise<ReturnType<typeof fromNodeProviderChain>> | undefined;
  return async () => {
    chain ??= import('@aws-sdk/credential-providers').then((providers) => providers.fromNodeProviderChain());
    return (await chain)();
  };
}

/** SHA-256 (or HMAC-SHA-256 with a secret) on node:crypto, in the shape the signer expects. */
class Sha256 {
  readonly #hash: Hash | Hmac;

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(toBuffer(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
