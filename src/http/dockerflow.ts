import type { ServerResponse } from 'node:http';
import type { Bucket } from '../storage/index.js';
import type { VersionInfo } from '../version.js';
import { StorageError } from '../errors.js';
import { sendJson, sendText } from './respond.js';

// A key that no bucket has; "not found" is the healthy result.
const PROBE_KEY = '__symgate_heartbeat__';

interface BucketCheck {
  name: string;
  prefix: string;
  status: 'ok' | 'error';
  message?: string;
}

/**
 * The Dockerflow endpoints: `/__lbheartbeat__` (is the process serving),
 * `/__heartbeat__` (can it reach every bucket) and `/__version__`.
 */
export class Dockerflow {
  private running: Promise<BucketCheck[]> | undefined;

  constructor(
    private readonly buckets: readonly Bucket[],
    private readonly version: VersionInfo,
    private readonly isDraining: () => boolean,
  ) {}

  lbHeartbeat(res: ServerResponse): void {
    // A draining instance responds with 503 so that load balancers stop sending it requests.
    if (this.isDraining()) {
      sendText(res, 503, 'Shutting down');
      return;
    }
    sendText(res, 200, '', { 'Cache-Control': 'no-store' });
  }

  async heartbeat(res: ServerResponse): Promise<void> {
    // Concurrent heartbeats share one round of storage requests.
    this.running ??= this.checkBuckets().finally(() => {
      this.running = undefined;
    });
    const buckets = await this.running;
    const healthy = buckets.every((bucket) => bucket.status === 'ok');
    sendJson(res, healthy ? 200 : 500, { status: healthy ? 'ok' : 'error', buckets });
  }

  versionInfo(res: ServerResponse): void {
    sendJson(res, 200, this.version);
  }

  private checkBuckets(): Promise<BucketCheck[]> {
    return Promise.all(
      this.buckets.map(async (bucket): Promise<BucketCheck> => {
        const prefix = bucket.config.prefix;
        const key = prefix === '' ? PROBE_KEY : `${prefix}/${PROBE_KEY}`;
        try {
          const result = await bucket.probe(key);
          if (result === 'forbidden') {
            return { name: bucket.name, prefix, status: 'error', message: 'Access denied (HTTP 403)' };
          }
          return { name: bucket.name, prefix, status: 'ok' };
        } catch (error) {
          const message = error instanceof StorageError ? error.message : 'Storage request failed';
          return { name: bucket.name, prefix, status: 'error', message };
        }
      }),
    );
  }
}
