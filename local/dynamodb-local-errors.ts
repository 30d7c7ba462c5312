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
      'DynamoDB Local needs Java 17+: `java` was not found on PATH. On Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless',
      options,
    );
    this.name = 'JavaNotFoundError';
  }
}
