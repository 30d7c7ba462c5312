/**
 * A key deleted and created again within a history (a DELETE, or its end by TTL), with a
 * reset-quota in flight across it and a DELETE re-sent from the old life: nothing of the
 * old key may land on the new one.
 */
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { keySessionPk } from '../../../lambdas/core/model/keys.ts';
import type { RunningHistory } from './running-history.ts';
import type { Op } from './spec.ts';

/**
 * DELETE the key and create it again with the same raw key — with a reset-quota that read
 * the old key held before its write until the new key has served `between`. A reset that
 * read the old key must not land on the new one (it answers 404 or 409); one whose write
 * went out without a read is a reset of the new key, at the moment it was let go. Returns
 * the violations found.
 */
export async function runRecreate(h: RunningHistory, op: Extract<Op, { kind: 'recreate' }>, number: string): Promise<string[]> {
  const { lost, stats, trace, model, admin, keys } = h;
  const lostBefore = lost.injected;
  const held = op.resetInFlight ? h.rig.hold.hold() : undefined;
  const reset = held ? admin.run({ kind: 'reset' }, model.settings, h.key.keyId) : undefined;
  const parked = held !== undefined && reset !== undefined ? await Promise.race([held.parked, reset.then(() => undefined)]) : undefined;
  if (held && parked === undefined) held.release();
  const versionBefore = await keys.get(h.key.keyId).then(
    (k) => k.version,
    () => undefined,
  );
  const readBefore = op.resendDelete ? versionBefore : undefined;
  const deleted = op.byTtl ? await endByTtl(h) : await deleteKey(h, readBefore);
  const created = await admin.createKey(op.key, h.key.key).then(
    (k) => ({ ok: true as const, key: k }),
    (error: { code?: string; name?: string }) => ({ ok: false as const, error: error.code ?? error.name ?? 'Error' }),
  );
  if (created.ok) h.key = created.key;
  const versionAfter = created.ok ? await keys.get(h.key.keyId).then((k) => k.version) : undefined;
  const wasSpread = h.shards.key > 0;
  h.shards.key = 0;
  model.recreated(h.now, await admin.readSettings(h.key.keyId), wasSpread);
  stats.recreations += 1;
  stats.twoPolicyKeys += op.key.policies.length > 1 ? 1 : 0;
  trace.push(
    `${h.time(number)} ${parked ? `reset held after ${parked.read ? 'reading the key' : 'no read'}; ` : held ? 'reset answered before any write; ' : ''}` +
      `DELETE → ${deleted}; create again → ${created.ok ? 'ok' : `failed (${created.error})`}`,
  );
  const [between] = await h.batch(op.between, undefined, async () => []);
  trace.push(`      between: ${between.summary}`);
  if (between.violations.length > 0) {
    held?.release();
    await reset;
    return [...between.violations];
  }
  const problems: string[] = [];
  // A key's versions go on across its lives: the new one starts above every version the old one had, however it ended.
  if (versionBefore !== undefined && versionAfter !== undefined && versionAfter <= versionBefore)
    problems.push(`the key created again is at version ${versionAfter}, one its old life had (${versionBefore} before it ended)`);
  if (readBefore !== undefined) {
    // The admin re-sends the DELETE (its answer lost, say) with the If-Match it read in the old life.
    const again = await deleteKey(h, readBefore);
    stats.resentDeletes += 1;
    trace.push(`      the same DELETE (If-Match: ${readBefore}) sent again → ${again}`);
    if (again === 'ok' && created.ok)
      problems.push(`a DELETE re-sent with the If-Match of the deleted life (version ${readBefore}) deleted the key created again`);
  }
  if (held !== undefined && reset !== undefined) {
    // A reset that lands on the new key deletes its counter items.
    if (h.spec.hot !== undefined) model.revoked('key', await h.leasesOf('key'));
    held.release();
    const result = await reset;
    stats.heldResets += 1;
    if (parked?.read === false) model.reset(h.now, result.ok);
    else if (parked?.read && result.ok) {
      problems.push('a reset-quota that read the key before it was deleted answered success after the key was created again');
    }
    trace.push(`      the reset let go → ${result.ok ? 'ok' : `failed (${result.error})`}`);
  }
  stats.lostAdminAnswers += lost.injected - lostBefore;
  const [after] = await h.batch(op.after, undefined, async () => []);
  trace.push(`      after: ${after.summary}`);
  return [...after.violations, ...problems];
}

/** The key deleted through the admin API (`ifMatch`: the version it must be at): `ok`, or why it failed. */
async function deleteKey(h: RunningHistory, ifMatch?: number): Promise<string> {
  try {
    await h.keys.delete(h.key.keyId, ifMatch);
    return 'ok';
  } catch (error) {
    const e = error as { code?: string; name?: string };
    return `failed (${e.code ?? e.name ?? 'Error'})`;
  }
}

/**
 * What DynamoDB's TTL does to a session past `expires` + retention: the item goes, nothing else is written. Its
 * counter items have the same TTL but are left here: DynamoDB's sweep removes them in its own time, and until it
 * does the new life must not spend them.
 */
async function endByTtl(h: RunningHistory): Promise<string> {
  await h.adminDoc.send(new DeleteCommand({ TableName: h.tableName, Key: { pk: keySessionPk(h.key.keyId) } }));
  h.stats.ttlEnds += 1;
  return 'ended by TTL';
}
