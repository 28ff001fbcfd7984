/**
 * The error catalogue. Every error symgate raises on purpose carries a
 * stable string code (`ERR_<AREA>_<PROBLEM>`) that callers and tests match on,
 * and, where it wraps another error, that error as `cause`.
 */
export type ErrorCode =
  | 'ERR_CONFIG_INVALID'
  | 'ERR_CONFIG_READ'
  | 'ERR_SYMBOL_INVALID'
  | 'ERR_STORAGE_UNAVAILABLE'
  | 'ERR_STORAGE_FORBIDDEN'
  | 'ERR_EMBEDDED_STORE';

export class SymgateError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SymgateError';
    this.code = code;
  }
}

/** A config file that cannot be read or does not match the schema. */
export class ConfigError extends SymgateError {
  /** One line per problem, each starting with the key path. */
  readonly problems: readonly string[];

  constructor(code: 'ERR_CONFIG_INVALID' | 'ERR_CONFIG_READ', problems: string[], options?: { cause?: unknown }) {
    super(code, problems.join('\n'), options);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** A symbol request path that is malformed or names an S3-unsafe file, which gets a 400. */
export class InvalidSymbolError extends SymgateError {
  constructor(message: string) {
    super('ERR_SYMBOL_INVALID', message);
    this.name = 'InvalidSymbolError';
  }
}

/**
 * A storage request that failed (timeout, network, 5xx, throttling, bad
 * credentials). The message names the bucket and key but never a signed URL
 * or a credential.
 */
export class StorageError extends SymgateError {
  readonly bucket: string;
  readonly key: string;
  readonly status: number | undefined;

  constructor(
    code: 'ERR_STORAGE_UNAVAILABLE' | 'ERR_STORAGE_FORBIDDEN',
    message: string,
    details: { bucket: string; key: string; status?: number | undefined; cause?: unknown },
  ) {
    super(code, message, { cause: details.cause });
    this.name = 'StorageError';
    this.bucket = details.bucket;
    this.key = details.key;
    this.status = details.status;
  }
}
