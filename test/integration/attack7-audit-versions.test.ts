import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAdmin } from '../../local/admin-server.ts';
import { startAdminOn } from '../support/admin-server.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { captureLogs } from '../support/jwt-gateway.ts';

/**
 * Attack: the audit line's versions of concurrent writes. Every change adds exactly 1 to the
 * version, a reset too now, so N successful changes of a key move it from 1 to N + 1 and each
 * step v → v + 1 belongs to exactly one write. The audit line derives both versions from the
 * write's answer, and a PATCH's or reset's answer is the key read again *after* the write:
 * when another change lands between the write and that read, the line names the other
 * write's step (two lines claim one step, and the write's own step is claimed by none).
 *
 * Suggested fix: take the versions from the write itself (the guard's version + 1; a reset
 * reads its own version, or returns `ALL_NEW` from an UpdateItem-shaped answer), not from the
 * read that follows it.
 *
 * Fixed: a PATCH answers the key at the version it wrote (its guard's + 1), so its line names
 * its own step; a reset without If-Match is guarded by the key's life only, so which step it
 * made is not known, and its line names none (rather than another write's).
 */
describe('attack7: audit versions of concurrent resets and PATCHes', () => {
  const logs = captureLogs();
  let table: TestTable;
  let admin: RunningAdmin;

  beforeAll(async () => {
    table = await createTestTable('attack7-audit-versions');
    admin = await startAdminOn(table);
  });
  afterAll(async () => {
    await admin.close();
    await table.drop();
  });

  it('names each version step once across 12 concurrent resets and PATCHes', async () => {
    const created = await fetch(`${admin.url}/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ quotaMax: 10 }),
    });
    const { keyId } = (await created.json()) as { keyId: string };
    const statuses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        fetch(i % 2 === 0 ? `${admin.url}/keys/${keyId}/reset-quota` : `${admin.url}/keys/${keyId}`, {
          method: i % 2 === 0 ? 'POST' : 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(i % 2 === 0 ? {} : { metaData: { i } }),
        }).then(async (r) => (r.status === 200 ? 200 : `${r.status} ${JSON.stringify(await r.json()).slice(0, 120)}`)),
      ),
    );
    const lines = logs().filter((line) => line.message === 'admin audit' && line.target === keyId && line.outcome === 'ok');
    const step = (l: (typeof lines)[number]) => `${l.versionBefore}->${l.versionAfter}`;
    const patches = lines.filter((l) => l.action === 'keys.update').map(step);
    const resets = lines.filter((l) => l.action === 'keys.reset-quota').map(step);
    const ok = statuses.filter((s) => s === 200).length; // (a PATCH may answer 409 after 4 lost races with the other 11)
    const summary = JSON.stringify({ statuses, patches, resets });
    expect(patches.length + resets.length, summary).toBe(ok);
    // Each PATCH names a step of its own (v -> v + 1 within the 1 -> ok + 1 the writes made); no two lines claim one.
    expect(new Set(patches).size, summary).toBe(patches.length);
    for (const s of patches) {
      const [before, after] = s.split('->').map(Number);
      expect(after, summary).toBe(before! + 1);
      expect(before! >= 1 && after! <= ok + 1, summary).toBe(true);
    }
    // A reset without If-Match names no step.
    expect(
      resets.every((s) => s === 'undefined->undefined'),
      summary,
    ).toBe(true);
  });
  /**
   * Held: one PATCH without If-Match at a time, each sent with a burst of 6 resets of the same
   * key (10 rounds): it reads again on each reset that lands first, and every one lands.
   */
  it('lands every PATCH without If-Match sent with a burst of 6 resets', async () => {
    const created = await fetch(`${admin.url}/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ quotaMax: 10 }),
    });
    const { keyId } = (await created.json()) as { keyId: string };
    const patches: string[] = [];
    for (let round = 0; round < 10; round++) {
      const resets = Array.from({ length: 6 }, () => fetch(`${admin.url}/keys/${keyId}/reset-quota`, { method: 'POST' }));
      const patch = await fetch(`${admin.url}/keys/${keyId}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ metaData: { round } }),
      });
      patches.push(patch.status === 200 ? '200' : `${patch.status} ${((await patch.json()) as { error?: string }).error}`);
      await Promise.all(resets);
    }
    expect(
      patches.filter((p) => p !== '200'),
      JSON.stringify(patches),
    ).toEqual([]);
  });
});
