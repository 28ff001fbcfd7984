import type { ExecutionContext } from 'ava';

import { type FaultProxy, type ProxiedRequest, startFaultProxy } from './fault-proxy.js';
import { type S3Fixture, startS3 } from './s3.js';
import { bucketConfig, startSymgate, type SymgateFixture } from './symgate.js';

/** A debug id as the Windows crash reporter sends it: lower case, 33 hex digits. */
export const DEBUG_ID = '44e4ec8c2f41492b9369d6b9a059577c2';

/**
 * Storage settings with one attempt per request, so every injected fault reaches symgate unretried.
 * The timeouts are long because concurrent tests load the machine. A test of the timeout sets a short one.
 */
export const SINGLE_ATTEMPT_STORAGE = { max_attempts: 1, request_timeout_seconds: 10, connect_timeout_seconds: 10 };

export interface StackOptions {
  /** Buckets in search order. Every field besides `name` goes into that bucket's config. */
  buckets: ReadonlyArray<{ name: string } & Record<string, unknown>>;
  /**
   * Top-level config sections such as `cache` or `download`. A `storage` section replaces
   * {@link SINGLE_ATTEMPT_STORAGE}.
   */
  config?: Record<string, unknown>;
  /** Clock for cache TTLs, in milliseconds. */
  clock?: { now(): number };
  /** Whether the proxy records request headers. */
  recordHeaders?: boolean;
}

/** An s3rver, a fault proxy in front of it and a symgate whose buckets all go through the proxy. */
export interface Stack {
  s3: S3Fixture;
  proxy: FaultProxy;
  gate: SymgateFixture;
  /** Absolute URL of `path` on symgate. */
  url(path: string): string;
  /**
   * Number of lookups (HeadObject or ListObjectsV2) the proxy has seen for `bucket`, optionally only
   * those for `key`. Object downloads that follow a redirect are not counted.
   */
  storageLookups(bucket: string, key?: string): number;
}

/** Starts the three servers on free loopback ports and closes them when the test ends. */
export async function startStack(t: ExecutionContext, options: StackOptions): Promise<Stack> {
  const s3 = await startS3({ buckets: options.buckets.map((bucket) => bucket.name) });
  t.teardown(() => s3.close());
  const proxy = await startFaultProxy(
    { host: '127.0.0.1', port: s3.port },
    { recordHeaders: options.recordHeaders === true },
  );
  t.teardown(() => proxy.close());

  const buckets = options.buckets.map(({ name, ...extra }) => bucketConfig(name, proxy.endpoint, extra));
  const gate = await startSymgate(
    { storage: SINGLE_ATTEMPT_STORAGE, ...options.config, buckets },
    options.clock === undefined ? {} : { clock: options.clock },
  );
  t.teardown(() => gate.close());

  return {
    s3,
    proxy,
    gate,
    url: (path) => `${gate.url}${path}`,
    storageLookups: (bucket, key) =>
      proxy.count((request) => {
        const lookedUp = lookedUpKey(request);
        return request.bucket === bucket && lookedUp !== undefined && (key === undefined || lookedUp === key);
      }),
  };
}

// Returns the key of a HeadObject or the prefix of a ListObjectsV2, and undefined for other requests.
function lookedUpKey(request: ProxiedRequest): string | undefined {
  if (request.method === 'HEAD') {
    return request.key;
  }
  const query = new URLSearchParams(request.query);
  if (request.method === 'GET' && query.get('list-type') === '2') {
    return query.get('prefix') ?? '';
  }
  return undefined;
}

/** A clock that only moves when the test advances it. */
export class ManualClock {
  // lru-cache 11 treats an entry stored at time 0 as having no TTL, so the clock starts later.
  private current = 1_000_000;

  now(): number {
    return this.current;
  }

  advance(milliseconds: number): void {
    this.current += milliseconds;
  }
}
