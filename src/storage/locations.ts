import type { Config } from '../config/index.js';
import type { Instrumentation, LocationKind } from '../instrumentation.js';
import { Bucket } from './bucket.js';

/** A place a symbol may be: a bucket and a key prefix inside it. */
export interface Location {
  /** Position in search order: regular locations in config order, then try locations. */
  readonly index: number;
  readonly bucket: Bucket;
  readonly prefix: string;
  readonly kind: LocationKind;
}

export interface Locations {
  readonly buckets: readonly Bucket[];
  /** Regular locations only, searched for a plain request. */
  readonly regular: readonly Location[];
  /** Regular locations followed by try locations, searched for a try request. */
  readonly withTry: readonly Location[];
  close(): void;
}

/** Creates one client per configured bucket and the ordered search locations. */
export function createLocations(config: Config, instrumentation: Instrumentation): Locations {
  const buckets = config.buckets.map((bucket) => new Bucket(bucket, config.storage, instrumentation));
  const regular: Location[] = buckets.map((bucket, index) => ({
    index,
    bucket,
    prefix: bucket.config.prefix,
    kind: 'regular',
  }));
  const withTry: Location[] = [...regular];
  for (const bucket of buckets) {
    if (bucket.config.try_prefix !== undefined) {
      withTry.push({ index: withTry.length, bucket, prefix: bucket.config.try_prefix, kind: 'try' });
    }
  }
  return {
    buckets,
    regular,
    withTry,
    close() {
      for (const bucket of buckets) {
        bucket.close();
      }
    },
  };
}
