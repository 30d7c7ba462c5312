import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../lambdas/core/model/input-error.ts';
import { setSession } from '../../../lambdas/core/plugins/session-writes.ts';
import { SessionService } from '../../../lambdas/core/session/service.ts';
import type { SessionStore } from '../../../lambdas/core/store/store.ts';
import { unstorable } from '../../../lambdas/core/model/storable.ts';

/** A store that fails the test if anything reaches it. */
const untouchable = new Proxy(
  {},
  {
    get: () => () => {
      throw new Error('the store must not be called');
    },
  },
) as unknown as SessionStore;

describe('unstorable', () => {
  it('names a __proto__ key anywhere (JSON.parse keeps it; zod records would drop it and widen access)', () => {
    const body = JSON.parse('{"accessRights": {"__proto__": {}}, "metaData": {"ok": 1}}');

    expect(unstorable(body)).toEqual([{ field: 'accessRights.__proto__', message: 'is a reserved name' }]);
  });

  it('names numbers DynamoDB cannot store exactly', () => {
    expect(unstorable({ metaData: { big: 1e300, tiny: 1e-200, fine: 1.5 } }).map((p) => p.field)).toEqual([
      'metaData.big',
      'metaData.tiny',
    ]);
  });

  it('accepts ordinary bodies', () => {
    expect(unstorable({ quotaMax: 10, accessRights: { api1: { versions: ['prod'] } }, metaData: { n: -3, s: 'x' } })).toEqual([]);
  });
});

describe('plugin session writes', () => {
  it('refuses a session with a __proto__ API before anything is written', async () => {
    const init = JSON.parse('{"accessRights": {"__proto__": {}}}');

    await expect(setSession(new SessionService(untouchable), 'key-1234567890abcdef', init, 1_800_000_000_000)).rejects.toBeInstanceOf(
      InvalidInputError,
    );
  });
});
