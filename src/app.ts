import type { Logger } from 'pino';
import type { Config } from './config/index.js';
import { createRequestHandler, type FixedRoute, type RequestHandler } from './http/handler.js';
import { Dockerflow } from './http/dockerflow.js';
import { createSymbolRoute } from './http/symbol-route.js';
import { NOOP_INSTRUMENTATION, type Instrumentation } from './instrumentation.js';
import { SymbolLookup } from './lookup/index.js';
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
}

/** One symgate instance: its handler and everything the handler owns. */
export interface Symgate {
  readonly config: Config;
  readonly handler: RequestHandler;
  readonly lookup: SymbolLookup;
  readonly locations: Locations;
  readonly version: VersionInfo;
  /** Makes `/__lbheartbeat__` answer 503, so load balancers stop routing here before shutdown. */
  startDraining(): void;
  /** Releases storage clients. */
  close(): Promise<void>;
}

/**
 * Builds an instance from a validated config. Nothing here is a module
 * global, so two instances can live in one process.
 */
export function createSymgate(config: Config, options: SymgateOptions): Symgate {
  const instrumentation = options.instrumentation ?? NOOP_INSTRUMENTATION;
  const locations = createLocations(config, instrumentation);
  const lookup = new SymbolLookup({
    locations,
    cache: config.cache,
    logger: options.logger,
    instrumentation,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const version = readVersionInfo();
  let draining = false;
  const dockerflow = new Dockerflow(locations.buckets, version, () => draining);
  const symbolRoute = createSymbolRoute({ config, lookup, instrumentation, recorder: options.recorder });
  const handler = createRequestHandler({
    logger: options.logger,
    instrumentation,
    symbolRoute,
    dockerflow,
    routes: options.routes ?? [],
  });

  return {
    config,
    handler,
    lookup,
    locations,
    version,
    startDraining() {
      draining = true;
    },
    async close() {
      locations.close();
    },
  };
}
