/**
 * DynamoDB answered from memory, for timing the authorizer's own CPU work:
 *
 * - {@link memoryDocumentClient}: a stand-in for the document client whose `send` answers
 *   Get/Put/Update from a map (no SDK code runs at all);
 * - {@link memoryHttpDocumentClient}: the real document client and SDK middleware stack
 *   (marshalling, SigV4 signing, (de)serialisation) over an HTTP handler that answers from
 *   the same map, so the SDK's share of the CPU time is counted too.
 *
 * Neither evaluates update expressions: an UpdateItem answers the item as stored, which
 * keeps every request on the same path (the counters never run out). That is enough for
 * timing; the correctness of the writes is the integration and reliability tests' job.
 */
import { Readable } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { HttpRequest } from '@smithy/types';

export type Item = Record<string, unknown>;

/** Items by `pk`. */
export type ItemMap = Map<string, Item>;

interface CommandLike {
  readonly input: { readonly Key?: { pk: string }; readonly Item?: Item };
}

export function memoryDocumentClient(items: ItemMap): DynamoDBDocumentClient {
  const fake = {
    async send(command: CommandLike) {
      const name = command.constructor.name;
      switch (name) {
        case 'GetCommand': {
          const item = items.get(command.input.Key!.pk);
          return { Item: item === undefined ? undefined : { ...item } };
        }
        case 'UpdateCommand':
          return { Attributes: { ...items.get(command.input.Key!.pk) } };
        case 'PutCommand':
          items.set(String(command.input.Item!.pk), { ...command.input.Item });
          return {};
        default:
          throw new Error(`memory client: ${name} is not supported`);
      }
    },
    destroy() {},
  };
  return fake as unknown as DynamoDBDocumentClient;
}

export function memoryHttpDocumentClient(items: ItemMap): DynamoDBDocumentClient {
  const requestHandler = {
    async handle(request: HttpRequest) {
      const operation = String(request.headers['x-amz-target']).split('.')[1];
      const raw = request.body as string | Uint8Array;
      const input = JSON.parse(typeof raw === 'string' ? raw : new TextDecoder().decode(raw)) as {
        Key?: Record<string, never>;
        Item?: Record<string, never>;
      };
      let output: object;
      switch (operation) {
        case 'GetItem': {
          const item = items.get(String(unmarshall(input.Key!).pk));
          output = item === undefined ? {} : { Item: marshall(item, { removeUndefinedValues: true }) };
          break;
        }
        case 'UpdateItem':
          output = { Attributes: marshall(items.get(String(unmarshall(input.Key!).pk)) ?? {}, { removeUndefinedValues: true }) };
          break;
        case 'PutItem': {
          const item = unmarshall(input.Item!);
          items.set(String(item.pk), item);
          output = {};
          break;
        }
        default:
          throw new Error(`memory HTTP handler: ${operation} is not supported`);
      }
      const body = Buffer.from(JSON.stringify(output));
      return {
        response: {
          statusCode: 200,
          reason: 'OK',
          headers: { 'content-type': 'application/x-amz-json-1.0', 'content-length': String(body.length) },
          body: Readable.from([body], { objectMode: false }),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs() {
      return {};
    },
  };
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: 'http://dynamodb.memory.invalid',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    maxAttempts: 3,
    requestHandler,
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
