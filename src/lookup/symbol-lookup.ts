import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { CacheResult, Instrumentation } from '../instrumentation.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import { StorageError } from '../errors.js';
import { joinKey, type Location, type Locations } from '../storage/index.js';
import { symbolKey, type SymbolRequest } from '../symbols/index.js';

export type LookupOutcome =
  | { readonly found: true; readonly location: Location; readonly key: string }
  | { readonly found: false };

export interface LookupResult {
  readonly outcome: LookupOutcome;
  readonly cache: CacheResult;
  /** Time spent in {@link SymbolLookup.lookup}, the figure of the `Debug-Time` header. */
  readonly seconds: number;
}

/** A cache entry: the index of the location that has the file, or -1 for not found. */
type CachedLocation = number;
const NOT_FOUND: CachedLocation = -1;

// Passed to every cache read, so that lru-cache does not create an empty options object per call.
const NO_GET_OPTIONS = Object.freeze({});

interface SearchResult {
  readonly outcome: LookupOutcome;
  /** False when a location before the one that has the file failed, so the result may change. */
  readonly cacheable: boolean;
}

type Probe = { result: 'found' | 'missing' | 'forbidden' } | { error: StorageError };

export interface LookupOptions {
  /** Search the try locations too, after the regular ones. */
  tryBuild: boolean;
  /** Skip the cache and store the fresh result. */
  refresh: boolean;
}

export interface SymbolLookupOptions {
  locations: Locations;
  cache: Config['cache'];
  logger: Logger;
  instrumentation: Instrumentation;
  /** Clock for cache TTLs, in milliseconds; tests inject one. */
  clock?: { now(): number };
}

/**
 * Finds symbols across the configured locations: cache first, then every
 * location at once, taking the first in search order that has the file.
 * Concurrent lookups of one key share a single search.
 */
export class SymbolLookup {
  private readonly locations: Locations;
  private readonly cache: LRUCache<string, CachedLocation>;
  private readonly foundTtlMs: number;
  private readonly missingTtlMs: number;
  private readonly inFlight = new Map<string, Promise<SearchResult>>();
  private readonly warnings: RateLimitedLog;
  private readonly instrumentation: Instrumentation;

  constructor(options: SymbolLookupOptions) {
    this.locations = options.locations;
    this.instrumentation = options.instrumentation;
    this.warnings = new RateLimitedLog(options.logger);
    this.foundTtlMs = options.cache.found_ttl_seconds * 1000;
    this.missingTtlMs = options.cache.missing_ttl_seconds * 1000;
    this.cache = new LRUCache<string, CachedLocation>({
      max: options.cache.max_entries,
      // Entries are numbers, so every entry has the same small size; max bounds memory.
      ttlAutopurge: false,
      // lru-cache reuses one clock reading for ttlResolution ms of real time, so a jump of an
      // injected clock would go unseen for that long. A resolution of 0 reads the clock on every check.
      ...(options.clock ? { perf: options.clock, ttlResolution: 0 } : {}),
    });
  }

  /** Number of entries in the cache, expired ones not yet evicted included. */
  get cacheSize(): number {
    return this.cache.size;
  }

  /**
   * Returns the cached outcome of a lookup without waiting, or undefined on a
   * cache miss or a refresh. Callers respond to a hit at once and call
   * {@link lookup} for the rest.
   */
  cached(symbol: SymbolRequest, options: LookupOptions): LookupResult | undefined {
    if (options.refresh) {
      return undefined;
    }
    const started = performance.now();
    const key = symbolKey(symbol);
    const cached = this.cache.get(options.tryBuild ? `try:${key}` : key, NO_GET_OPTIONS);
    if (cached === undefined) {
      return undefined;
    }
    this.instrumentation.cacheLookup('hit');
    const outcome = this.fromCache(cached, options.tryBuild ? this.locations.withTry : this.locations.regular, key);
    const seconds = elapsedSeconds(started);
    this.instrumentation.lookupFinished(outcome.found ? 'found' : 'missing', 'hit', seconds);
    return { outcome, cache: 'hit', seconds };
  }

  /**
   * Looks up a symbol: the cache first, then storage. Throws
   * {@link StorageError} when no location has the file and at least one
   * failed. Such results are not cached.
   */
  async lookup(symbol: SymbolRequest, options: LookupOptions): Promise<LookupResult> {
    const hit = this.cached(symbol, options);
    if (hit !== undefined) {
      return hit;
    }
    const started = performance.now();
    const key = symbolKey(symbol);
    const locations = options.tryBuild ? this.locations.withTry : this.locations.regular;
    const cacheKey = options.tryBuild ? `try:${key}` : key;

    let cache: CacheResult;
    let search = options.refresh ? undefined : this.inFlight.get(cacheKey);
    if (search !== undefined) {
      cache = 'coalesced';
    } else {
      cache = options.refresh ? 'refresh' : 'miss';
      search = this.search(locations, key, cacheKey);
    }
    this.instrumentation.cacheLookup(cache);

    try {
      const { outcome } = await search;
      const seconds = elapsedSeconds(started);
      this.instrumentation.lookupFinished(outcome.found ? 'found' : 'missing', 'miss', seconds);
      return { outcome, cache, seconds };
    } catch (error) {
      this.instrumentation.lookupFinished('error', 'miss', elapsedSeconds(started));
      throw error;
    }
  }

  private fromCache(cached: CachedLocation, locations: readonly Location[], key: string): LookupOutcome {
    const location = cached === NOT_FOUND ? undefined : locations[cached];
    if (location === undefined) {
      return { found: false };
    }
    return { found: true, location, key: joinKey(location.prefix, key) };
  }

  /**
   * Starts a search and registers it for coalescing. Only the search still
   * registered when it ends stores its result, so a lookup that a `?_refresh`
   * overtook cannot overwrite the fresher entry.
   */
  private search(locations: readonly Location[], key: string, cacheKey: string): Promise<SearchResult> {
    const search: Promise<SearchResult> = this.searchLocations(locations, key).then(
      (result) => {
        if (this.inFlight.get(cacheKey) === search) {
          this.inFlight.delete(cacheKey);
          if (result.cacheable) {
            this.store(cacheKey, result.outcome);
          }
        }
        return result;
      },
      (error: unknown) => {
        if (this.inFlight.get(cacheKey) === search) {
          this.inFlight.delete(cacheKey);
        }
        throw error;
      },
    );
    this.inFlight.set(cacheKey, search);
    return search;
  }

  private store(cacheKey: string, outcome: LookupOutcome): void {
    const ttl = outcome.found ? this.foundTtlMs : this.missingTtlMs;
    // lru-cache reads a TTL of 0 as "never expires", so 0 here means "do not cache".
    if (ttl > 0) {
      this.cache.set(cacheKey, outcome.found ? outcome.location.index : NOT_FOUND, { ttl });
    }
  }

  /** Asks every location at once and walks the results in search order. */
  private async searchLocations(locations: readonly Location[], key: string): Promise<SearchResult> {
    const probes = locations.map((location) => this.probe(location, joinKey(location.prefix, key)));
    let firstError: StorageError | undefined;
    for (const [index, location] of locations.entries()) {
      const probe = await probes[index]!;
      if ('error' in probe) {
        firstError ??= probe.error;
        continue;
      }
      if (probe.result === 'found') {
        this.instrumentation.symbolFound(location.bucket.name, location.kind);
        return {
          outcome: { found: true, location, key: joinKey(location.prefix, key) },
          cacheable: firstError === undefined,
        };
      }
    }
    if (firstError !== undefined) {
      throw firstError;
    }
    return { outcome: { found: false }, cacheable: true };
  }

  private async probe(location: Location, key: string): Promise<Probe> {
    const bucket = location.bucket.name;
    try {
      const result = await location.bucket.exists(key);
      if (result === 'forbidden') {
        this.warnings.warn(
          `forbidden:${bucket}`,
          { bucket, key },
          'Storage denied access; the location is skipped and counts as not found. Check the bucket policy and credentials',
        );
      }
      return { result };
    } catch (error) {
      const storageError =
        error instanceof StorageError
          ? error
          : new StorageError('ERR_STORAGE_UNAVAILABLE', `Storage request to bucket ${bucket} failed`, {
              bucket,
              key,
              cause: error,
            });
      this.warnings.warn(
        `error:${bucket}`,
        { bucket, key, status: storageError.status, error: storageError.message },
        'Storage request failed',
      );
      return { error: storageError };
    }
  }
}

function elapsedSeconds(started: number): number {
  return (performance.now() - started) / 1000;
}
