import type { Logger } from 'pino';
import type { Config } from './config/index.js';
import { createRequestHandler, type FixedRoute, type RequestHandler } from './http/handler.js';
import { Dockerflow } from './http/dockerflow.js';
import { createSymbolRoute } from './http/symbol-route.js';
import { NOOP_INSTRUMENTATION, type Instrumentation } from './instrumentation.js';
import { SymbolLookup } from './lookup/index.js';
import {
  asMissingSymbolsStatsSource,
  combineInstrumentation,
  createMetrics,
  createMetricsRoute,
  type MissingSymbolsStatsSource,
  type SymgateMetrics,
} from './metrics/index.js';
import type { MissingSymbolRecorder } from './missing/types.js';
import { createLocations, type Locations } from './storage/index.js';
import { readVersionInfo, type VersionInfo } from './version.js';

export interface SymgateOptions {
  logger: Logger;
  instrumentation?: Instrumentation;
  recorder?: MissingSymbolRecorder;
  /** Endpoints at fixed paths served next to the symbol route. */
  routes?: readonly FixedRoute[];
  /** Clock for cache TTLs, in milliseconds. */
  clock?: { now(): number };
  /**
   * Source of the missing-symbol metrics. Without it, a `recorder` that has
   * `stats()` and `countRecords()` is used.
   */
  missingSymbolsStats?: MissingSymbolsStatsSource;
}

/** One symgate instance: its handler and everything the handler owns. */
export interface Symgate {
  readonly config: Config;
  readonly handler: RequestHandler;
  readonly lookup: SymbolLookup;
  readonly locations: Locations;
  readonly version: VersionInfo;
  /** The instance's Prometheus metrics; undefined when `metrics.enabled` is false. */
  readonly metrics: SymgateMetrics | undefined;
  /** Makes `/__lbheartbeat__` respond with 503, so load balancers stop routing here before shutdown. */
  startDraining(): void;
  /** Releases storage clients. */
  close(): Promise<void>;
}

/**
 * Builds an instance from a validated config. Nothing here is a module
 * global, so two instances can live in one process.
 */
export function createSymgate(config: Config, options: SymgateOptions): Symgate {
  const version = readVersionInfo();
  const metrics: SymgateMetrics | undefined = config.metrics.enabled
    ? createMetrics({
        logger: options.logger,
        version,
        buckets: config.buckets.map((bucket) => ({
          name: bucket.name,
          operation: bucket.lookup,
          hasTryLocation: bucket.try_prefix !== undefined,
        })),
        // Read only at scrape time, after `lookup` below exists.
        cacheEntries: (): number => lookup.cacheSize,
        missingSymbols: options.missingSymbolsStats ?? asMissingSymbolsStatsSource(options.recorder),
      })
    : undefined;
  const instrumentation = combineInstrumentation(options.instrumentation, metrics) ?? NOOP_INSTRUMENTATION;
  const locations = createLocations(config, instrumentation);
  const lookup = new SymbolLookup({
    locations,
    cache: config.cache,
    logger: options.logger,
    instrumentation,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  let draining = false;
  const dockerflow = new Dockerflow(locations.buckets, version, () => draining);
  const symbolRoute = createSymbolRoute({ config, lookup, instrumentation, recorder: options.recorder });
  const handler = createRequestHandler({
    logger: options.logger,
    instrumentation,
    symbolRoute,
    dockerflow,
    routes: [
      ...(options.routes ?? []),
      // With metrics.port set, server.ts serves the metrics on a listener of their own.
      ...(metrics !== undefined && config.metrics.port === undefined
        ? [createMetricsRoute(metrics, config.metrics.path, options.logger)]
        : []),
    ],
  });

  return {
    config,
    handler,
    lookup,
    locations,
    version,
    metrics,
    startDraining() {
      draining = true;
    },
    async close() {
      locations.close();
    },
  };
}
