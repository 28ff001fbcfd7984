// Measures what symgate's request handler costs for a cache hit, in-process:
// the handler is called with stand-in request and response objects, so no
// socket, HTTP parser or system call is timed. It compares a bare handler
// that only writes a 302 with symgate's handler with the access log on and
// off, and with metrics off.
//
//   node --import tsx bench/handler.ts [--calls 1000000] [--rounds 3]
//
// Storage is never called: the first request fills the cache from s3rver,
// and every timed request is a cache hit.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { createSymgate } from '../src/app.js';
import { validateConfig } from '../src/config/index.js';
import { createLogger } from '../src/log/logger.js';
import { BENCH_KEY, BENCH_SYMBOL_PATH, describeMachine, startBenchStore } from './common.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '3' },
  },
});
const calls = Number(values.calls);
const rounds = Number(values.rounds);

const KEY = BENCH_KEY;
const SYMBOL_PATH = BENCH_SYMBOL_PATH;

/** The parts of ServerResponse that the cache-hit path uses. */
class StandInResponse extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  writableFinished = false;

  writeHead(status: number): this {
    this.statusCode = status;
    this.headersSent = true;
    return this;
  }

  end(): this {
    this.writableEnded = true;
    this.writableFinished = true;
    return this;
  }
}

function standInRequest(): IncomingMessage {
  return { method: 'GET', url: SYMBOL_PATH, rawHeaders: ['Host', '127.0.0.1:8000', 'User-Agent', 'bench'] } as unknown as IncomingMessage;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const store = await startBenchStore();
const s3Port = store.port;

/** Creates a symgate handler whose cache contains the benchmark's symbol. */
async function symgateHandler(logLevel: 'info' | 'warn', metrics: boolean): Promise<Handler> {
  const config = validateConfig(
    {
      buckets: [{ name: 'bench', prefix: 'v1', endpoint: `http://127.0.0.1:${s3Port}`, force_path_style: true }],
      missing_symbols: { enabled: false },
      metrics: { enabled: metrics },
      logging: { level: logLevel },
    },
    { baseDirectory: process.cwd(), env: {} },
  );
  // Lines are built as for stdout and then dropped.
  const logger = createLogger(logLevel, { write: () => undefined });
  const { handler } = createSymgate(config, { logger });
  const res = new StandInResponse();
  handler(standInRequest(), res as unknown as ServerResponse);
  for (let attempt = 0; attempt < 100 && !res.writableEnded; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (res.statusCode !== 302) {
    throw new Error(`expected the first request to redirect, got ${res.statusCode}`);
  }
  return handler;
}

function bareHandler(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(302, { Location: `http://127.0.0.1:${s3Port}/bench/${KEY}`, 'Content-Length': 0 });
  res.end();
}

/** Returns nanoseconds per call, after a warm-up of a tenth of the calls. */
function time(handler: Handler): number {
  for (let index = 0; index < calls / 10; index += 1) {
    handler(standInRequest(), new StandInResponse() as unknown as ServerResponse);
  }
  const started = process.hrtime.bigint();
  for (let index = 0; index < calls; index += 1) {
    const res = new StandInResponse();
    handler(standInRequest(), res as unknown as ServerResponse);
    if (res.statusCode !== 302) {
      throw new Error(`expected a 302, got ${res.statusCode}`);
    }
  }
  return Number(process.hrtime.bigint() - started) / calls;
}

const cases: [string, Handler][] = [
  ['bare handler (writeHead and end only)', bareHandler],
  ['symgate, metrics off, access log off', await symgateHandler('warn', false)],
  ['symgate, metrics on, access log off', await symgateHandler('warn', true)],
  ['symgate, metrics on, access log on', await symgateHandler('info', true)],
];

console.log(`machine: ${describeMachine()}`);
console.log(`${calls} calls per case and round, ${rounds} rounds\n`);
const totals = new Map<string, number>();
for (let round = 1; round <= rounds; round += 1) {
  for (const [name, handler] of cases) {
    const nanoseconds = time(handler);
    totals.set(name, (totals.get(name) ?? 0) + nanoseconds);
    console.log(`round ${round}  ${name.padEnd(40)} ${nanoseconds.toFixed(0).padStart(6)} ns`);
  }
}
console.log('\nmean per call:');
for (const [name, total] of totals) {
  console.log(`  ${name.padEnd(40)} ${(total / rounds / 1000).toFixed(2)} µs`);
}
await store.close();
process.exit(0);
