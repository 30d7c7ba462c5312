import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAdmin } from '../../local/admin-server.ts';
import { startAdminOn } from '../support/admin-server.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { captureLogs } from '../support/jwt-gateway.ts';

/**
 * Attack (found, fixed): the audit line of a write that changes nothing. A PATCH or PUT whose settings the
 * key already has now writes nothing and answers the key at the version it read (the ETag
 * does not move: right). The audit line still derives its versions from the answer as if
 * every change added 1 (`versionsOf` in audit.ts: before = after - 1), so it records a step
 * v - 1 → v that this request never made — a step already claimed by the write that did make
 * it — and, with `If-Match: v`, a `versionBefore` of v - 1 that contradicts the If-Match the
 * write was checked against.
 * Observed: PATCH `{ metaData: { a: 1 } }` (1 → 2), then the same PATCH twice (once with
 * If-Match: 2) and a PUT of the same settings: four `keys.update`/`keys.replace` lines, all
 * `1->2`; the version stayed 2.
 * Fixed: the key service marks its answer with the version the write was checked against
 * (`version-before.ts`), and the audit line takes it: 2->2 for each write that changed nothing.
 */
describe('attack10: audit line of a write that changes nothing', () => {
  const logs = captureLogs();
  let table: TestTable;
  let admin: RunningAdmin;

  beforeAll(async () => {
    table = await createTestTable('attack10-audit-noop');
    admin = await startAdminOn(table);
  });
  afterAll(async () => {
    await admin.close();
    await table.drop();
  });

  const send = async (url: string, method: string, body: unknown, ifMatch?: string) => {
    const r = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json', ...(ifMatch ? { 'if-match': ifMatch } : {}) },
      body: JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as { version?: number; keyId?: string } };
  };

  it('claims no version step for a PATCH or PUT that wrote nothing', async () => {
    const created = await send(`${admin.url}/keys`, 'POST', { quotaMax: 10, metaData: {} });
    const keyId = created.body.keyId!;
    const url = `${admin.url}/keys/${keyId}`;
    const first = await send(url, 'PATCH', { metaData: { a: 1 } });
    expect(first.body.version).toBe(2);
    const again = await send(url, 'PATCH', { metaData: { a: 1 } });
    const guarded = await send(url, 'PATCH', { metaData: { a: 1 } }, '2');
    const current = (await (await fetch(url)).json()) as Record<string, unknown>;
    const {
      keyId: _k,
      version: _v,
      createdAt: _c,
      updatedAt: _u,
      quotaRemaining: _r,
      quotaRenews: _n,
      limits: _l,
      keys: _ks,
      ...settings
    } = current;
    const put = await send(url, 'PUT', settings);
    const answers = [again, guarded, put].map((a) => `${a.status} v${a.body.version}`);
    const lines = logs()
      .filter((line) => line.message === 'admin audit' && line.target === keyId && line.action !== 'keys.create')
      .map((l) => `${l.action} ${l.versionBefore}->${l.versionAfter} ${l.outcome}`);
    const summary = JSON.stringify({ answers, lines });
    console.log(summary);
    // Nothing moved the version after the first PATCH.
    expect(
      [again, guarded, put].map((a) => a.body.version),
      summary,
    ).toEqual([2, 2, 2]);
    expect(lines, summary).toHaveLength(4);
    // Only the first PATCH made the step 1 -> 2; each other line names no step of its own (before = after = 2).
    expect(lines[0], summary).toBe('keys.update 1->2 ok');
    expect(
      lines.slice(1).filter((l) => l.includes('1->2')),
      summary,
    ).toEqual([]);
  });
});
