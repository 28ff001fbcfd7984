import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { logRequest } from '../http/access-log.js';
import type { FixedRoute, RequestHandler } from '../http/handler.js';
import type { RequestContext } from '../http/request-context.js';
import { splitRequestTarget } from '../http/request-target.js';
import { sendText } from '../http/respond.js';
import type { SymgateMetrics } from './metrics.js';

/** Sends the metrics in the Prometheus text format, or 500 when collecting them fails. */
export async function sendMetrics(metrics: SymgateMetrics, res: ServerResponse, logger: Logger): Promise<void> {
  let body: string;
  try {
    body = await metrics.render();
  } catch (error) {
    logger.error({ err: error }, 'Collecting metrics failed');
    sendText(res, 500, 'Collecting metrics failed; see the server log');
    return;
  }
  sendText(res, 200, body, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' });
}

/** Creates the metrics endpoint of the main listener. */
export function createMetricsRoute(metrics: SymgateMetrics, path: string, logger: Logger): FixedRoute {
  return {
    path,
    route: 'metrics',
    handle: (_req, res) => sendMetrics(metrics, res, logger),
  };
}

/**
 * Creates the handler of the separate metrics listener (`metrics.port`): it
 * serves `path` and responds 404 to any other path. Its requests are logged
 * and counted like those of the main listener.
 */
export function createMetricsRequestHandler(metrics: SymgateMetrics, path: string, logger: Logger): RequestHandler {
  return (req, res) => {
    const started = performance.now();
    const context: RequestContext = { route: 'other' };
    res.once('close', () => logRequest(logger, metrics, req, res, context, started, !res.writableFinished));

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendText(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
      return;
    }
    if (splitRequestTarget(req.url)?.pathname !== path) {
      sendText(res, 404, 'Not Found');
      return;
    }
    context.route = 'metrics';
    sendMetrics(metrics, res, logger).catch((error: unknown) => {
      logger.error({ err: error }, 'Sending metrics failed');
      res.destroy();
    });
  };
}
