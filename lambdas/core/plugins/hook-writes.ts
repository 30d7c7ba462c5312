import { AsyncLocalStorage } from 'node:async_hooks';
import { callsCarry } from '../store/call-signal.ts';

/** The signal a hook's session write carries to its DynamoDB calls: its request's, aborted once the request failed on a hook. */
const writeOfRequest = new AsyncLocalStorage<AbortSignal>();
callsCarry(() => writeOfRequest.getStore());

/**
 * The session writes one request's hooks started: the request waits for those a hook did
 * not await before it goes on ({@link settle}, within the hook's deadline: `HookCalls`), and
 * once it fails closed on its hooks ({@link stop}) none of them sends another DynamoDB call
 * (`call-signal.ts`, `transactOnce`): none lands after the answer but a call already sent.
 */
export class HookWrites {
  readonly #pending = new Set<Promise<unknown>>();
  readonly #failed = new AbortController();

  /**
   * Starts `write`. A write the hook does not await may fail unseen: that is no unhandled
   * rejection (which would end a Lambda's runtime); the request waits for it or has failed
   * closed already.
   */
  start<T>(write: () => Promise<T>): Promise<T> {
    const pending = writeOfRequest.run(this.#failed.signal, write);
    this.#pending.add(pending);
    return unseen(pending.finally(() => this.#pending.delete(pending)));
  }

  /** Waits for the writes hooks started and did not await: the request goes on with what they wrote (bounded by the caller). */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** The request fails closed on its hooks (`reason`): the writes they started send nothing more. */
  stop(reason: unknown): void {
    this.#failed.abort(reason);
  }
}

/** `promise`, whose rejection is no unhandled rejection when no one awaits it. */
export function unseen<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
