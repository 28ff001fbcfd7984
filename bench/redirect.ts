// Compares a cached symgate redirect with a bare node:http server that
// responds with a fixed 302, in one run on one machine. Each server runs in
// its own child process and wrk in another, so load generation does not share
// the servers' event loop.
//
//   apt-get install wrk
//   npm run build && taskset -c 1 node --import tsx bench/redirect.ts --pin 0 [--seconds 10] [--connections 50] [--rounds 5] [--spin-us 1,2,3]
//
// --pin N runs each server on CPU N (with taskset); run the script itself on
// another CPU, as above, so that the servers and wrk have a core each.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  BENCH_KEY,
  BENCH_SYMBOL_PATH,
  describeMachine,
  freePort,
  runLoad,
  spawnNode,
  startBenchStore,
  stopChild,
  waitUntilServing,
  type LoadResult,
} from './common.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '5' },
    pin: { type: 'string' },
    'spin-us': { type: 'string' },
  },
});
const serverCpu = values.pin === undefined ? undefined : Number(values.pin);
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
// Extra bare servers that busy-wait this many microseconds per request before
// responding: they show how much per-request work a given ratio leaves room for.
const spinMicroseconds = values['spin-us'] === undefined ? [] : values['spin-us'].split(',').map(Number);

const CLI = path.join(import.meta.dirname, '..', 'dist', 'src', 'cli.js');
const KEY = BENCH_KEY;
const SYMBOL_PATH = BENCH_SYMBOL_PATH;

const store = await startBenchStore();
const s3Port = store.port;

async function startBare(spin = 0): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  // The same status, headers and Location as symgate's redirect.
  const source = `require('node:http').createServer((req, res) => {
    const until = process.hrtime.bigint() + ${Math.round(spin * 1000)}n;
    while (process.hrtime.bigint() < until);
    res.writeHead(302, {
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': 'GET',
      'Cache-Control': 'public, max-age=21600',
      'Content-Length': 0,
      Location: 'http://127.0.0.1:${s3Port}/bench/${KEY}',
    });
    res.end();
  }).listen(${port}, '127.0.0.1');`;
  const child = spawnNode(['-e', source], {}, serverCpu);
  const url = `http://127.0.0.1:${port}${SYMBOL_PATH}`;
  await waitUntilServing(url, child);
  return { url, stop: () => stopChild(child) };
}

async function startSymgate(logLevel: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const config = path.join(store.directory, `config-${logLevel}.yaml`);
  writeFileSync(
    config,
    `server:\n  port: ${port}\nbuckets:\n  - name: bench\n    prefix: v1\n    endpoint: http://127.0.0.1:${s3Port}\n    force_path_style: true\nmissing_symbols:\n  enabled: false\nlogging:\n  level: ${logLevel}\n`,
  );
  const child = spawnNode([CLI, '--config', config], {}, serverCpu);
  const url = `http://127.0.0.1:${port}${SYMBOL_PATH}`;
  await waitUntilServing(url, child);
  return { url, stop: () => stopChild(child) };
}

async function measure(name: string, start: () => Promise<{ url: string; stop: () => Promise<void> }>): Promise<LoadResult> {
  const server = await start();
  try {
    // wrk does not tell 2xx from 3xx, so one request checks the redirect first.
    const probe = await fetch(server.url, { redirect: 'manual' });
    if (probe.status !== 302 || !probe.headers.get('location')?.endsWith(KEY)) {
      throw new Error(`${name}: expected a 302 to the object, got ${probe.status} ${probe.headers.get('location')}`);
    }
    // The probe filled symgate's cache, and this warms the JIT of both servers.
    await runLoad(server.url, 2, connections);
    const result = await runLoad(server.url, seconds, connections);
    console.log(
      `${name.padEnd(28)} ${result.requestsPerSecond.toFixed(0).padStart(8)} req/s  p50 ${result.latencyP50Ms.toFixed(2)} ms  p99 ${result.latencyP99Ms.toFixed(2)} ms`,
    );
    if (result.errorResponses > 0 || result.socketErrors > 0) {
      throw new Error(`${name}: ${result.errorResponses} error responses and ${result.socketErrors} socket errors`);
    }
    return result;
  } finally {
    await server.stop();
  }
}

console.log(`machine: ${describeMachine()}`);
console.log(
  `load: wrk, 1 thread, ${connections} connections, ${seconds} s per run, ${rounds} rounds, servers on ${serverCpu === undefined ? 'any CPU' : `CPU ${serverCpu}`}\n`,
);
// Requests per second of each server, one entry per round.
const results = new Map<string, number[]>();
function record(name: string, result: LoadResult): void {
  results.set(name, [...(results.get(name) ?? []), result.requestsPerSecond]);
}

for (let round = 1; round <= rounds; round += 1) {
  console.log(`round ${round}`);
  record('bare', await measure('bare node:http 302', () => startBare()));
  record('access log on', await measure('symgate, access log on', () => startSymgate('info')));
  record('access log off', await measure('symgate, access log off', () => startSymgate('warn')));
  for (const spin of spinMicroseconds) {
    record(`spin ${spin} µs`, await measure(`bare, spin ${spin} µs per request`, () => startBare(spin)));
  }
}
await store.close();

// The machine's speed drifts between runs, so each round's ratio compares
// servers measured minutes apart at most, and the median discards an odd round.
const bare = results.get('bare')!;
console.log('\nratio to the bare server in each round, and their median (goal: at least 0.8):');
for (const [name, rates] of results) {
  const ratios = rates.map((rate, round) => rate / bare[round]!);
  const mean = rates.reduce((total, rate) => total + rate, 0) / rates.length;
  console.log(
    `  ${name.padEnd(15)} mean ${mean.toFixed(0).padStart(6)} req/s  ratios ${ratios.map((ratio) => ratio.toFixed(2)).join(' ')}  median ${median(ratios).toFixed(2)}`,
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
