/**
 * Runs without the abort signal a hook's session writes carry to DynamoDB (`call-signal.ts`):
 * the SDK then sends every attempt of a write whose request has failed closed, as before
 * a6f87ad — for controls. `hook-calls.ts` gives the store its signal (`callsCarry`) once, when
 * it loads, and keeps the getter to itself; a test file that switches it off mocks
 * `call-signal.ts` with {@link keepingCallSignal}, which keeps the getter so that it can be put
 * back:
 *
 * @example
 * vi.mock('../../lambdas/core/store/call-signal.ts', async (actual) =>
 *   (await import('../support/call-signal-off.ts')).keepingCallSignal(await actual()),
 * );
 * await withoutCallSignal(async () => { ... });
 */
import type * as CallSignal from '../../lambdas/core/store/call-signal.ts';

type SignalOfCall = Parameters<typeof CallSignal.callsCarry>[0];

let actualModule: typeof CallSignal | undefined;
let kept: SignalOfCall | undefined;

/** `call-signal.ts` as it is, but for `callsCarry`, which also keeps the getter it is given. */
export function keepingCallSignal(actual: typeof CallSignal): typeof CallSignal {
  actualModule = actual;
  return {
    ...actual,
    callsCarry(signal) {
      kept = signal;
      actual.callsCarry(signal);
    },
  };
}

/** Runs `run` with the store's calls carrying no signal (`callsCarry(() => undefined)`), then gives back the plugin code's getter. */
export async function withoutCallSignal<T>(run: () => Promise<T>): Promise<T> {
  await import('../../lambdas/core/plugins/hook-calls.ts'); // it gives the store its getter when it loads
  if (actualModule === undefined || kept === undefined) throw new Error('call-signal.ts is not mocked with keepingCallSignal');
  const getter = kept;
  actualModule.callsCarry(() => undefined);
  try {
    return await run();
  } finally {
    actualModule.callsCarry(getter);
  }
}
