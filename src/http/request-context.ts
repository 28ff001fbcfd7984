import type { CacheResult, Route } from '../instrumentation.js';
import type { IgnoreReason } from '../symbols/index.js';

/** What the handler learned about a request, for its access-log line and metrics. */
export interface RequestContext {
  route: Route;
  cache?: CacheResult;
  ignored?: IgnoreReason;
}
