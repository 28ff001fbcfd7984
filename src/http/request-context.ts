import type { CacheResult, Route } from '../instrumentation.js';
import type { IgnoreReason } from '../symbols/index.js';

/** Facts about a request that the handler collects for its access-log line and metrics. */
export interface RequestContext {
  route: Route;
  cache?: CacheResult;
  ignored?: IgnoreReason;
}
