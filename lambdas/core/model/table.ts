/**
 * The shape of gatepass's one DynamoDB table, shared by the store, the local
 * launcher and the CDK construct so that all three agree.
 */
export const TABLE = {
  /** Partition key (string): `key#<keyId>`, `jwt#<hash>` or `policy#<id>`. */
  partitionKey: 'pk',
  /** TTL attribute: `expires + sessionRetentionSeconds`, absent when a session never expires. */
  ttlAttribute: 'ttl',
  /**
   * Sparse global secondary index on `alias`, for alias look-ups without a scan.
   * KEYS_ONLY: counter updates on a session then never write to the index.
   */
  aliasIndex: { name: 'alias-index', partitionKey: 'alias' },
  /**
   * Index on `kind` (sessions: `key#0`…`key#f`, `jwt#0`…`jwt#f`, sharded as kind-index.ts
   * explains; `policy`) sorted by `pk`, for listing one kind of item
   * without a scan. KEYS_ONLY, for the same reason as the alias index.
   */
  kindIndex: { name: 'kind-index', partitionKey: 'kind', sortKey: 'pk' },
} as const;

/** Default table name, locally and in the CDK app. */
export const DEFAULT_TABLE_NAME = 'gatepass-sessions';
