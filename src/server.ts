import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createSymgate, type Symgate, type SymgateOptions } from './app.js';
import type { Config } from './config/index.js';
import { startEmbeddedStore, type EmbeddedStore } from './storage/embedded-store.js';

export interface RunningServer {
  readonly symgate: Symgate;
  readonly server: http.Server;
  /** The URL the server listens on, such as `http://127.0.0.1:8000`. */
  readonly url: string;
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

  const symgate = createSymgate(config, options);
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
    await embeddedStore?.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
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
    // Keep-alive connections turn idle as their last response ends; close them
    // then rather than after keepAliveTimeout.
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
    await symgate.close();
    await embeddedStore?.close();
    logger.info({ reason }, 'Shutdown complete');
  }

  return { symgate, server, url, stop };
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
