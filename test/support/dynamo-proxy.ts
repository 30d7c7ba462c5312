import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What to do with the next request of one DynamoDB operation. */
interface Armed {
  readonly target: string;
  /** Runs before the request is forwarded (hold it: play a concurrent writer). */
  readonly before?: () => Promise<void>;
  /** Forward it, then drop the answer (the SDK sees a broken connection and re-sends). */
  readonly loseAnswer: boolean;
  /** Runs before the re-sent copy is forwarded. */
  readonly beforeResend?: () => Promise<void>;
}

/**
 * An HTTP proxy in front of DynamoDB (Local) that can hold a request or lose its answer
 * after DynamoDB applied it — the faults behind "a slow write" and "a lost answer", played
 * on the wire, so that the code under test runs its real SDK client, retries included.
 */
export class DynamoProxy {
  readonly #server: Server;
  readonly #upstream: URL;
  #armed: Armed | undefined;
  #resendOf: { readonly body: string; readonly before?: () => Promise<void> } | undefined;

  private constructor(upstream: string) {
    this.#upstream = new URL(upstream);
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  static async start(upstream: string): Promise<DynamoProxy> {
    const proxy = new DynamoProxy(upstream);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Holds the next request of `operation` (e.g. `TransactWriteItems`) until `before` settles. */
  holdNext(operation: string, before: () => Promise<void>): void {
    this.#armed = { target: operation, before, loseAnswer: false };
  }

  /** Forwards the next request of `operation`, loses its answer, and runs `beforeResend` before the SDK's copy goes through. */
  loseNextAnswer(operation: string, beforeResend?: () => Promise<void>): void {
    this.#armed = { target: operation, loseAnswer: true, ...(beforeResend ? { beforeResend } : {}) };
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const target = String(req.headers['x-amz-target'] ?? '');
    const armed = this.#armed;
    let lose = false;
    if (this.#resendOf !== undefined && this.#resendOf.body === body) {
      const resend = this.#resendOf;
      this.#resendOf = undefined;
      await resend.before?.();
    } else if (armed !== undefined && target.endsWith(`.${armed.target}`)) {
      this.#armed = undefined;
      await armed.before?.();
      lose = armed.loseAnswer;
      if (lose) this.#resendOf = { body, ...(armed.beforeResend ? { before: armed.beforeResend } : {}) };
    }
    const upstream = await this.#forward(req, body);
    if (lose) {
      res.socket?.destroy();
      return;
    }
    res.writeHead(upstream.status, upstream.headers);
    res.end(upstream.body);
  }

  #forward(req: IncomingMessage, body: string): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: this.#upstream.host } as unknown as Record<string, string>;
      const out = request(
        { host: this.#upstream.hostname, port: this.#upstream.port, path: req.url, method: req.method, headers },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (part: Buffer) => parts.push(part));
          answer.on('end', () =>
            resolve({ status: answer.statusCode ?? 500, headers: answer.headers as Record<string, string>, body: Buffer.concat(parts) }),
          );
        },
      );
      out.on('error', reject);
      out.end(body);
    });
  }
}
