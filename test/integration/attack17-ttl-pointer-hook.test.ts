import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySessionPk } from '../../lambdas/core/model/keys.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

const SESSION = { quotaMax: 10, quotaRenewalRate: 3600 };

/**
 * Fixed: a pointer names its session only while that session names the key id; otherwise
 * nothing is read, changed or made through it (`OrphanPointerError`: the hook's create fails
 * closed), until a DELETE of the key id releases it; then the hook creates B's own session.
 *
 * Attack: a key rotated out comes back through the pointer a session ended by its TTL leaves.
 * Key A (with `expires`) is rotated to B with no grace: A is refused at once (key_not_found),
 * as it should be — say A leaked. The session then ends by its TTL (simulated: DeleteItem of
 * the session item under A's pk only, as DynamoDB's TTL does); B's pointer, which has no TTL,
 * stays, naming A's pk. Then an auth hook meets B's holder and answers `{ key: B,
 * createSession }` (first sight: create B's session if it has none).
 * Observed: the hook follows the pointer and creates the session under A's pk, with A's key id
 * (version 3, the hook's quota 10); the request with B is denied key_not_found (the new
 * session does not accept B), and the retired key A is allowed again, on a fresh quota.
 * `sessions.set` (TykSetKeyData) resolves the key the same way. Expected: a session for B
 * (under B's own pk, above the versions read through B) and A refused; at the very least,
 * never a session that revives A.
 * Suggested fix: a pointer to a session that is gone is no session (resolve to the key's own
 * pk, replacing the pointer in the create's transaction); or end pointers with their session
 * (a TTL on pointers, with their records).
 */
describe('attack17: an auth hook creating the session of a rotated-in key whose session ended by its TTL', () => {
  let table: TestTable;
  let env: ReturnType<typeof pipelineOn>;
  let n = 0;
  const rawKey = () => `attack17-ttl-hook-${String(++n).padStart(4, '0')}-${Date.now()}`;
  beforeAll(async () => {
    table = await createTestTable('attack17-ttl-hook');
    env = pipelineOn(lambdaClient(), table.tableName);
  });
  afterAll(async () => {
    await table.drop();
  });
  const answer = async (key: string | undefined, plugins: GatepassPlugin[] = []) => {
    const decision = await env
      .pipelineWith(plugins)
      .authorize(requestWith(key))
      .catch((error: Error) => error);
    if (decision instanceof Error) return `fault: ${decision.name}`;
    return decision.allow ? 'allow' : String((decision as { reason?: string }).reason);
  };

  it('does not bring the rotated-out key back', async () => {
    const expires = Math.floor(Date.now() / 1000) + 3600;
    const first = await env.keys.create({ key: rawKey(), quotaMax: 5, quotaRenewalRate: 3600, expires });
    const rotated = await env.keys.rotate(first.keyId, { graceSeconds: 0 });
    expect(await answer(first.key)).toBe('key_not_found');
    expect(await answer(rotated.key)).toBe('allow');
    await env.doc.send(new DeleteCommand({ TableName: table.tableName, Key: { pk: keySessionPk(first.keyId) } }));

    const auth: GatepassPlugin = { name: 'auth-create', auth: () => ({ key: rotated.key, createSession: SESSION }) };
    const hooked = await answer(undefined, [auth]);
    const underA = (await env.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: keySessionPk(first.keyId) } }))).Item;
    const summary = JSON.stringify({
      hooked,
      underA: underA === undefined ? null : { keyId: underA.keyId === first.keyId ? 'A' : underA.keyId, version: underA.version },
      a: await answer(first.key),
      b: await answer(rotated.key),
    });
    // Observed: {"hooked":"key_not_found","underA":{"keyId":"A","version":3},"a":"allow","b":"key_not_found"}
    expect(JSON.parse(summary).a, summary).toBe('key_not_found');
    expect(JSON.parse(summary).underA, summary).toBeNull();
    // Now: the hook's create meets B's orphan pointer and fails closed (the id is held until a DELETE releases it).
    expect(JSON.parse(summary).hooked, summary).toBe('fault: OrphanPointerError');
    // A hook's read of B finds no session (TykGetKeyData), rather than a fault.
    let seen: unknown = 'unread';
    const reader: GatepassPlugin = {
      name: 'reader',
      auth: async (ctx) => {
        seen = await ctx.sessions.get(rotated.key);
        return { deny: { message: 'read' } };
      },
    };
    await answer(undefined, [reader]);
    expect(seen).toBeUndefined();
    await env.keys.delete(rotated.keyId);
    expect(await answer(undefined, [auth])).toBe('allow');
    expect(await answer(first.key)).toBe('key_not_found');
  });
});
