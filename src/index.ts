export { createSymgate, type Symgate, type SymgateOptions } from './app.js';
export { DEFAULTS, loadConfigFile, parseConfig, validateConfig, type Config, type BucketConfig } from './config/index.js';
export { ConfigError, InvalidSymbolError, StorageError, SymgateError, type ErrorCode } from './errors.js';
export type { FixedRoute, RequestHandler } from './http/handler.js';
export { NOOP_INSTRUMENTATION, type Instrumentation } from './instrumentation.js';
export { createLogger } from './log/logger.js';
export { startServer, type RunningServer, type StartServerOptions } from './server.js';
export {
  createMetrics,
  createMetricsRequestHandler,
  METRIC_NAMES,
  SymgateMetrics,
  type MetricName,
} from './metrics/index.js';
export { openMissingSymbols, type MissingSymbols } from './missing/index.js';
