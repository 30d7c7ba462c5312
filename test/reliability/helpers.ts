/**
 * Shared by the reliability tests: the real authorizer handler behind the local gateway,
 * a Powertools logger whose printed lines are captured, and bounded HTTP calls.
 */
import { Console } from 'node:console';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Logger } from '@aws-lambda-powertools/logger';
import { createAuthorizerHandler, type AuthorizerOptions } from '../../lambdas/authorizer/handler.ts';
import { startGateway, type RunningGateway } from '../../local/gateway.ts';
import { lambdaContext } from '../../local/lambda-context.ts';

/** The longest any request may take before the test calls it hung (API Gateway gives an authorizer 10 s). */
export const REQUEST_BOUND_MS = 15_000;

export interface CapturedLogger {
  readonly logger: Logger;
  /** Every line the logger printed, as printed (JSON). */
  readonly lines: string[];
}

/**
 * A Powertools logger at DEBUG whose output goes to memory instead of stdout: what the
 * tests inspect is exactly the text that would reach CloudWatch.
 */
export function capturingLogger(serviceName = 'gatepass-authorizer'): CapturedLogger {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(line);
      done();
    },
  });
  const logger = new Logger({ serviceName, logLevel: 'DEBUG' });
  // Powertools prints through a private Console on process.stdout; point it at the sink.
  (logger as unknown as { console: Console }).console = new Console({ stdout: sink, stderr: sink });
  return { logger, lines };
}

export interface GatewayUnderTest {
  readonly gateway: RunningGateway;
  readonly url: string;
  /** Structured entries the gateway logged (one per request, one per authorizer failure). */
  readonly gatewayLog: Record<string, unknown>[];
  readonly logs: CapturedLogger;
  close(): Promise<void>;
}

/** The real authorizer handler (as `createAuthorizerHandler` builds it) behind the local gateway. */
export async function gatewayWith(options: Omit<AuthorizerOptions, 'logger'>): Promise<GatewayUnderTest> {
  const logs = capturingLogger();
  const handler = createAuthorizerHandler({ ...options, logger: logs.logger });
  const gatewayLog: Record<string, unknown>[] = [];
  const gateway = await startGateway({
    authorizer: (event) => handler(event, lambdaContext('gatepass-authorizer')),
    apiId: 'local',
    stage: 'dev',
    port: 0,
    log: (entry) => gatewayLog.push(entry as Record<string, unknown>),
  });
  return { gateway, url: gateway.url, gatewayLog, logs, close: () => gateway.close() };
}

export interface Answer {
  /** HTTP status, or `'hung'` when no answer came within {@link REQUEST_BOUND_MS}, or `'error'` when the connection failed. */
  readonly status: number | 'hung' | 'error';
  readonly body: string;
}

/** `GET url` with an Authorization header, bounded in time; never throws. */
export async function call(url: string, authorization?: string): Promise<Answer> {
  try {
    const res = await fetch(url, {
      headers: authorization === undefined ? {} : { authorization },
      signal: AbortSignal.timeout(REQUEST_BOUND_MS),
    });
    return { status: res.status, body: await res.text() };
  } catch (error) {
    const name = (error as { name?: string }).name;
    return { status: name === 'TimeoutError' || name === 'AbortError' ? 'hung' : 'error', body: String(error) };
  }
}

/** A `gatepass.config.json` in a temp folder, for `startDev`. */
export function writeConfigFile(config: Record<string, unknown>): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'gatepass-reliability-'));
  const file = path.join(folder, 'gatepass.config.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}
