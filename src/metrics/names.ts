/**
 * Names of the metrics symgate registers. The Grafana dashboard, docs/metrics.md
 * and the tests refer to these, so a rename here is a breaking change for
 * every dashboard and alert built on them.
 *
 * The process and Node.js metrics from prom-client's `collectDefaultMetrics`
 * (`process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`, ...)
 * keep their standard unprefixed names and are not listed here.
 */
export const METRIC_NAMES = {
  /** Counter by method, route and status: every HTTP response, metrics scrapes included. */
  httpRequests: 'symgate_http_requests_total',
  /** Histogram by method and route: time from request to the end of the response. */
  httpRequestDuration: 'symgate_http_request_duration_seconds',
  /** Counter by result: hit, miss, coalesced or refresh. */
  cacheLookups: 'symgate_cache_lookups_total',
  /** Gauge: entries in the lookup cache, expired ones not yet evicted included. */
  cacheEntries: 'symgate_cache_entries',
  /** Histogram by outcome and cache: the figure of the `Debug-Time` header. */
  lookupDuration: 'symgate_lookup_duration_seconds',
  /** Histogram by bucket, operation and outcome: one HeadObject or ListObjectsV2 call, SDK retries included. */
  storageRequestDuration: 'symgate_storage_request_duration_seconds',
  /** Counter by bucket and location: storage searches that found the symbol. */
  symbolsFound: 'symgate_symbols_found_total',
  /** Counter by reason: requests that got `404 Symbol Not Found (and ignored)`. */
  ignoredRequests: 'symgate_ignored_requests_total',
  /** Counter: symbol requests rejected with 400. */
  rejectedRequests: 'symgate_rejected_requests_total',
  /** Counter: missing-symbol requests taken by the recorder. */
  missingSymbolsRecorded: 'symgate_missing_symbols_recorded_total',
  /** Counter by reason (full, oversized): missing-symbol requests the recorder did not keep. */
  missingSymbolsDropped: 'symgate_missing_symbols_dropped_total',
  /** Counter: flushes of pending missing-symbol records to the database. */
  missingSymbolsFlushes: 'symgate_missing_symbols_flushes_total',
  /** Counter: flushes that failed. */
  missingSymbolsFlushFailures: 'symgate_missing_symbols_flush_failures_total',
  /** Gauge: records in the missing-symbols database. */
  missingSymbolsRecords: 'symgate_missing_symbols_records',
  /** Gauge, always 1, by version and commit. */
  buildInfo: 'symgate_build_info',
} as const;

export type MetricName = (typeof METRIC_NAMES)[keyof typeof METRIC_NAMES];
