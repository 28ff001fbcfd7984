import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Instrumentation } from '../instrumentation.js';
import { lineWriterFor } from '../log/logger.js';
import type { RequestContext } from './request-context.js';

const CLIENT_CLOSED_REQUEST = 499;

/** Maximum length of the request target written to the log; longer ones are cut. */
const MAX_LOGGED_TARGET = 2048;

/**
 * Writes the one log line of each request when its response is done, and
 * reports it to the instrumentation. Server errors log at error, client
 * errors and successes at info, client aborts at info with `aborted: true`.
 * `aborted` is true when the connection closed before the response was sent.
 */
export function logRequest(
  logger: Logger,
  instrumentation: Instrumentation,
  req: IncomingMessage,
  res: ServerResponse,
  context: RequestContext,
  started: number,
  aborted: boolean,
): void {
  const seconds = (performance.now() - started) / 1000;
  const method = req.method ?? '';
  // 499, as nginx counts it: the client closed the connection before the response was sent.
  instrumentation.requestFinished(method, context.route, aborted ? CLIENT_CLOSED_REQUEST : res.statusCode, seconds);

  const level = aborted ? 'info' : levelOf(res.statusCode, context);
  if (!logger.isLevelEnabled(level)) {
    return;
  }
  const target = req.url ?? '';
  const path = target.length > MAX_LOGGED_TARGET ? `${target.slice(0, MAX_LOGGED_TARGET)}…` : target;
  const durationMs = Math.round(seconds * 1e6) / 1000;
  const message = aborted ? 'Request aborted by the client' : 'Request finished';
  const writeLine = lineWriterFor(logger);
  if (writeLine !== undefined) {
    // pino's serializer was the largest cost of a logged cache hit, so the
    // line is built here. Status and duration are numbers; the route
    // sets cache and ignored from fixed sets of plain words.
    const members =
      `,"method":${quoteJson(method)},"path":${quoteJson(path)},"status":${res.statusCode},"duration_ms":${durationMs}` +
      (context.cache === undefined ? '' : `,"cache":"${context.cache}"`) +
      (context.ignored === undefined ? '' : `,"ignored":"${context.ignored}"`) +
      (aborted ? ',"aborted":true' : '');
    writeLine(level, members, aborted ? ABORTED_MESSAGE_JSON : FINISHED_MESSAGE_JSON);
    return;
  }
  // One object literal gives every line the same object shape. pino leaves
  // out the fields that are undefined.
  const fields = {
    method,
    path,
    status: res.statusCode,
    duration_ms: durationMs,
    cache: context.cache,
    ignored: context.ignored,
    aborted: aborted ? true : undefined,
  };
  logger[level](fields, message);
}

const FINISHED_MESSAGE_JSON = JSON.stringify('Request finished');
const ABORTED_MESSAGE_JSON = JSON.stringify('Request aborted by the client');

// Characters that JSON.stringify escapes in a string: quote, backslash, controls, and surrogates (when unpaired).
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/** Returns `text` as a JSON string, as JSON.stringify does, without its call cost for text that needs no escapes. */
function quoteJson(text: string): string {
  return JSON_ESCAPED.test(text) ? JSON.stringify(text) : `"${text}"`;
}

function levelOf(status: number, context: RequestContext): 'error' | 'info' | 'debug' {
  if (status >= 500) {
    return 'error';
  }
  // Load balancers poll the heartbeats every few seconds, so healthy responses would drown the log.
  return context.route === 'heartbeat' && status === 200 ? 'debug' : 'info';
}
