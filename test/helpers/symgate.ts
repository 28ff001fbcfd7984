import { Writable } from 'node:stream';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSymgate, type Symgate, type SymgateOptions } from '../../src/app.js';
import { validateConfig, type Config } from '../../src/config/index.js';
import { createLogger } from '../../src/log/logger.js';

/** Log lines written by an instance under test, parsed from its JSON output. */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() !== '') {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      }
    }
    callback();
  }

  /** Lines whose `msg` equals `message`. */
  withMessage(message: string): Record<string, unknown>[] {
    return this.lines.filter((line) => line.msg === message);
  }
}

export interface SymgateFixture {
  symgate: Symgate;
  config: Config;
  url: string;
  logs: LogCapture;
  close(): Promise<void>;
}

/**
 * Validates `raw` as a config file would be, starts the handler on a free
 * loopback port and captures its logs. Relative paths resolve against the
 * working directory.
 */
export async function startSymgate(
  raw: Record<string, unknown>,
  options: Omit<SymgateOptions, 'logger'> = {},
): Promise<SymgateFixture> {
  const config = validateConfig(raw, { baseDirectory: process.cwd(), env: {} });
  const logs = new LogCapture();
  const logger = createLogger('debug', logs);
  const symgate = createSymgate(config, { ...options, logger });
  const server = http.createServer(symgate.handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    symgate,
    config,
    url: `http://127.0.0.1:${port}`,
    logs,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await symgate.close();
    },
  };
}

/** Builds a bucket entry for a test config: path style against `endpoint`, public unless overridden. */
export function bucketConfig(name: string, endpoint: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, endpoint, force_path_style: true, region: 'us-east-1', ...extra };
}

/** S3RVER's key pair in config form, for private buckets. */
export const S3RVER_CONFIG_CREDENTIALS = { access_key_id: 'S3RVER', secret_access_key: 'S3RVER' };

/** Sends one request without following redirects and returns status, headers and body text. */
export async function request(
  url: string,
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: string }> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/**
 * Sends one request with the path exactly as given: fetch() would resolve
 * `.` and `..` segments and re-encode characters, which these tests must not.
 */
export function rawRequest(
  baseUrl: string,
  path: string,
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const base = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      { host: base.hostname, port: base.port, path, method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}
