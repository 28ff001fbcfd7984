// Measures what recording missing symbols costs: requests/s of distinct
// missing-symbol GETs against one symgate that records them and one with
// missing_symbols.enabled: false. s3rver, both servers and autocannon share
// this process, so both instances see the same load generator. Each request
// names a new symbol, so every one costs a storage lookup (a HEAD to s3rver).
// That lookup dominates, and the ratio shows the recording overhead on top of it.
//
//   node --import tsx bench/missing-symbols.ts [--seconds 10] [--rounds 4] [--connections 20]
//
// With --export-records N, it also fills a database with N records and
// reports the time and peak RSS of streaming /missingsymbols.csv.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import S3rver from 's3rver';
import { validateConfig } from '../src/config/index.js';
import { createLogger } from '../src/log/logger.js';
import { SqliteMissingSymbolStore } from '../src/missing/sqlite-store.js';
import { startServer, type RunningServer } from '../src/server.js';

// Silences the AWS SDK's warning about Node.js 20, as in bench/common.ts.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '20' },
    'export-records': { type: 'string', default: '0' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const connections = Number(values.connections);
const exportRecords = Number(values['export-records']);

const BUCKET = 'symbols';
const WARM_UP_SECONDS = 3;
const DEBUG_ID = '448794C699914DB8A8F9B9F88B98D7412';

interface Instance {
  name: string;
  running: RunningServer;
}

async function startInstance(name: string, folder: string, s3Endpoint: string, recording: boolean): Promise<Instance> {
  const config = validateConfig(
    {
      server: { host: '127.0.0.1', port: 0 },
      buckets: [{ name: BUCKET, prefix: 'v1', endpoint: s3Endpoint, force_path_style: true }],
      metrics: { enabled: false },
      // warn keeps the access log out of the measurement for both instances alike.
      logging: { level: 'warn' },
      missing_symbols: { enabled: recording, database: `${name}.sqlite` },
    },
    { baseDirectory: folder, env: {} },
  );
  const running = await startServer(config, { logger: createLogger(config.logging.level) });
  return { name, running };
}

let sequence = 0;

// Sends distinct missing-symbol GETs for `seconds` and returns the mean requests/s.
async function measure(instance: Instance, duration = seconds): Promise<number> {
  const result = await autocannon({
    url: instance.running.url,
    connections,
    duration,
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => {
          sequence += 1;
          return { ...request, path: `/lib${sequence}.pdb/${DEBUG_ID}/lib${sequence}.sym?code_file=lib${sequence}.dll&code_id=ABC` };
        },
      },
    ],
  });
  const unexpected = result.non2xx - result['4xx'] + result.errors + result.timeouts;
  if (unexpected > 0) {
    throw new Error(`${instance.name}: ${unexpected} responses were not 404 (errors ${result.errors}, timeouts ${result.timeouts})`);
  }
  return result.requests.average;
}

function mean(numbers: number[]): number {
  return numbers.reduce((sum, value) => sum + value, 0) / numbers.length;
}

async function benchmarkRecording(folder: string, s3Endpoint: string): Promise<void> {
  const recording = await startInstance('recording', folder, s3Endpoint, true);
  const disabled = await startInstance('disabled', folder, s3Endpoint, false);
  try {
    const figures = new Map<Instance, number[]>([
      [recording, []],
      [disabled, []],
    ]);
    // An unmeasured warm-up lets V8 optimize the request path of both instances.
    await measure(recording, WARM_UP_SECONDS);
    await measure(disabled, WARM_UP_SECONDS);
    // The order flips every round, so drift (s3rver's growing state, CPU heat) hits both instances alike.
    for (let round = 1; round <= rounds; round += 1) {
      const order = round % 2 === 1 ? [recording, disabled] : [disabled, recording];
      for (const instance of order) {
        const requestsPerSecond = await measure(instance);
        figures.get(instance)?.push(requestsPerSecond);
        console.log(`round ${round} ${instance.name.padEnd(9)} ${requestsPerSecond.toFixed(0)} requests/s`);
      }
    }
    const recordingMean = mean(figures.get(recording) ?? []);
    const disabledMean = mean(figures.get(disabled) ?? []);
    await recording.running.missingSymbols?.flush();
    console.log(`recording on:  ${recordingMean.toFixed(0)} requests/s (mean of ${rounds} rounds of ${seconds} s)`);
    console.log(`recording off: ${disabledMean.toFixed(0)} requests/s`);
    console.log(`ratio on/off:  ${(recordingMean / disabledMean).toFixed(3)}`);
    console.log('recorder stats:', recording.running.missingSymbols?.stats(), 'records:', recording.running.missingSymbols?.countRecords());
  } finally {
    await recording.running.stop('benchmark finished');
    await disabled.running.stop('benchmark finished');
  }
}

// Fills a database with `count` records, then downloads the CSV once and samples RSS while it streams.
async function benchmarkExport(folder: string, s3Endpoint: string, count: number): Promise<void> {
  const database = path.join(folder, 'export.sqlite');
  const store = new SqliteMissingSymbolStore(database, { create: true });
  const now = Date.now();
  const chunk = 50_000;
  for (let start = 0; start < count; start += chunk) {
    const records = [];
    for (let index = start; index < Math.min(start + chunk, count); index += 1) {
      records.push({
        debugFile: `lib${index}.pdb`,
        debugId: DEBUG_ID,
        symbolFile: `lib${index}.sym`,
        codeFile: `lib${index}.dll`,
        codeId: 'ABC',
        requestCount: 1,
        firstSeen: now,
        lastSeen: now,
      });
    }
    await store.upsertBatch(records);
  }
  await store.close();

  const config = validateConfig(
    {
      server: { host: '127.0.0.1', port: 0 },
      buckets: [{ name: BUCKET, endpoint: s3Endpoint, force_path_style: true }],
      metrics: { enabled: false },
      logging: { level: 'warn' },
      missing_symbols: { database },
    },
    { baseDirectory: folder, env: {} },
  );
  const running = await startServer(config, { logger: createLogger(config.logging.level) });
  try {
    const rssBefore = process.memoryUsage.rss();
    let peakRss = rssBefore;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }, 20);
    const started = performance.now();
    const { bytes, lines } = await download(`${running.url}/missingsymbols.csv`);
    const elapsed = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const mib = (value: number) => (value / 1024 / 1024).toFixed(0);
    console.log(
      `export of ${count} records: ${lines - 1} rows, ${mib(bytes)} MiB in ${elapsed.toFixed(1)} s; ` +
        `RSS ${mib(rssBefore)} MiB before, peak ${mib(peakRss)} MiB during`,
    );
  } finally {
    await running.stop('benchmark finished');
  }
}

// Reads the body without keeping it, counting bytes and line ends.
function download(url: string): Promise<{ bytes: number; lines: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (response) => {
        let bytes = 0;
        let lines = 0;
        response.on('data', (data: Buffer) => {
          bytes += data.length;
          for (let index = data.indexOf(10); index !== -1; index = data.indexOf(10, index + 1)) {
            lines += 1;
          }
        });
        response.on('end', () => resolve({ bytes, lines }));
        response.on('error', reject);
      })
      .on('error', reject);
  });
}

async function main(): Promise<void> {
  const folder = mkdtempSync(path.join(tmpdir(), 'symgate-bench-missing-'));
  const s3 = new S3rver({
    port: 0,
    address: '127.0.0.1',
    directory: path.join(folder, 's3'),
    silent: true,
    configureBuckets: [{ name: BUCKET }],
  });
  const { port } = await s3.run();
  const s3Endpoint = `http://127.0.0.1:${port}`;
  console.log(`${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node.js ${process.version}`);
  console.log(`${connections} connections, ${rounds} rounds of ${seconds} s per instance`);
  try {
    await benchmarkRecording(folder, s3Endpoint);
    if (exportRecords > 0) {
      await benchmarkExport(folder, s3Endpoint, exportRecords);
    }
  } finally {
    // Lookups that autocannon abandoned at the end of a round are still in
    // flight; a second lets them finish before s3rver goes away.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await s3.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

await main();
