import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The signal the DynamoDB calls made now carry (`undefined`: none). */
type SignalOfCall = () => AbortSignal | undefined;

let signalOfCall: SignalOfCall | undefined;

/**
 * Tells the store what signal its DynamoDB calls carry where they are made: a hook's session
 * write carries its request's, which aborts once the request has failed closed on a hook.
 * Set by the plugin code when it loads (its `AsyncLocalStorage`), so a Lambda without plugins
 * loads none of it.
 */
export function callsCarry(signal: SignalOfCall): void {
  signalOfCall = signal;
}

/** The signal the DynamoDB calls made here carry (a hook's session write: its request's), or `undefined`. */
export function callSignal(): AbortSignal | undefined {
  return signalOfCall?.();
}

/**
 * `client`, whose calls carry the signal of where they are made (see {@link callsCarry}) as
 * the SDK's `abortSignal`: once it has aborted the SDK sends no further attempt of them (a
 * retry of a throttled one included) and drops one still waiting for a connection; an attempt
 * already sent is not called back, and may land.
 */
export function abortable(client: DynamoDBDocumentClient): DynamoDBDocumentClient {
  const send = (command: Parameters<DynamoDBDocumentClient['send']>[0], options?: { abortSignal?: AbortSignal }) => {
    const signal = callSignal();
    if (signal === undefined) return client.send(command as never, options);
    const abortSignal = options?.abortSignal === undefined ? signal : AbortSignal.any([options.abortSignal, signal]);
    return client.send(command as never, { ...options, abortSignal });
  };
  return new Proxy(client, {
    get: (target, property) => {
      if (property === 'send') return send;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
