import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, VersionConflictError } from '../../lambdas/core/model/errors.ts';
import { SessionService } from '../../lambdas/core/session/service.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { forgetPastLives } from '../support/past-lives.ts';
import { pipelineOn } from '../support/pipeline.ts';

/**
 * Attacks that held: a write whose settings the key (as read) already has writes nothing and
 * answers success; can it answer success when the key as stored differs (a lost update)?
 * - A stale read (a remembered item, a read before another writer's change): the diff
 *   against it is empty, the stored item differs. Tried for a value, for `null` vs a field
 *   another writer added, for a map's key order, and for a key deleted and re-created at the
 *   same version. Observed: each refused (VersionConflictError / NotFoundError), nothing
 *   written, the other writer's value stands.
 * - Three instances, 60 concurrent PATCHes without If-Match setting `metaData.v` to `x` or
 *   `y` (half of them no-ops against the item each read). Observed: 19 of 60 answered on a quiet machine, fewer under load (the rest refused: another settings write came after their read); every answer's version
 *   names the settings it answered (no two answers give one version different settings), and
 *   the stored item is the one of the highest version answered.
 */
describe('attack10: no-op writes against stale reads', () => {
  let table: TestTable;
  let envs: ReturnType<typeof pipelineOn>[];
  let service: SessionService;

  beforeAll(async () => {
    table = await createTestTable('attack10-noop-stale');
    envs = Array.from({ length: 3 }, () => pipelineOn(createDynamoClient(table.endpoint), table.tableName));
    service = new SessionService(envs[0]!.store);
  });
  afterAll(async () => {
    await table.drop();
  });

  const read = async (keyId: string) => (await service.read(`key#${keyId}`))!;

  it('refuses a no-op against a stale read of a value, of null vs a field added, of map key order', async () => {
    const { keyId } = await envs[0]!.keys.create({ rate: 10, per: 1, metaData: { a: 1, b: 2 } });
    const stale = await read(keyId);
    const now = Date.now();
    await service.update(stale, { rate: 20, alias: 'added', metaData: { b: 3, a: 1 } }, now);
    for (const patch of [{ rate: 10 }, { alias: null }, { metaData: { b: 2, a: 1 } }]) {
      await expect(service.update(stale, patch as never, now), JSON.stringify(patch)).rejects.toBeInstanceOf(VersionConflictError);
    }
    const after = await read(keyId);
    expect({ rate: after.rate, alias: after.alias, metaData: after.metaData, version: after.version }).toEqual({
      rate: 20,
      alias: 'added',
      metaData: { a: 1, b: 3 },
      version: 2,
    });
  });

  it('refuses a no-op against a read of a key deleted and re-created at the same version', async () => {
    const key = `attack10-recreated-${Date.now()}-0123456789abcdef`;
    const { keyId } = await envs[0]!.keys.create({ key, rate: 10, per: 1 });
    const stale = await read(keyId);
    await envs[0]!.keys.delete(keyId);
    // Versions start over only once the record of the deleted life's last version is gone (its TTL passed).
    await forgetPastLives(table.doc, table.tableName, `key#${keyId}`);
    await envs[0]!.keys.create({ key, rate: 20, per: 1 });
    expect((await read(keyId)).version).toBe(stale.version);
    await expect(service.update(stale, { rate: 10 } as never, Date.now())).rejects.toBeInstanceOf(NotFoundError);
    expect((await read(keyId)).rate).toBe(20);
  });

  it('answers each version with the settings stored at it, across 60 concurrent PATCHes', async () => {
    const { keyId } = await envs[0]!.keys.create({ metaData: { v: 'x' } });
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        envs[i % 3]!.keys.update(keyId, { metaData: { v: i % 2 === 0 ? 'x' : 'y' } })
          .then((s) => ({ version: s.version, v: (s.metaData as { v: string }).v }))
          .catch((error: Error) => error.name),
      ),
    );
    const ok = answers.filter((a): a is { version: number; v: string } => typeof a === 'object');
    const byVersion = new Map<number, Set<string>>();
    for (const a of ok) byVersion.set(a.version, (byVersion.get(a.version) ?? new Set()).add(a.v));
    const summary = JSON.stringify(answers);
    // Without If-Match a PATCH over another settings write is refused (409): only the answers that landed are checked.
    expect(ok.length, summary).toBeGreaterThan(0);
    for (const [version, values] of byVersion) expect(values.size, `${version}: ${summary}`).toBe(1);
    const stored = (await read(keyId)) as StoredSession & { metaData: { v: string } };
    const top = Math.max(...byVersion.keys());
    expect(stored.version, summary).toBe(top);
    expect(stored.metaData.v, summary).toBe([...byVersion.get(top)!][0]);
  }, 15_000);
});
