/**
 * Typed faults. Denials are data (see `decision.ts`); these are for problems that must
 * fail the request closed (the authorizer answers 500, never Allow) or that the admin
 * API maps to an HTTP status.
 */
export type GatepassErrorCode =
  | 'ERR_CONFIG_INVALID'
  | 'ERR_STORE'
  | 'ERR_VERSION_CONFLICT'
  | 'ERR_ALREADY_EXISTS'
  | 'ERR_NOT_FOUND'
  | 'ERR_CONTENTION'
  | 'ERR_VALIDATION'
  | 'ERR_JWKS_UNAVAILABLE'
  | 'ERR_PLUGIN';

export class GatepassError extends Error {
  readonly code: GatepassErrorCode;

  constructor(code: GatepassErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** `GATEPASS_CONFIG` (or the local config file) is missing or invalid. */
export class ConfigError extends GatepassError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONFIG_INVALID', message, options);
  }
}

/** A conditional write lost to a concurrent one; `current` is the item as it is now (ALL_OLD). */
export class VersionConflictError extends GatepassError {
  readonly current: object | undefined;

  constructor(message: string, current: object | undefined) {
    super('ERR_VERSION_CONFLICT', message);
    this.current = current;
  }
}

/** A create found an item already there. */
export class AlreadyExistsError extends GatepassError {
  /** The item that exists, when the store returned it. */
  readonly current: unknown;

  constructor(message: string, current?: unknown) {
    super('ERR_ALREADY_EXISTS', message);
    this.current = current;
  }
}

/** The item to change does not exist. */
export class NotFoundError extends GatepassError {
  constructor(message: string) {
    super('ERR_NOT_FOUND', message);
  }
}

/** A bounded retry loop on conditional writes ran out of attempts: fail closed. */
export class ContentionError extends GatepassError {
  constructor(message: string) {
    super('ERR_CONTENTION', message);
  }
}

/** A plugin threw, timed out, answered something invalid or failed to load: fail closed. */
export class PluginError extends GatepassError {
  readonly plugin: string;

  constructor(plugin: string, message: string, options?: { cause?: unknown }) {
    super('ERR_PLUGIN', `plugin ${plugin}: ${message}`, options);
    this.plugin = plugin;
  }
}
