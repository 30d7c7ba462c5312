/**
 * The authorizer's metric lines as tests read them: captured from stdout, parsed as JSON
 * (never compared as strings), and packed into CloudWatch Logs subscription deliveries.
 */
import { gzipSync } from 'node:zlib';
import type { CloudWatchLogsDecodedData, CloudWatchLogsEvent } from 'aws-lambda';
import { vi } from 'vitest';

/** One embedded-metric-format line. */
export interface EmfLine {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: ReadonlyArray<{
      readonly Namespace: string;
      readonly Dimensions: string[][];
      readonly Metrics: ReadonlyArray<{ Name: string; Unit: string }>;
    }>;
  };
  readonly [field: string]: unknown;
}

/** What `fn` wrote to stdout while it ran: every line, and the metric lines among them, parsed. */
export async function captureStdout<T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[]; emf: EmfLine[] }> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  let result: T;
  try {
    result = await fn();
  } finally {
    spy.mockRestore();
  }
  const lines = chunks
    .join('')
    .split('\n')
    .filter((line) => line.trim() !== '');
  const emf = lines.flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as Partial<EmfLine>;
      return parsed._aws ? [parsed as EmfLine] : [];
    } catch {
      return [];
    }
  });
  return { result, lines, emf };
}

/** Log lines as CloudWatch Logs delivers them to a subscribed Lambda: gzip, then base64. */
export function logsDelivery(messages: readonly string[], firstId = 0, messageType = 'DATA_MESSAGE'): CloudWatchLogsEvent {
  const data: CloudWatchLogsDecodedData = {
    owner: '123456789012',
    logGroup: '/aws/lambda/gatepass-authorizer',
    logStream: '2026/11/29/[$LATEST]0123456789abcdef',
    subscriptionFilters: ['decisions'],
    messageType,
    logEvents: messages.map((message, i) => ({ id: String(firstId + i).padStart(56, '0'), timestamp: 1_796_000_000_000 + i, message })),
  };
  return { awslogs: { data: gzipSync(Buffer.from(JSON.stringify(data), 'utf8')).toString('base64') } };
}
