import { StorageError } from '../errors.js';

interface SdkErrorShape {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The meaning of a failed S3 call for a lookup. */
export type FailureMeaning = 'missing' | 'forbidden' | StorageError;

/**
 * Translates an error thrown by the S3 client. A 404 means the object is not
 * there. A 403 is its own outcome because S3 also returns 403 for a missing
 * object when the caller lacks s3:ListBucket. Anything else (timeouts,
 * refused or reset connections, 5xx, SlowDown, unknown bucket) becomes a
 * {@link StorageError}.
 */
export function translateS3Error(error: unknown, bucket: string, key: string): FailureMeaning {
  const shape = (error ?? {}) as SdkErrorShape;
  const status = shape.$metadata?.httpStatusCode;
  const name = shape.name ?? '';
  if (name === 'NoSuchBucket') {
    return new StorageError('ERR_STORAGE_UNAVAILABLE', `Bucket ${bucket} does not exist`, { bucket, key, status, cause: error });
  }
  if (status === 404 || name === 'NotFound' || name === 'NoSuchKey') {
    return 'missing';
  }
  if (status === 403 || name === 'AccessDenied' || name === 'Forbidden') {
    return 'forbidden';
  }
  const reason = describeFailure(shape, status);
  return new StorageError('ERR_STORAGE_UNAVAILABLE', `Storage request to bucket ${bucket} failed: ${reason}`, {
    bucket,
    key,
    status,
    cause: error,
  });
}

function describeFailure(shape: SdkErrorShape, status: number | undefined): string {
  // The SDK names some network failures TimeoutError; a system error code such as ECONNRESET is more precise.
  if (shape.code !== undefined && /^E[A-Z]+$/.test(shape.code)) {
    return `network error ${shape.code}`;
  }
  const name = shape.name ?? 'Error';
  const code = shape.code !== undefined && shape.code !== name ? ` (${shape.code})` : '';
  return status === undefined ? `${name}${code}` : `${name}${code}, HTTP ${status}`;
}
