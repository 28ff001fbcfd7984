export { combineInstrumentation } from './combine.js';
export { createMetricsRequestHandler, createMetricsRoute, sendMetrics } from './endpoint.js';
export {
  createMetrics,
  DURATION_BUCKETS,
  normalizeMethod,
  OTHER_METHOD,
  SymgateMetrics,
  type BucketLabels,
  type MetricsOptions,
} from './metrics.js';
export { METRIC_NAMES, type MetricName } from './names.js';
export { asMissingSymbolsStatsSource, type MissingSymbolsStats, type MissingSymbolsStatsSource } from './sources.js';
