import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Config } from '../config/index.js';
import { InvalidSymbolError, StorageError } from '../errors.js';
import type { Instrumentation } from '../instrumentation.js';
import type { LookupResult, SymbolLookup } from '../lookup/index.js';
import type { MissingSymbolRecorder } from '../missing/types.js';
import type { Bucket } from '../storage/index.js';
import { createIgnoreRules, parseSymbolPath, type SymbolRequest } from '../symbols/index.js';
import type { RequestContext } from './request-context.js';
import type { RequestTarget } from './request-target.js';
import { sendText } from './respond.js';

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET',
} as const;

export const NOT_FOUND_BODY = 'Symbol Not Found';
export const IGNORED_BODY = 'Symbol Not Found (and ignored)';

// Characters that cannot appear in a recorded code_file or code_id: the C0
// controls, DEL and the C1 controls (Unicode category Cc).
const CONTROL_CHARACTER = /\p{Cc}/u;

export interface SymbolRouteOptions {
  config: Config;
  lookup: SymbolLookup;
  instrumentation: Instrumentation;
  recorder?: MissingSymbolRecorder | undefined;
}

export type SymbolRoute = (
  req: IncomingMessage,
  res: ServerResponse,
  target: RequestTarget,
  context: RequestContext,
) => boolean | Promise<boolean>;

/**
 * Creates the handler of `/{debug_file}/{debug_id}/{symbol_file}` and its
 * `/try/` and legacy-product forms. It returns false, without responding, for a
 * path that is not a symbol request.
 */
export function createSymbolRoute(options: SymbolRouteOptions): SymbolRoute {
  const { config, lookup, instrumentation, recorder } = options;
  const legacyProducts = new Set(config.download.legacy_product_prefixes);
  const ignoreReason = createIgnoreRules(config.download);
  const retryAfter = String(config.download.retry_after_seconds);
  const cacheControl = new Map<Bucket, string>();

  return (req, res, target, context) => {
    let symbol: SymbolRequest | undefined;
    try {
      symbol = parseSymbolPath(target.pathname, legacyProducts);
    } catch (error) {
      if (error instanceof InvalidSymbolError) {
        context.route = 'symbol';
        instrumentation.requestRejected();
        sendText(res, 400, error.message, CORS_HEADERS);
        return true;
      }
      throw error;
    }
    if (symbol === undefined) {
      return false;
    }
    context.route = 'symbol';

    const isGet = req.method === 'GET';
    // Most requests have no query string, and then the parameter lookups are skipped.
    const query = target.query.size === 0 ? undefined : target.query;
    const codeFile = query?.get('code_file') ?? '';
    const codeId = query?.get('code_id') ?? '';
    if (isGet && (CONTROL_CHARACTER.test(codeFile) || CONTROL_CHARACTER.test(codeId))) {
      instrumentation.requestRejected();
      sendText(res, 400, 'Invalid code_file or code_id: control characters are not allowed', CORS_HEADERS);
      return true;
    }

    const debug = wantsDebug(req.rawHeaders);
    const reason = ignoreReason(symbol);
    if (reason !== undefined) {
      context.ignored = reason;
      instrumentation.requestIgnored(reason);
      sendText(res, 404, IGNORED_BODY, debug ? { ...CORS_HEADERS, 'Debug-Time': '0' } : CORS_HEADERS);
      return true;
    }

    const tryBuild = symbol.tryPrefix || query?.has('try') === true;
    const lookupOptions = { tryBuild, refresh: query?.has('_refresh') === true };
    const answer: Answer = { res, context, symbol, isGet, debug, codeFile, codeId };

    // A cache hit for a public bucket gets its response without leaving this call:
    // no promise and no extra turn of the event loop.
    const hit = lookup.cached(symbol, lookupOptions);
    if (hit !== undefined) {
      return respond(answer, hit);
    }
    return lookup.lookup(symbol, lookupOptions).then(
      (result) => respond(answer, result),
      (error: unknown) => {
        if (error instanceof StorageError) {
          context.cache = 'miss';
          sendUnavailable(res);
          return true;
        }
        throw error;
      },
    );
  };

  function respond(answer: Answer, result: LookupResult): boolean | Promise<boolean> {
    const { res, symbol } = answer;
    answer.context.cache = result.cache;
    const debugTime = answer.debug ? result.seconds.toFixed(6) : undefined;

    const { outcome } = result;
    if (!outcome.found) {
      if (answer.isGet && recorder !== undefined) {
        recorder.record({
          debugFile: symbol.debugFile,
          debugId: symbol.debugId,
          symbolFile: symbol.symbolFile,
          codeFile: answer.codeFile,
          codeId: answer.codeId,
        });
      }
      sendText(res, 404, NOT_FOUND_BODY, withDebugTime(CORS_HEADERS, debugTime));
      return true;
    }
    if (!answer.isGet) {
      res.writeHead(200, { ...withDebugTime(CORS_HEADERS, debugTime), 'Content-Length': 0 });
      res.end();
      return true;
    }

    const bucket = outcome.location.bucket;
    const plainUrl = bucket.publicUrl(outcome.key);
    if (plainUrl !== undefined) {
      sendRedirect(res, plainUrl, cacheControlFor(bucket), debugTime);
      return true;
    }
    return bucket.objectUrl(outcome.key).then(
      (presignedUrl) => {
        sendRedirect(res, presignedUrl, cacheControlFor(bucket), debugTime);
        return true;
      },
      (error: unknown) => {
        if (error instanceof StorageError) {
          sendUnavailable(res);
          return true;
        }
        throw error;
      },
    );
  }

  function cacheControlFor(bucket: Bucket): string {
    let value = cacheControl.get(bucket);
    if (value === undefined) {
      value = `public, max-age=${redirectMaxAge(bucket.config, config.cache.found_ttl_seconds)}`;
      cacheControl.set(bucket, value);
    }
    return value;
  }

  function sendUnavailable(res: ServerResponse): void {
    sendText(res, 503, 'Storage Unavailable, retry later', {
      ...CORS_HEADERS,
      'Retry-After': retryAfter,
      'Cache-Control': 'no-store',
    });
  }
}

/**
 * Sends a redirect. The headers are one object literal, so every redirect
 * has the same object shape: adding them one by one cost a cache hit a
 * measurable share of its throughput.
 */
function sendRedirect(res: ServerResponse, location: string, cacheControl: string, debugTime: string | undefined): void {
  const headers: OutgoingHttpHeaders = {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Methods': 'GET',
    'Cache-Control': cacheControl,
    'Content-Length': 0,
    Location: location,
  };
  if (debugTime !== undefined) {
    headers['Debug-Time'] = debugTime;
  }
  res.writeHead(302, headers);
  res.end();
}

/** Returns `headers` with `Debug-Time` added when `debugTime` is set. */
function withDebugTime(headers: OutgoingHttpHeaders, debugTime: string | undefined): OutgoingHttpHeaders {
  return debugTime === undefined ? headers : { ...headers, 'Debug-Time': debugTime };
}

/** The request state that {@link createSymbolRoute} carries from parsing to the response. */
interface Answer {
  res: ServerResponse;
  context: RequestContext;
  symbol: SymbolRequest;
  isGet: boolean;
  debug: boolean;
  codeFile: string;
  codeId: string;
}

/**
 * Accepts `Debug: true`, `1` or `yes` in any case. Reads rawHeaders because
 * the first read of `req.headers` builds an object of every header, which
 * costs a cache hit about a fifth of its throughput.
 */
function wantsDebug(rawHeaders: readonly string[]): boolean {
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index]!;
    if (name.length === 5 && name.toLowerCase() === 'debug') {
      return /^(true|1|yes)$/i.test(rawHeaders[index + 1]!.trim());
    }
  }
  return false;
}

/**
 * Returns how long a cache in front of symgate may keep a redirect, in seconds. A presigned URL
 * must outlive every cached copy of the redirect, so the limit is half its
 * validity, which leaves the other half for the client to follow it.
 */
export function redirectMaxAge(bucket: Config['buckets'][number], foundTtlSeconds: number): number {
  if (bucket.access === 'private') {
    return Math.min(foundTtlSeconds, Math.floor(bucket.presign_expires_seconds / 2));
  }
  return foundTtlSeconds;
}
