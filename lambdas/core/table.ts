/**
 * The shape of gatepass's one DynamoDB table, shared by the store, the local
 * launcher and the CDK construct so that all three agree.
 */
export const TABLE = {
  /** Partition key (string): `key#<keyId>`, `jwt#<hash>` or `policy#<id>`. */
  partitionKey: 'pk',
  /** TTL attribute: `expires + sessionRetentionSeconds`, absent when a session never expires. */
  ttlAttribute: 'ttl',
  /** Sparse global secondary index on `alias`, for alias look-ups without a scan. */
  aliasIndex: { name: 'alias-index', partitionKey: 'alias' },
} as const;

/** Default table name, locally and in the CDK app. */
export const DEFAULT_TABLE_NAME = 'gatepass-sessions';
