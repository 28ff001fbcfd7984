import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type {
  CacheResult,
  Instrumentation,
  LocationKind,
  LookupOutcomeLabel,
  Route,
  StorageOperation,
  StorageOutcome,
} from '../instrumentation.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import type { IgnoreReason } from '../symbols/index.js';
import type { VersionInfo } from '../version.js';
import { METRIC_NAMES } from './names.js';
import { RequestPathCounter, RequestPathHistogram } from './request-path-metrics.js';
import type { MissingSymbolsStats, MissingSymbolsStatsSource } from './sources.js';

/**
 * Histogram buckets in seconds for every duration. The low end resolves
 * cache hits, which take microseconds. The high end covers S3 round trips,
 * and 30 s covers a storage call whose retries each ran into the request
 * timeout.
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Value of the `method` label for any method outside {@link HTTP_METHODS}. */
export const OTHER_METHOD = 'other';

/** Methods kept as they are in the `method` label: the RFC 9110 methods and PATCH (RFC 5789). */
const HTTP_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

// The `satisfies Record<...>` checks keep these lists complete: adding a value
// to one of the unions fails to compile until it is listed here too.
const CACHE_RESULTS = Object.keys({ hit: 0, miss: 0, coalesced: 0, refresh: 0 } satisfies Record<CacheResult, 0>);
const STORAGE_OUTCOMES = Object.keys({ found: 0, missing: 0, forbidden: 0, error: 0 } satisfies Record<StorageOutcome, 0>);
const IGNORE_REASONS = Object.keys(
  { extension: 0, file_ptr: 0, zero_debug_id: 0, block_pattern: 0 } satisfies Record<IgnoreReason, 0>,
);

/** A configured bucket as the metrics see it, so that its series exist before the first request. */
export interface BucketLabels {
  readonly name: string;
  readonly operation: StorageOperation;
  /** True when the bucket has a try prefix, so symbols can be found in a `try` location. */
  readonly hasTryLocation: boolean;
}

export interface MetricsOptions {
  logger: Logger;
  version: VersionInfo;
  buckets: readonly BucketLabels[];
  /** Returns the number of lookup cache entries. Called at each scrape. */
  cacheEntries: () => number;
  /** Source of the missing-symbol metrics. Without it they are not registered. */
  missingSymbols?: MissingSymbolsStatsSource | undefined;
}

/**
 * The Prometheus metrics of one symgate instance, in a registry of its own,
 * so that two instances in one process never share or clash over a metric.
 */
export class SymgateMetrics implements Instrumentation {
  readonly registry = new Registry();

  private readonly httpRequests: RequestPathCounter;
  private readonly httpRequestDuration: RequestPathHistogram;
  private readonly cacheLookups: RequestPathCounter;
  private readonly lookupDuration: RequestPathHistogram;
  private readonly storageRequestDuration: Histogram<'bucket' | 'operation' | 'outcome'>;
  private readonly symbolsFound: Counter<'bucket' | 'location'>;
  private readonly ignoredRequests: Counter<'reason'>;
  private readonly rejectedRequests: Counter;
  private readonly warnings: RateLimitedLog;

  constructor(options: MetricsOptions) {
    const registers = [this.registry];
    this.warnings = new RateLimitedLog(options.logger);

    // NOTE: prom-client 15 starts an event-loop delay monitor and a GC
    // observer for each registry and never stops them, so they outlive close().
    collectDefaultMetrics({ register: this.registry });

    this.httpRequests = new RequestPathCounter(
      METRIC_NAMES.httpRequests,
      'HTTP responses sent, by request method (other for nonstandard methods), route and status code.',
      ['method', 'route', 'status'],
      this.registry,
    );
    this.httpRequestDuration = new RequestPathHistogram(
      METRIC_NAMES.httpRequestDuration,
      'Time from receiving an HTTP request to the end of its response, by method and route.',
      ['method', 'route'],
      DURATION_BUCKETS,
      this.registry,
    );
    this.cacheLookups = new RequestPathCounter(
      METRIC_NAMES.cacheLookups,
      'Symbol lookups by cache result: hit, miss (storage searched), coalesced (waited for a search of the same symbol already running) or refresh (?_refresh bypassed the cache).',
      ['result'],
      this.registry,
    );
    this.lookupDuration = new RequestPathHistogram(
      METRIC_NAMES.lookupDuration,
      'Time to look up a symbol, the Debug-Time figure, by outcome (found, missing, error) and cache (hit when no storage call was made, else miss).',
      ['outcome', 'cache'],
      DURATION_BUCKETS,
      this.registry,
    );
    this.storageRequestDuration = new Histogram({
      name: METRIC_NAMES.storageRequestDuration,
      help: 'Time of one existence check in a bucket (HeadObject or ListObjectsV2, SDK retries included), by bucket, operation and outcome (found, missing, forbidden, error).',
      labelNames: ['bucket', 'operation', 'outcome'],
      buckets: [...DURATION_BUCKETS],
      registers,
    });
    this.symbolsFound = new Counter({
      name: METRIC_NAMES.symbolsFound,
      help: 'Storage searches that found the symbol, by bucket and location (regular, or try for a try prefix).',
      labelNames: ['bucket', 'location'],
      registers,
    });
    this.ignoredRequests = new Counter({
      name: METRIC_NAMES.ignoredRequests,
      help: 'Symbol requests that got "404 Symbol Not Found (and ignored)" without a storage call, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.rejectedRequests = new Counter({
      name: METRIC_NAMES.rejectedRequests,
      help: 'Symbol requests rejected with 400 because of an invalid path segment or query parameter.',
      registers,
    });

    const { version, commit } = options.version;
    new Gauge({
      name: METRIC_NAMES.buildInfo,
      help: 'Always 1. The labels give the running version and git commit (empty when unknown).',
      labelNames: ['version', 'commit'],
      registers,
    }).set({ version, commit: commit ?? '' }, 1);

    const { cacheEntries } = options;
    new Gauge({
      name: METRIC_NAMES.cacheEntries,
      help: 'Entries in the symbol lookup cache, expired entries not yet evicted included.',
      registers,
      collect() {
        this.set(cacheEntries());
      },
    });

    if (options.missingSymbols !== undefined) {
      this.registerMissingSymbolMetrics(options.missingSymbols);
    }
    this.initializeSeries(options.buckets);
  }

  storageRequest(bucket: string, operation: StorageOperation, outcome: StorageOutcome, seconds: number): void {
    this.storageRequestDuration.observe({ bucket, operation, outcome }, seconds);
  }

  cacheLookup(result: CacheResult): void {
    this.cacheLookups.seriesFor(result).value += 1;
  }

  lookupFinished(outcome: LookupOutcomeLabel, cache: 'hit' | 'miss', seconds: number): void {
    this.lookupDuration.observe(this.lookupDuration.seriesFor(outcome, cache), seconds);
  }

  symbolFound(bucket: string, location: LocationKind): void {
    this.symbolsFound.inc({ bucket, location });
  }

  requestIgnored(reason: IgnoreReason): void {
    this.ignoredRequests.inc({ reason });
  }

  requestRejected(): void {
    this.rejectedRequests.inc();
  }

  requestFinished(method: string, route: Route, status: number, seconds: number): void {
    const methodLabel = normalizeMethod(method);
    this.httpRequests.seriesFor(methodLabel, route, status).value += 1;
    this.httpRequestDuration.observe(this.httpRequestDuration.seriesFor(methodLabel, route), seconds);
  }

  /** Returns the registry's metrics in the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The `Content-Type` of {@link render}'s output. */
  get contentType(): string {
    return this.registry.contentType;
  }

  // Series with known label values start at 0, so that rate() and increase()
  // count the first event, and dashboards show 0 rather than no data.
  private initializeSeries(buckets: readonly BucketLabels[]): void {
    for (const result of CACHE_RESULTS) {
      this.cacheLookups.seriesFor(result);
    }
    for (const reason of IGNORE_REASONS) {
      this.ignoredRequests.inc({ reason }, 0);
    }
    for (const [outcome, cache] of [
      ['found', 'hit'],
      ['found', 'miss'],
      ['missing', 'hit'],
      ['missing', 'miss'],
      ['error', 'miss'],
    ] as const) {
      this.lookupDuration.seriesFor(outcome, cache);
    }
    for (const bucket of buckets) {
      for (const outcome of STORAGE_OUTCOMES) {
        this.storageRequestDuration.zero({ bucket: bucket.name, operation: bucket.operation, outcome });
      }
      this.symbolsFound.inc({ bucket: bucket.name, location: 'regular' }, 0);
      if (bucket.hasTryLocation) {
        this.symbolsFound.inc({ bucket: bucket.name, location: 'try' }, 0);
      }
    }
  }

  private registerMissingSymbolMetrics(source: MissingSymbolsStatsSource): void {
    const registers = [this.registry];
    const readStats = (): MissingSymbolsStats | undefined => {
      try {
        return source.stats();
      } catch (error) {
        this.warnings.warn('missing-symbols-stats', { err: error }, 'Reading missing-symbol stats failed, so the metrics keep their last values');
        return undefined;
      }
    };
    // Each counter mirrors one running total of the recorder.
    const totals = [
      [METRIC_NAMES.missingSymbolsRecorded, 'Missing-symbol requests taken by the recorder.', 'recorded'],
      [METRIC_NAMES.missingSymbolsFlushes, 'Flushes of pending missing-symbol records to the database, failed ones included.', 'flushes'],
      [METRIC_NAMES.missingSymbolsFlushFailures, 'Flushes of missing-symbol records that failed.', 'flushFailures'],
    ] as const;
    for (const [name, help, field] of totals) {
      new Counter({
        name,
        help,
        registers,
        collect() {
          const stats = readStats();
          if (stats !== undefined) {
            this.reset();
            this.inc(stats[field]);
          }
        },
      });
    }

    new Counter({
      name: METRIC_NAMES.missingSymbolsDropped,
      help: 'Missing-symbol requests the recorder did not keep, by reason: full (the in-memory aggregate was full) or oversized (a field was too long).',
      labelNames: ['reason'],
      registers,
      collect() {
        const stats = readStats();
        if (stats !== undefined) {
          this.reset();
          this.inc({ reason: 'full' }, stats.dropped ?? 0);
          this.inc({ reason: 'oversized' }, stats.oversized ?? 0);
        }
      },
    });

    const warnings = this.warnings;
    new Gauge({
      name: METRIC_NAMES.missingSymbolsRecords,
      help: 'Records in the missing-symbols database.',
      registers,
      async collect() {
        try {
          this.set(await source.countRecords());
        } catch (error) {
          warnings.warn('missing-symbols-count', { err: error }, 'Counting missing-symbol records failed, so the metric keeps its last value');
        }
      },
    });
  }
}

/** Creates the metrics of one instance with the process and Node.js default metrics. */
export function createMetrics(options: MetricsOptions): SymgateMetrics {
  return new SymgateMetrics(options);
}

/** Maps a request method to its label value; unknown methods share {@link OTHER_METHOD} to bound the label. */
export function normalizeMethod(method: string): string {
  return HTTP_METHODS.has(method) ? method : OTHER_METHOD;
}
