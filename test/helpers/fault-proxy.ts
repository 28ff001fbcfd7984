import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pipeline } from 'node:stream';

/** One request as the proxy received it. */
export interface ProxiedRequest {
  method: string;
  /** Raw request path without the query, still percent-encoded. */
  path: string;
  /** First path segment, percent-decoded (path-style addressing). */
  bucket: string;
  /** Rest of the path after the bucket, percent-decoded. */
  key: string;
  /** Raw query string without the leading '?'. */
  query: string;
  /** Request headers as Node.js parsed them, set only when the proxy was started with `recordHeaders`. */
  headers?: http.IncomingHttpHeaders;
}

export interface FaultProxyOptions {
  /** Adds each request's headers to its ProxiedRequest, for checks such as request signing. */
  recordHeaders?: boolean;
}

/** A fault to inject into the requests that `match` selects. */
export interface FaultRule {
  /** Selects the requests this rule applies to. Without it the rule applies to every request. */
  match?: (request: ProxiedRequest) => boolean;
  /** Delay in milliseconds before the rule's other action, or before forwarding. */
  latencyMs?: number;
  /**
   * HTTP status to return without forwarding. The body is an S3 XML error: 403 AccessDenied,
   * 500 InternalError, 503 SlowDown, and a code named after the status text otherwise.
   * HEAD responses have no body.
   */
  status?: number;
  /** Resets the client connection without sending a response. */
  reset?: boolean;
  /** Never responds, so the request stays open until close(). */
  hang?: boolean;
  /**
   * Number of matching requests the rule applies to, with no limit when unset. Once used up, the rule
   * no longer matches, so later rules or plain forwarding handle the request.
   */
  times?: number;
}

/** A fault-injecting HTTP proxy on 127.0.0.1 in front of one target server. */
export interface FaultProxy {
  /** Base URL, for example 'http://127.0.0.1:PORT'. */
  endpoint: string;
  port: number;
  /** Every request received, in arrival order. */
  requests: ProxiedRequest[];
  count(match?: (request: ProxiedRequest) => boolean): number;
  /** Highest number of requests in flight at once since the last clearRequests(). */
  maxConcurrent: number;
  /** Replaces the rules and resets their `times` counters. The first matching rule applies. */
  setRules(rules: FaultRule[]): void;
  /** Empties `requests` and resets `maxConcurrent` to the number of requests now in flight. */
  clearRequests(): void;
  /**
   * Closes the server, destroys open connections including hung ones, and cancels latency waits.
   * Safe to call more than once.
   */
  close(): Promise<void>;
}

interface ActiveRule {
  rule: FaultRule;
  applied: number;
}

const S3_ERRORS: Record<number, { code: string; message: string }> = {
  403: { code: 'AccessDenied', message: 'Access Denied' },
  500: { code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
  503: { code: 'SlowDown', message: 'Please reduce your request rate.' },
};

// Headers that describe a single connection, which a proxy must not pass on to the next hop.
const HOP_BY_HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Starts a proxy on a free loopback port that forwards to `target`. */
export async function startFaultProxy(
  target: { host: string; port: number },
  options: FaultProxyOptions = {},
): Promise<FaultProxy> {
  const proxy = new FaultProxyServer(target, options.recordHeaders === true);
  await proxy.listen();
  return proxy;
}

class FaultProxyServer implements FaultProxy {
  endpoint = '';
  port = 0;
  readonly requests: ProxiedRequest[] = [];

  private readonly target: { host: string; port: number };
  private readonly recordHeaders: boolean;
  private readonly server: http.Server;
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly sockets = new Set<Socket>();
  private readonly pendingDelays = new Set<() => void>();
  private rules: ActiveRule[] = [];
  private inFlight = 0;
  private highestInFlight = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(target: { host: string; port: number }, recordHeaders: boolean) {
    this.target = target;
    this.recordHeaders = recordHeaders;
    this.server = http.createServer((request, response) => {
      // A throwing `match` function ends up here, so the client gets a 502 that names the error.
      this.handle(request, response).catch((error: unknown) => {
        sendProxyFailure(response, request, `Applying a fault rule failed: ${String(error)}`);
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get maxConcurrent(): number {
    return this.highestInFlight;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.endpoint = `http://127.0.0.1:${this.port}`;
  }

  count(match?: (request: ProxiedRequest) => boolean): number {
    return match === undefined ? this.requests.length : this.requests.filter(match).length;
  }

  setRules(rules: FaultRule[]): void {
    this.rules = rules.map((rule) => ({ rule, applied: 0 }));
  }

  clearRequests(): void {
    this.requests.length = 0;
    this.highestInFlight = this.inFlight;
  }

  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    this.closed = true;
    for (const cancel of this.pendingDelays) {
      cancel();
    }
    this.pendingDelays.clear();

    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) {
      socket.destroy();
    }
    this.agent.destroy();
    await closing;
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const proxied = describeRequest(request);
    if (this.recordHeaders) {
      proxied.headers = { ...request.headers };
    }
    this.requests.push(proxied);

    this.inFlight += 1;
    this.highestInFlight = Math.max(this.highestInFlight, this.inFlight);
    response.once('close', () => {
      this.inFlight -= 1;
    });

    const rule = this.takeRule(proxied);

    if (rule?.latencyMs !== undefined && rule.latencyMs > 0) {
      const elapsed = await this.delay(rule.latencyMs);
      if (!elapsed || response.destroyed) {
        request.destroy();
        return;
      }
    }

    if (rule?.reset) {
      request.socket.resetAndDestroy();
      return;
    }
    if (rule?.hang) {
      return;
    }
    if (rule?.status !== undefined) {
      sendS3Error(response, rule.status, proxied);
      return;
    }
    this.forward(request, response);
  }

  // Returns the first rule that matches and still has uses left, and counts the use.
  private takeRule(request: ProxiedRequest): FaultRule | undefined {
    for (const active of this.rules) {
      const { rule } = active;
      if (rule.times !== undefined && active.applied >= rule.times) {
        continue;
      }
      if (rule.match !== undefined && !rule.match(request)) {
        continue;
      }
      active.applied += 1;
      return rule;
    }
    return undefined;
  }

  // Resolves true after `ms` milliseconds, or false at once if close() cancels the wait first.
  private delay(ms: number): Promise<boolean> {
    if (this.closed) {
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const cancel = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.pendingDelays.delete(cancel);
        resolve(true);
      }, ms);
      this.pendingDelays.add(cancel);
    });
  }

  private forward(request: http.IncomingMessage, response: http.ServerResponse): void {
    const upstream = http.request({
      host: this.target.host,
      port: this.target.port,
      method: request.method,
      // The path stays byte-for-byte as received, because SigV4 signs the encoded path.
      path: request.url,
      // Host is kept as the client sent it, because SigV4 signs it too.
      headers: withoutHopByHop(request.headers),
      agent: this.agent,
    });

    // Destroying `upstream` when the client leaves also ends any forwarding still in progress.
    response.once('close', () => {
      if (!response.writableFinished) {
        upstream.destroy();
      }
    });
    // This listener stays after the request body is sent, so a later upstream failure is still handled.
    upstream.on('error', (error) => {
      sendProxyFailure(response, request, `Forwarding to the target failed: ${error.message}`);
    });

    upstream.on('response', (upstreamResponse) => {
      response.writeHead(
        upstreamResponse.statusCode ?? 502,
        upstreamResponse.statusMessage,
        withoutHopByHop(upstreamResponse.headers),
      );
      pipeline(upstreamResponse, response, () => {
        // On failure pipeline destroys both streams, so the client sees a cut-off body.
      });
    });

    pipeline(request, upstream, () => {
      // Failures reach the 'error' and 'close' listeners above.
    });
  }
}

// Sends a 502 S3 error when no headers have been sent yet, and destroys the connection otherwise.
function sendProxyFailure(response: http.ServerResponse, request: http.IncomingMessage, message: string): void {
  if (response.destroyed || response.writableEnded) {
    return;
  }
  if (response.headersSent) {
    response.destroy();
    return;
  }
  sendS3Error(response, 502, describeRequest(request), message);
}

function describeRequest(request: http.IncomingMessage): ProxiedRequest {
  const url = request.url ?? '/';
  const queryStart = url.indexOf('?');
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  const query = queryStart === -1 ? '' : url.slice(queryStart + 1);

  const withoutSlash = path.startsWith('/') ? path.slice(1) : path;
  const bucketEnd = withoutSlash.indexOf('/');
  const rawBucket = bucketEnd === -1 ? withoutSlash : withoutSlash.slice(0, bucketEnd);
  const rawKey = bucketEnd === -1 ? '' : withoutSlash.slice(bucketEnd + 1);

  return {
    method: request.method ?? 'GET',
    path,
    bucket: decodePathPart(rawBucket),
    key: decodePathPart(rawKey),
    query,
  };
}

// A malformed escape such as '%zz' is kept as sent, so the request is still recorded and forwarded.
function decodePathPart(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function withoutHopByHop(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const listed = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter((name) => name !== ''),
  );
  const forwarded: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP_HEADERS.has(name) && !listed.has(name)) {
      forwarded[name] = value;
    }
  }
  return forwarded;
}

function sendS3Error(
  response: http.ServerResponse,
  status: number,
  request: ProxiedRequest,
  messageOverride?: string,
): void {
  const known = S3_ERRORS[status];
  const statusText = http.STATUS_CODES[status] ?? 'Error';
  const code = known?.code ?? statusText.replace(/[^A-Za-z0-9]/g, '');
  const message = messageOverride ?? known?.message ?? statusText;
  const requestId = randomBytes(8).toString('hex').toUpperCase();

  if (request.method === 'HEAD') {
    response.writeHead(status, { 'x-amz-request-id': requestId, 'content-length': 0 });
    response.end();
    return;
  }

  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<Error>' +
    `<Code>${escapeXml(code)}</Code>` +
    `<Message>${escapeXml(message)}</Message>` +
    `<Resource>${escapeXml(request.path)}</Resource>` +
    `<RequestId>${requestId}</RequestId>` +
    '</Error>';
  response.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': requestId,
  });
  response.end(body);
}

function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
