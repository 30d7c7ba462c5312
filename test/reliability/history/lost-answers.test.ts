/**
 * The fault layer of the history checker does what it claims: a write whose answer is
 * lost has landed, and the SDK's own retry sends it again (so a non-idempotent write is
 * applied twice). If this fails, the history checker's lost answers test nothing.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../../local/table.ts';
import { createTestTable, type TestTable } from '../../support/dynamo.ts';
import { LostAnswers } from './lost-answers.ts';

describe('a lost answer below the SDK retry', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('history-lost-answers');
  });
  afterAll(async () => {
    await table.drop();
  });

  function faultyClient() {
    const client = createDynamoClient(table.endpoint);
    const lost = new LostAnswers();
    lost.installOn(client);
    return { client, doc: DynamoDBDocumentClient.from(client), lost };
  }

  const add = (doc: DynamoDBDocumentClient, pk: string) =>
    doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { pk },
        UpdateExpression: 'ADD #n :one',
        ExpressionAttributeNames: { '#n': 'n' },
        ExpressionAttributeValues: { ':one': 1 },
      }),
    );
  const countOf = async (doc: DynamoDBDocumentClient, pk: string) =>
    (await doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item?.n;

  it('makes the SDK send an applied write again: one call, two attempts, applied twice', async () => {
    const { client, doc, lost } = faultyClient();
    lost.arm(1);
    const out = await add(doc, 'lost#twice');
    expect(out.$metadata.attempts).toBe(2);
    expect(lost.injected).toBe(1);
    expect(await countOf(doc, 'lost#twice')).toBe(2);
    client.destroy();
  });

  it('loses nothing when disarmed, and only first attempts when armed several times', async () => {
    const { client, doc, lost } = faultyClient();
    expect((await add(doc, 'lost#none')).$metadata.attempts).toBe(1);
    lost.arm(2);
    await add(doc, 'lost#none'); // lost once, re-sent; the re-send is not a first attempt
    await add(doc, 'lost#none'); // lost once, re-sent
    expect(lost.injected).toBe(2);
    expect(await countOf(doc, 'lost#none')).toBe(5);
    client.destroy();
  });

  it('turns a conditional write that landed into a failed condition on the re-send', async () => {
    const { client, doc, lost } = faultyClient();
    await doc.send(new PutCommand({ TableName: table.tableName, Item: { pk: 'lost#guarded', version: 1 } }));
    lost.arm(1);
    const bump = doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { pk: 'lost#guarded' },
        UpdateExpression: 'SET #v = :next',
        ConditionExpression: '#v = :read',
        ExpressionAttributeNames: { '#v': 'version' },
        ExpressionAttributeValues: { ':read': 1, ':next': 2 },
      }),
    );
    await expect(bump).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    expect(
      (await doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: 'lost#guarded' }, ConsistentRead: true }))).Item?.version,
    ).toBe(2);
    client.destroy();
  });

  it('leaves reads alone', async () => {
    const { client, doc, lost } = faultyClient();
    lost.arm(1);
    await countOf(doc, 'lost#none');
    expect(lost.injected).toBe(0);
    expect(lost.armed).toBe(1);
    client.destroy();
  });
});
