import type { IgnoreReason } from './symbols/index.js';

export type StorageOperation = 'head' | 'list';
export type StorageOutcome = 'found' | 'missing' | 'forbidden' | 'error';
export type LocationKind = 'regular' | 'try';
export type CacheResult = 'hit' | 'miss' | 'coalesced' | 'refresh';
export type LookupOutcomeLabel = 'found' | 'missing' | 'error';
export type Route = 'symbol' | 'csv' | 'heartbeat' | 'metrics' | 'other';

/**
 * Measurement points of the request path. The core calls these and never
 * imports prom-client, so it can run with metrics off ({@link NOOP_INSTRUMENTATION}).
 */
export interface Instrumentation {
  storageRequest(bucket: string, operation: StorageOperation, outcome: StorageOutcome, seconds: number): void;
  cacheLookup(result: CacheResult): void;
  /** The figure sent as `Debug-Time`; `cache` is hit only when no storage call was made. */
  lookupFinished(outcome: LookupOutcomeLabel, cache: 'hit' | 'miss', seconds: number): void;
  symbolFound(bucket: string, location: LocationKind): void;
  requestIgnored(reason: IgnoreReason): void;
  requestRejected(): void;
  requestFinished(method: string, route: Route, status: number, seconds: number): void;
}

export const NOOP_INSTRUMENTATION: Instrumentation = {
  storageRequest() {},
  cacheLookup() {},
  lookupFinished() {},
  symbolFound() {},
  requestIgnored() {},
  requestRejected() {},
  requestFinished() {},
};
