import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchGetConsistent } from '../store/batch-get.ts';
import { BoundedMap } from '../model/bounded-map.ts';
import { AlreadyExistsError, GatepassError, NotFoundError, VersionConflictError } from '../model/errors.ts';
import { preloadUrlPatterns } from '../model/url-pattern-engine.ts';
import type { Policy, PolicyFields } from './policy.ts';
import { UpdateExpression } from '../store/expression.ts';
import { type TransactItem, transactOnce } from '../store/transaction.ts';
import { TABLE } from '../model/table.ts';

/** Partition key of a policy item. */
export function policyPk(id: string): string {
  return `policy#${id}`;
}

/** The `kind` attribute of policy items, the partition key of the kind index. */
const KIND = 'policy';

/**
 * Marks a deleted policy's item: it reads as absent, and a policy created again under the
 * same id continues its version numbers, so an `If-Match` read before the delete never
 * matches the new one (a policy's life, as a key's incarnation).
 */
const TOMBSTONE = 'deleted';

export interface PolicyStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Longest a policy (or its absence) is served from memory by {@link PolicyStore.getMany}, in s; 0 = read every time. @default 10 */
  readonly cacheSeconds?: number;
  /** Most ids kept in the cache; the oldest entry goes first. @default 1000 */
  readonly maxCacheEntries?: number;
  /** Epoch milliseconds. @default Date.now */
  readonly clock?: () => number;
}

/** Policies found for some ids, and the ids with no policy. */
export interface PolicyLookup {
  readonly policies: Policy[];
  readonly missing: string[];
}

interface CacheEntry {
  readonly policy: Policy | undefined;
  readonly fetchedAt: number;
}

/**
 * Policy persistence (items `policy#<id>` with `kind = "policy"` in the session table)
 * and the authorizer's bounded policy cache.
 *
 * Admin methods (`get`, `put`, `delete`, `list`) always read DynamoDB with strong reads and
 * write conditionally. `getMany` is for the authorizer: policies change rarely, so
 * a policy, or the fact that it does not exist, is reused for less than `cacheSeconds`.
 *
 * @example
 * const policies = new PolicyStore({ client, tableName, cacheSeconds: config.policyCacheSeconds });
 * const { policies: found, missing } = await policies.getMany(session.applyPolicies);
 */
export class PolicyStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #cacheMs: number;
  readonly #clock: () => number;
  /** Insertion order = fetch order, so the first entry is the oldest. */
  readonly #cache: BoundedMap<string, CacheEntry>;

  constructor(options: PolicyStoreOptions) {
    const cacheSeconds = options.cacheSeconds ?? 10;
    const maxEntries = options.maxCacheEntries ?? 1000;
    if (!(cacheSeconds >= 0) || !Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new GatepassError('ERR_CONFIG_INVALID', 'cacheSeconds must be >= 0 and maxCacheEntries a positive integer');
    }
    this.#client = options.client;
    this.#table = options.tableName;
    this.#cacheMs = cacheSeconds * 1000;
    this.#cache = new BoundedMap(cacheSeconds === 0 ? 0 : maxEntries);
    this.#clock = options.clock ?? Date.now;
  }

  /** Strongly consistent read; `undefined` when there is no such policy. */
  async get(id: string): Promise<Policy | undefined> {
    const item = await this.#raw(id);
    if (item === undefined || item[TOMBSTONE] === true) return undefined;
    await preloadUrlPatterns(item); // its schema checks URL patterns
    return toPolicy(await policySchemas(), item);
  }

  /** The policy's item as stored, a deleted policy's tombstone included. */
  async #raw(id: string): Promise<Record<string, unknown> | undefined> {
    const out = await this.#client.send(new GetCommand({ TableName: this.#table, Key: { pk: policyPk(id) }, ConsistentRead: true }));
    return out.Item;
  }

  /**
   * Creates or replaces a policy; returns it as written (`version` 1 when created).
   * Every write is conditional, so no concurrent change is silently lost:
   * - `expectedVersion` n > 0: only if the policy is at version n
   *   ({@link VersionConflictError}, or {@link NotFoundError} when there is none);
   * - `expectedVersion` 0: only if there is no such policy ({@link AlreadyExistsError});
   * - omitted: against what a strong read finds now — created if absent, replaced at the
   *   version read otherwise; a concurrent write in between gives {@link VersionConflictError}.
   *
   * Like every rare admin write, one single-item transaction sent by `transactOnce`: its
   * `ClientRequestToken` is kept across every re-send that may follow a landing (the SDK's,
   * and gatepass's own after throttling), and DynamoDB answers a token it has seen in the last
   * 10 minutes with the first outcome instead of applying it again — so a PUT that landed is
   * answered as written, never as a conflict, whatever was written in between. The answer is
   * the policy as written.
   */
  async put(id: string, fields: PolicyFields, expectedVersion?: number): Promise<Policy> {
    const schemas = await policySchemas();
    const stored = await this.#raw(id);
    const deleted = stored?.[TOMBSTONE] === true ? (stored.version as number) : undefined;
    const version = expectedVersion ?? (deleted === undefined ? ((stored?.version as number | undefined) ?? 0) : 0);
    const now = Math.floor(this.#clock() / 1000);
    const x = new UpdateExpression();
    if (version === 0 && deleted !== undefined) {
      // Created again after a delete: its versions go on from the deleted one's, so an If-Match read before never matches it.
      x.when('still the deleted policy read', `${x.name(TOMBSTONE)} = ${x.value(true)} AND ${x.name('version')} = ${x.value(deleted)}`);
      x.remove(TOMBSTONE).set('createdAt', now);
    } else if (version === 0) {
      x.when('no such policy yet', `attribute_not_exists(${x.name('pk')})`);
      x.set('createdAt', now);
    } else {
      x.when('the version expected', `${x.name('version')} = ${x.value(version)} AND attribute_not_exists(${x.name(TOMBSTONE)})`);
    }
    x.set('kind', KIND)
      .set('id', id)
      .set('version', (deleted ?? version) + 1)
      .set('updatedAt', now);
    for (const [field, value] of Object.entries(fields)) if (value !== undefined) x.set(field, value);
    // A replace: an optional field the new body leaves out goes.
    for (const field of schemas.OPTIONAL_POLICY_FIELDS) if (fields[field] === undefined) x.remove(field);
    this.#cache.delete(id);
    const update = { TableName: this.#table, Key: { pk: policyPk(id) }, ...x.build() };
    await transactOnce<Record<string, unknown>>(this.#client, [{ Update: update as TransactItem['Update'] }], (old) => {
      const current = old === undefined || old[TOMBSTONE] === true ? undefined : toPolicy(schemas, old);
      if (current === undefined && (expectedVersion ?? 0) > 0) throw new NotFoundError(`no policy ${id}`);
      if (current === undefined) throw new VersionConflictError(`policy ${id} was written concurrently`, undefined);
      if (expectedVersion === 0) throw new AlreadyExistsError(`policy ${id} already exists`);
      throw new VersionConflictError(`policy ${id} changed concurrently (expected version ${version}, found ${current.version})`, current);
    });
    // As written: the fields given, at the version the guard held (the item may have moved on since).
    const createdAt = deleted === undefined && typeof stored?.createdAt === 'number' && version > 0 ? stored.createdAt : now;
    return toPolicy(schemas, { ...fields, pk: policyPk(id), id, version: (deleted ?? version) + 1, createdAt, updatedAt: now });
  }

  /**
   * Deletes a policy (optionally only at `expectedVersion`); false when there was none.
   *
   * One transaction sent by `transactOnce`, not a `DeleteItem`: when its answer is lost it is
   * sent again under the same `ClientRequestToken`, and DynamoDB answers a token it has
   * seen in the last 10 minutes with the first outcome instead of running it again. So a
   * delete that landed is still reported as done, while a policy that never existed is
   * still `false` (the admin API's 404). The item stays as a tombstone (see `TOMBSTONE`), so
   * that the policy's versions never restart. Policy deletes are rare admin writes, so the
   * transaction's double write cost does not matter.
   */
  async delete(id: string, expectedVersion?: number): Promise<boolean> {
    const schemas = await policySchemas();
    this.#cache.delete(id);
    const x = new UpdateExpression();
    x.when('the policy exists', `attribute_exists(${x.name('pk')}) AND attribute_not_exists(${x.name(TOMBSTONE)})`);
    if (expectedVersion !== undefined) x.when('the version expected', `${x.name('version')} = ${x.value(expectedVersion)}`);
    // A tombstone, out of the listing index: a policy created again goes on from its version.
    x.set(TOMBSTONE, true)
      .setTo('version', `${x.name('version')} + ${x.value(1)}`)
      .remove('kind');
    const update = { TableName: this.#table, Key: { pk: policyPk(id) }, ...x.build() };
    try {
      await transactOnce<Record<string, unknown>>(this.#client, [{ Update: update as TransactItem['Update'] }], (old) => {
        if (old === undefined || old[TOMBSTONE] === true) throw new NoSuchPolicy();
        const current = toPolicy(schemas, old);
        throw new VersionConflictError(
          `policy ${id} changed concurrently (expected version ${expectedVersion}, found ${current.version})`,
          current,
        );
      });
      return true;
    } catch (error) {
      if (error instanceof NoSuchPolicy) return false;
      throw error;
    }
  }

  /**
   * Every policy, sorted by id: the keys from the `kind-index` (no scan), then the items
   * with strong reads. The index is eventually consistent, so a policy created a moment
   * ago may be missing from the list (never from `get`).
   */
  async list(): Promise<Policy[]> {
    const schemas = await policySchemas();
    const ids: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: TABLE.kindIndex.name,
          KeyConditionExpression: '#kind = :kind',
          ExpressionAttributeNames: { '#kind': TABLE.kindIndex.partitionKey },
          ExpressionAttributeValues: { ':kind': KIND },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) ids.push(String(item.pk).slice(policyPk('').length));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    const found = await batchGetConsistent(this.#client, this.#table, ids.map(policyPk));
    return [...found.values()].map((item) => toPolicy(schemas, item)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * The policies named by `ids` (duplicates once, in the order given) and the ids with no
   * policy, for the authorizer. Each answer, found or not, is served from memory while
   * younger than `cacheSeconds` and read again (strongly consistent GetItems, in parallel) after.
   */
  async getMany(ids: readonly string[]): Promise<PolicyLookup> {
    const wanted = [...new Set(ids)];
    const now = this.#clock();
    const known = new Map<string, Policy | undefined>();
    for (const id of wanted) {
      const entry = this.#cache.get(id);
      if (entry !== undefined && now - entry.fetchedAt < this.#cacheMs && now >= entry.fetchedAt) known.set(id, entry.policy);
    }
    const toRead = wanted.filter((id) => !known.has(id));
    if (toRead.length > 0) {
      // GetItem, not BatchGetItem: the authorizer's role may only GetItem/PutItem/UpdateItem.
      const read = await Promise.all(toRead.map((id) => this.get(id)));
      const found = new Map(read.filter((p): p is Policy => p !== undefined).map((p) => [p.id, p]));
      for (const id of toRead) {
        known.set(id, found.get(id));
        this.#remember(id, found.get(id), now);
      }
    }
    const policies: Policy[] = [];
    const missing: string[] = [];
    for (const id of wanted) {
      const policy = known.get(id);
      if (policy === undefined) missing.push(id);
      else policies.push(policy);
    }
    return { policies, missing };
  }

  /** Drops `ids` from this instance's cache: the next `getMany` reads them (a newer version was seen elsewhere). */
  forget(ids: readonly string[]): void {
    for (const id of ids) this.#cache.delete(id);
  }

  #remember(id: string, policy: Policy | undefined, fetchedAt: number): void {
    this.#cache.set(id, { policy, fetchedAt });
  }
}

type PolicySchemas = typeof import('./policy-schema.ts');

/**
 * The policy schemas (zod), imported on the first read or write of a policy rather than at
 * start-up: the authorizer reads policies only for keys that name some, and an API key
 * without policies is answered without loading zod at all.
 */
function policySchemas(): Promise<PolicySchemas> {
  return import('./policy-schema.ts');
}

/**
 * A stored item as a public policy. The item is validated: a malformed policy (written
 * by hand, say) is a fault that fails the request closed, never a silent default.
 */
function toPolicy(schemas: PolicySchemas, item: Record<string, unknown>): Policy {
  const { pk, kind: _kind, id, version, createdAt, updatedAt, ...fields } = item;
  const parsed = schemas.PolicyFieldsSchema.safeParse(fields);
  const id_ = typeof id === 'string' ? id : String(pk).slice(policyPk('').length);
  if (!parsed.success || typeof version !== 'number' || typeof createdAt !== 'number' || typeof updatedAt !== 'number') {
    throw new GatepassError('ERR_STORE', `policy ${id_} is malformed in the table`);
  }
  return { ...parsed.data, id: id_, version, createdAt, updatedAt };
}

/** A delete's condition found no policy (or its tombstone): nothing to delete. */
class NoSuchPolicy extends Error {}
