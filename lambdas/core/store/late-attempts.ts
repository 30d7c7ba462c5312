import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Where a DynamoDB call is made on behalf of a hook: that hook's signal (`undefined` outside any hook's write). */
type HookOfCall = () => AbortSignal | undefined;

let hookOfCall: HookOfCall | undefined;

/**
 * Tells the store which hook a DynamoDB call is made for. Set by the plugin code when it
 * loads (its `AsyncLocalStorage`), so a Lambda without plugins loads none of it.
 */
export function callsMadeFor(hook: HookOfCall): void {
  hookOfCall = hook;
}

/** Whether `signal` aborted because its hook's time was up (a `TimeoutError` reason, as `AbortSignal.timeout` gives), not because it answered. */
export function timedOut(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && (signal.reason as { name?: unknown } | undefined)?.name === 'TimeoutError';
}

const NAME = 'gatepassLateAttempts';

/**
 * Sends no DynamoDB attempt for a hook that ran past its deadline: the request has failed
 * closed, and a session write still going (its next call, or the SDK's retry of a throttled
 * one) would land after the answer. Checked before each attempt (inside the SDK's retries);
 * a call already sent may still land. Added once per client.
 */
export function refuseLateAttempts(client: DynamoDBDocumentClient): void {
  if (client.middlewareStack.identify().some((entry) => entry.startsWith(NAME))) return;
  client.middlewareStack.add(
    (next) => async (args) => {
      const signal = hookOfCall?.();
      if (timedOut(signal)) {
        const reason = (signal!.reason as Error).message;
        throw Object.assign(new Error(`DynamoDB call not sent: ${reason}; the request has failed closed`), { name: 'HookPastDeadline' });
      }
      return next(args);
    },
    { step: 'finalizeRequest', name: NAME },
  );
}
