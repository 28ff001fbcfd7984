import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import test from 'ava';
import { pino, type DestinationStream } from 'pino';
import { logRequest } from '../src/http/access-log.js';
import type { RequestContext } from '../src/http/request-context.js';
import { NOOP_INSTRUMENTATION } from '../src/instrumentation.js';
import { createLogger, lineWriterFor } from '../src/log/logger.js';

/** Collects the raw text of each line, with its time replaced, so that lines can be compared as strings. */
class RawLines implements DestinationStream {
  readonly lines: string[] = [];

  write(text: string): void {
    for (const line of text.split('\n')) {
      if (line !== '') {
        this.lines.push(line.replace(/,"time":"[^"]*"/, ',"time":"T"'));
      }
    }
  }
}

/** Creates a pino logger in createLogger's format that createLogger did not make, so it takes the pino path. */
function plainPino(destination: DestinationStream) {
  return pino(
    {
      level: 'debug',
      base: { service: 'symgate' },
      timestamp: () => ',"time":"T"',
      formatters: { level: (label: string) => ({ level: label }) },
    },
    destination,
  );
}

interface Case {
  name: string;
  method?: string;
  url: string;
  status: number;
  finished?: boolean;
  context: RequestContext;
}

const cases: Case[] = [
  { name: 'cache hit', url: '/xul.pdb/ABC/xul.sym', status: 302, context: { route: 'symbol', cache: 'hit' } },
  { name: 'ignored', url: '/xul.pdb/ABC/xul.exe', status: 404, context: { route: 'symbol', ignored: 'extension' } },
  { name: 'server error', url: '/x.pdb/ABC/x.sym', status: 503, context: { route: 'symbol', cache: 'miss' } },
  { name: 'aborted', url: '/x.pdb/ABC/x.sym', status: 200, finished: false, context: { route: 'symbol' } },
  { name: 'healthy heartbeat', url: '/__heartbeat__', status: 200, context: { route: 'heartbeat' } },
  { name: 'quotes and backslash', url: '/a"b\\c/ABC/x.sym?q="1"', status: 400, context: { route: 'symbol' } },
  { name: 'unicode', url: '/汉字/ABC/😀.sym', status: 404, context: { route: 'symbol', cache: 'coalesced' } },
  { name: 'control characters', url: '/a\u0001b\u007f/\u2028', status: 404, context: { route: 'other' } },
  { name: 'long target', url: `/${'a'.repeat(3000)}`, status: 404, context: { route: 'other' } },
  { name: 'other method', method: 'PROPFIND', url: '/', status: 405, context: { route: 'other' } },
];

for (const entry of cases) {
  test(`line matches pino: ${entry.name}`, (t) => {
    const fast = new RawLines();
    const slow = new RawLines();
    const fastLogger = createLogger('debug', fast);
    const slowLogger = plainPino(slow);
    t.truthy(lineWriterFor(fastLogger), 'createLogger registers a line writer');
    t.is(lineWriterFor(slowLogger), undefined, 'other loggers take the pino path');

    const req = { method: entry.method ?? 'GET', url: entry.url } as IncomingMessage;
    const res = { statusCode: entry.status, writableFinished: entry.finished ?? true } as ServerResponse;
    const started = performance.now();
    logRequest(fastLogger, NOOP_INSTRUMENTATION, req, res, { ...entry.context }, started, !res.writableFinished);
    logRequest(slowLogger, NOOP_INSTRUMENTATION, req, res, { ...entry.context }, started, !res.writableFinished);

    t.is(fast.lines.length, 1);
    t.is(slow.lines.length, 1);
    const fastLine = JSON.parse(fast.lines[0]!) as Record<string, unknown>;
    const slowLine = JSON.parse(slow.lines[0]!) as Record<string, unknown>;
    // The two calls measure their durations apart; every other byte must match.
    t.is(typeof fastLine.duration_ms, 'number');
    t.is(
      fast.lines[0]!.replace(/"duration_ms":[^,]*/, '"duration_ms":0'),
      slow.lines[0]!.replace(/"duration_ms":[^,]*/, '"duration_ms":0'),
    );
    t.deepEqual({ ...fastLine, duration_ms: 0 }, { ...slowLine, duration_ms: 0 });
  });
}

test('line levels and fields', (t) => {
  const lines = new RawLines();
  const logger = createLogger('debug', lines);
  const send = (entry: Case) =>
    logRequest(
      logger,
      NOOP_INSTRUMENTATION,
      { method: 'GET', url: entry.url } as IncomingMessage,
      { statusCode: entry.status, writableFinished: entry.finished ?? true } as ServerResponse,
      entry.context,
      performance.now(),
      entry.finished === false,
    );
  for (const entry of cases) {
    send(entry);
  }
  const parsed = lines.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const byName = new Map(cases.map((entry, index) => [entry.name, parsed[index]!]));

  t.is(byName.get('cache hit')?.level, 'info');
  t.is(byName.get('cache hit')?.cache, 'hit');
  t.is(byName.get('ignored')?.ignored, 'extension');
  t.is(byName.get('server error')?.level, 'error');
  t.is(byName.get('aborted')?.aborted, true);
  t.is(byName.get('aborted')?.msg, 'Request aborted by the client');
  t.is(byName.get('healthy heartbeat')?.level, 'debug');
  t.is(byName.get('unicode')?.path, '/汉字/ABC/😀.sym');
  t.is(String(byName.get('long target')?.path).length, 2049, 'cut at 2048 characters plus an ellipsis');
  t.false('cache' in byName.get('aborted')!, 'no cache field without a lookup');
});

test('line escapes lone surrogates', (t) => {
  // pino writes a lone surrogate as it is, which UTF-8 output turns into U+FFFD; the access log escapes it.
  const lines = new RawLines();
  logRequest(
    createLogger('debug', lines),
    NOOP_INSTRUMENTATION,
    { method: 'GET', url: '/a\ud800b/\udfff' } as IncomingMessage,
    { statusCode: 404, writableFinished: true } as ServerResponse,
    { route: 'other' },
    performance.now(),
    false,
  );
  t.true(lines.lines[0]!.includes('"path":"/a\\ud800b/\\udfff"'));
  t.is((JSON.parse(lines.lines[0]!) as { path: string }).path, '/a\ud800b/\udfff');
});

test('disabled levels write nothing', (t) => {
  const lines = new RawLines();
  const logger = createLogger('warn', lines);
  logRequest(
    logger,
    NOOP_INSTRUMENTATION,
    { method: 'GET', url: '/x' } as IncomingMessage,
    { statusCode: 302, writableFinished: true } as ServerResponse,
    { route: 'symbol', cache: 'hit' },
    performance.now(),
    false,
  );
  t.deepEqual(lines.lines, []);
});

test('stdout loggers share one batcher', (t) => {
  const before = process.listenerCount('exit');
  createLogger('info');
  const afterFirst = process.listenerCount('exit');
  createLogger('info');
  createLogger('warn');
  t.true(afterFirst - before <= 1, 'at most one exit handler for the first stdout logger');
  t.is(process.listenerCount('exit'), afterFirst, 'later stdout loggers add none');
});
