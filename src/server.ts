import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createSymgate, type Symgate, type SymgateOptions } from './app.js';
import type { Config } from './config/index.js';
import { createMetricsRequestHandler } from './metrics/index.js';
import { openMissingSymbols, type MissingSymbols } from './missing/index.js';
import { startEmbeddedStore, type EmbeddedStore } from './storage/embedded-store.js';

export interface RunningServer {
  readonly symgate: Symgate;
  readonly server: http.Server;
  /** The URL the server listens on, such as `http://127.0.0.1:8000`. */
  readonly url: string;
  /** The URL of the separate metrics listener when `metrics.port` is set, such as `http://127.0.0.1:9464`. */
  readonly metricsUrl: string | undefined;
  /** Recording and export of missing symbols. Undefined when `missing_symbols.enabled` is false or a `recorder` was passed. */
  readonly missingSymbols: MissingSymbols | undefined;
  /**
   * Stops accepting connections, lets requests in flight finish within
   * `server.shutdown_timeout_seconds`, then closes what is left and releases
   * storage. Safe to call more than once.
   */
  stop(reason?: string): Promise<void>;
}

export interface StartServerOptions extends Omit<SymgateOptions, 'logger'> {
  logger: Logger;
  /** Shown in the start log line. */
  configPath?: string;
}

/** Starts the standalone server: the embedded store when configured, then the HTTP listener. */
export async function startServer(config: Config, options: StartServerOptions): Promise<RunningServer> {
  const { logger } = options;
  let embeddedStore: EmbeddedStore | undefined;
  if (config.embedded_store !== undefined) {
    embeddedStore = await startEmbeddedStore(config, logger);
  }

  let missingSymbols: MissingSymbols | undefined;
  if (config.missing_symbols.enabled && options.recorder === undefined) {
    try {
      missingSymbols = await openMissingSymbols(config.missing_symbols, {
        logger,
        ...(options.clock ? { clock: options.clock } : {}),
      });
    } catch (error) {
      await embeddedStore?.close();
      throw error;
    }
  }

  const symgate = createSymgate(
    config,
    missingSymbols === undefined
      ? options
      : {
          ...options,
          recorder: missingSymbols.recorder,
          routes: [...(options.routes ?? []), missingSymbols.csvRoute],
          missingSymbolsStats: options.missingSymbolsStats ?? missingSymbols,
        },
  );
  let draining = false;
  const server = http.createServer((req, res) => {
    if (draining) {
      res.setHeader('Connection', 'close');
    }
    symgate.handler(req, res);
  });
  try {
    await listen(server, config.server.host, config.server.port);
  } catch (error) {
    await symgate.close();
    await missingSymbols?.close();
    await embeddedStore?.close();
    throw error;
  }
  const url = listenerUrl(server);
  logger.info(
    {
      address: url,
      version: symgate.version.version,
      commit: symgate.version.commit,
      config: options.configPath,
      buckets: config.buckets.map((bucket) => bucket.name),
    },
    'symgate listening',
  );

  let metricsServer: http.Server | undefined;
  let metricsUrl: string | undefined;
  if (symgate.metrics !== undefined && config.metrics.port !== undefined) {
    metricsServer = http.createServer(createMetricsRequestHandler(symgate.metrics, config.metrics.path, logger));
    try {
      await listen(metricsServer, config.metrics.host ?? config.server.host, config.metrics.port);
    } catch (error) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await symgate.close();
      await missingSymbols?.close();
      await embeddedStore?.close();
      throw error;
    }
    metricsUrl = listenerUrl(metricsServer);
    logger.info({ address: metricsUrl, path: config.metrics.path }, 'Metrics listening');
  }

  let stopping: Promise<void> | undefined;
  const stop = (reason = 'stop requested') => {
    stopping ??= shutdown(reason);
    return stopping;
  };

  async function shutdown(reason: string): Promise<void> {
    const deadlineMs = config.server.shutdown_timeout_seconds * 1000;
    logger.info({ reason, deadline_seconds: config.server.shutdown_timeout_seconds }, 'Shutting down: draining requests');
    draining = true;
    symgate.startDraining();

    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections turn idle as their last response ends, so they
    // are closed then rather than after keepAliveTimeout.
    server.closeIdleConnections();
    const idleSweep = setInterval(() => server.closeIdleConnections(), 100);

    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      closed.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), deadlineMs);
      }),
    ]);
    clearTimeout(timer);
    clearInterval(idleSweep);

    if (timedOut) {
      logger.warn({ deadline_seconds: config.server.shutdown_timeout_seconds }, 'Requests still open at the shutdown deadline; closing their connections');
      server.closeAllConnections();
      await closed;
    }

    // The metrics listener stays open while requests drain, so the drain shows in the metrics.
    if (metricsServer !== undefined) {
      const metricsClosed = new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      metricsServer.closeAllConnections();
      await metricsClosed;
    }

    await symgate.close();
    // After the drain, so the records of the last requests are written too.
    await missingSymbols?.close();
    await embeddedStore?.close();
    logger.info({ reason }, 'Shutdown complete');
  }

  return { symgate, server, url, metricsUrl, missingSymbols, stop };
}

function listenerUrl(server: http.Server): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
