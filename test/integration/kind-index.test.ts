import { createHash } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionIndex, type StartKey } from '../../lambdas/admin/session-index.ts';
import { LEGACY_KEY_KIND, sessionIndexKind, sessionIndexKinds } from '../../lambdas/core/store/kind-index.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';

const hex = (seed: string) => createHash('sha256').update(seed).digest('hex');

/** A minimal session item under `pk` with the index `kind` given (what the store writes). */
function sessionItem(pk: string, kind: string): Record<string, unknown> {
  return { pk, kind, keyId: pk.slice(4), expires: 0, version: 1 };
}

describe('the kind index on DynamoDB Local', () => {
  let table: TestTable;
  let index: SessionIndex;
  const keyPks = Array.from({ length: 40 }, (_, i) => `key#${hex(`key-${i}`)}`);
  const legacyPks = Array.from({ length: 3 }, (_, i) => `key#${hex(`legacy-${i}`)}`);

  beforeAll(async () => {
    table = await createTestTable('kind-index');
    index = new SessionIndex({ client: table.doc, tableName: table.tableName });
    for (const pk of keyPks)
      await table.doc.send(new PutCommand({ TableName: table.tableName, Item: sessionItem(pk, sessionIndexKind(pk)) }));
    // Keys written before the shards, and JWT identities and policies, which a key listing never shows.
    for (const pk of legacyPks)
      await table.doc.send(new PutCommand({ TableName: table.tableName, Item: sessionItem(pk, LEGACY_KEY_KIND) }));
    const jwtPk = `jwt#${hex('identity')}`;
    await table.doc.send(new PutCommand({ TableName: table.tableName, Item: sessionItem(jwtPk, sessionIndexKind(jwtPk)) }));
    await table.doc.send(new PutCommand({ TableName: table.tableName, Item: { pk: 'policy#gold', kind: 'policy', id: 'gold' } }));
  });
  afterAll(() => table.drop());

  it('spreads sessions over sixteen partition values per kind, by the first digit of their hash', () => {
    expect(sessionIndexKind(`key#3${'0'.repeat(63)}`)).toBe('key#3');
    expect(sessionIndexKind(`jwt#f${'0'.repeat(63)}`)).toBe('jwt#f');
    expect(new Set(keyPks.map(sessionIndexKind)).size).toBeGreaterThan(8);
    expect(sessionIndexKinds('jwt')).toHaveLength(16);
    expect(() => sessionIndexKind('policy#gold')).toThrow();
  });

  it('lists every API key exactly once, page after page, legacy keys first and then in pk order', async () => {
    const listed: string[] = [];
    let start: StartKey | undefined;
    let pages = 0;
    do {
      const page = await index.query({ kind: 'key' }, 7, start);
      expect(page.items.length).toBeLessThanOrEqual(7);
      listed.push(...page.items.map((item) => item.pk));
      start = page.next;
      pages += 1;
    } while (start !== undefined && pages < 50);

    expect(listed).toHaveLength(keyPks.length + legacyPks.length);
    expect(new Set(listed).size).toBe(listed.length);
    expect(new Set(listed.slice(0, legacyPks.length))).toEqual(new Set(legacyPks));
    expect(listed.slice(legacyPks.length)).toEqual([...keyPks].sort());
  });

  it('fills a page from several shards', async () => {
    const page = await index.query({ kind: 'key' }, 30);

    expect(page.items).toHaveLength(30);
    expect(new Set(page.items.map((item) => String(item.kind))).size).toBeGreaterThan(2);
  });
});
