import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Instrumentation, Route } from '../instrumentation.js';
import { logRequest } from './access-log.js';
import type { Dockerflow } from './dockerflow.js';
import type { RequestContext } from './request-context.js';
import { splitRequestTarget, type RequestTarget } from './request-target.js';
import { sendText } from './respond.js';
import type { SymbolRoute } from './symbol-route.js';

/** An endpoint at a fixed path, such as `/metrics` or `/missingsymbols.csv`. */
export interface FixedRoute {
  readonly path: string;
  readonly route: Route;
  handle(req: IncomingMessage, res: ServerResponse, target: RequestTarget): void | Promise<void>;
}

export interface RequestHandlerOptions {
  logger: Logger;
  instrumentation: Instrumentation;
  symbolRoute: SymbolRoute;
  dockerflow: Dockerflow;
  routes?: readonly FixedRoute[];
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Creates the framework-free request handler: node:http, Express/Connect and Fastify adapters all call it. */
export function createRequestHandler(options: RequestHandlerOptions): RequestHandler {
  const { logger, instrumentation, symbolRoute, dockerflow } = options;
  const fixedRoutes = new Map<string, FixedRoute>();
  for (const route of options.routes ?? []) {
    fixedRoutes.set(route.path, route);
  }
  fixedRoutes.set('/__lbheartbeat__', { path: '/__lbheartbeat__', route: 'heartbeat', handle: (_req, res) => dockerflow.lbHeartbeat(res) });
  fixedRoutes.set('/__heartbeat__', { path: '/__heartbeat__', route: 'heartbeat', handle: (_req, res) => dockerflow.heartbeat(res) });
  fixedRoutes.set('/__version__', { path: '/__version__', route: 'other', handle: (_req, res) => dockerflow.versionInfo(res) });

  // Returns a promise only when the response has to wait, so that cache hits
  // get their response within the request event.
  function route(req: IncomingMessage, res: ServerResponse, context: RequestContext): void | Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendText(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
      return;
    }
    const target = splitRequestTarget(req.url);
    if (target === undefined) {
      sendText(res, 400, 'Invalid request target');
      return;
    }
    const fixed = fixedRoutes.get(target.pathname);
    if (fixed !== undefined) {
      context.route = fixed.route;
      return fixed.handle(req, res, target);
    }
    const handled = symbolRoute(req, res, target, context);
    if (handled === false) {
      sendText(res, 404, 'Not Found');
    } else if (handled !== true) {
      return handled.then((done) => {
        if (!done) {
          sendText(res, 404, 'Not Found');
        }
      });
    }
  }

  function fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    logger.error({ err: error, method: req.method, path: req.url }, 'Request failed with an unexpected error');
    if (!res.headersSent) {
      sendText(res, 500, 'Internal Server Error');
    } else {
      res.destroy();
    }
  }

  return (req, res) => {
    const started = performance.now();
    const context: RequestContext = { route: 'other' };
    let pending: void | Promise<void> = undefined;
    try {
      pending = route(req, res, context);
    } catch (error) {
      fail(req, res, error);
    }
    if (pending === undefined && res.writableEnded) {
      // The response was handed to the socket within this call, as for cache
      // hits, so it is logged now: a 'close' listener per request costs them
      // a measurable share of their throughput.
      logRequest(logger, instrumentation, req, res, context, started, false);
      return;
    }
    res.once('close', () => logRequest(logger, instrumentation, req, res, context, started, !res.writableFinished));
    pending?.catch((error: unknown) => fail(req, res, error));
  };
}
