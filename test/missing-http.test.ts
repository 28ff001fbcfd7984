import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';

import { validateConfig } from '../src/config/index.js';
import { createLogger } from '../src/log/logger.js';
import { CSV_HEADER, formatCsvField } from '../src/missing/csv.js';
import { createCsvRoute } from '../src/missing/csv-route.js';
import type { MissingSymbols } from '../src/missing/service.js';
import { SqliteMissingSymbolStore } from '../src/missing/sqlite-store.js';
import type { MissingSymbolRecord, MissingSymbolStore } from '../src/missing/types.js';
import { startServer, type RunningServer } from '../src/server.js';
import { type FaultProxy, startFaultProxy } from './helpers/fault-proxy.js';
import { type S3Fixture, startS3 } from './helpers/s3.js';
import { bucketConfig, LogCapture, request, startSymgate } from './helpers/symgate.js';
import { readRecords } from './helpers/missing.js';

const BUCKET = 'symbols';
const DEBUG_ID = '448794c699914db8a8f9b9f88b98d7412';
const ID = DEBUG_ID.toUpperCase();
const MISSING_PATH = `/foo.pdb/${DEBUG_ID}/foo.sym`;
const NOT_FOUND = 'Symbol Not Found';
const HOUR_MS = 3_600_000;
/** 2024-05-01T12:00:00Z */
const NOON = Date.UTC(2024, 4, 1, 12);

interface Gate {
  url(path: string): string;
  running: RunningServer;
  missing: MissingSymbols;
  database: string;
  logs: LogCapture;
  s3: S3Fixture;
  proxy: FaultProxy;
  /** Records in the database, read through a connection of the test's own. */
  records(): Record<string, unknown>[];
}

interface GateOptions {
  missingSymbols?: Record<string, unknown>;
  clock?: { now(): number };
  database?: string;
}

async function tempFolder(t: ExecutionContext): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'symgate-missing-'));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  return folder;
}

// s3rver, a fault proxy in front of it and the real server (startServer) with a temp database.
async function startGate(t: ExecutionContext, options: GateOptions = {}): Promise<Gate> {
  const folder = await tempFolder(t);
  const s3 = await startS3({ buckets: [BUCKET] });
  t.teardown(() => s3.close());
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: s3.port });
  t.teardown(() => proxy.close());
  const running = await startRunning(t, {
    folder,
    endpoint: proxy.endpoint,
    ...options,
  });
  const missing = running.server.missingSymbols;
  if (missing === undefined) {
    throw new Error('Expected the server to record missing symbols');
  }
  return {
    url: (path) => `${running.server.url}${path}`,
    running: running.server,
    missing,
    database: running.database,
    logs: running.logs,
    s3,
    proxy,
    records: () => readRecords(running.database),
  };
}

async function startRunning(
  t: ExecutionContext,
  options: GateOptions & { folder: string; endpoint: string },
): Promise<{ server: RunningServer; database: string; logs: LogCapture }> {
  const config = validateConfig(
    {
      server: { host: '127.0.0.1', port: 0, shutdown_timeout_seconds: 2 },
      buckets: [bucketConfig(BUCKET, options.endpoint, { prefix: 'v1' })],
      // Generous timeouts, because a storage timeout gets a 503, and 503s are not recorded.
      storage: { max_attempts: 1, request_timeout_seconds: 30, connect_timeout_seconds: 10 },
      metrics: { enabled: false },
      // Tests flush by hand unless they set an interval, so counts do not depend on timing.
      missing_symbols: {
        database: options.database ?? 'missing.sqlite',
        flush_interval_seconds: 3600,
        ...options.missingSymbols,
      },
    },
    { baseDirectory: options.folder, env: {} },
  );
  const logs = new LogCapture();
  const server = await startServer(config, {
    logger: createLogger('debug', logs),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  t.teardown(() => server.stop('test finished'));
  return { server, database: config.missing_symbols.database, logs };
}

// A clock the test moves by hand.
function manualClock(start: number): { now(): number; set(time: number): void } {
  let current = start;
  return {
    now: () => current,
    set(time) {
      current = time;
    },
  };
}

async function csvLines(gate: Gate, query = ''): Promise<string[]> {
  const response = await request(gate.url(`/missingsymbols.csv${query}`));
  if (response.status !== 200) {
    throw new Error(`Expected 200 from /missingsymbols.csv${query}, got ${response.status}: ${response.body}`);
  }
  return response.body.split('\r\n');
}

test('GET miss records symbol and hints', async (t) => {
  const gate = await startGate(t);

  const response = await request(gate.url(`${MISSING_PATH}?code_file=My+App.exe&code_id=BAR%2F1`));
  await gate.missing.flush();

  t.is(response.status, 404);
  t.is(response.body, NOT_FOUND);
  const [stored, ...more] = gate.records();
  t.is(more.length, 0);
  t.is(stored?.debug_file, 'foo.pdb');
  t.is(stored?.debug_id, ID);
  t.is(stored?.symbol_file, 'foo.sym');
  t.is(stored?.code_file, 'My App.exe');
  t.is(stored?.code_id, 'BAR/1');
  t.is(stored?.request_count, 1);
});

test('absent and empty hints are empty strings', async (t) => {
  const gate = await startGate(t);

  await request(gate.url(MISSING_PATH));
  await request(gate.url(`${MISSING_PATH}?code_file=&code_id=`));
  await request(gate.url(`${MISSING_PATH}?code_file`));
  await gate.missing.flush();

  const [stored, ...more] = gate.records();
  t.is(more.length, 0);
  t.is(stored?.code_file, '');
  t.is(stored?.code_id, '');
  t.is(stored?.request_count, 3);
});

test('exclusions are not recorded', async (t) => {
  const gate = await startGate(t);
  await gate.s3.put(BUCKET, `v1/found.pdb/${ID}/found.sym`, 'MODULE windows x86 ID found.pdb\n');
  gate.proxy.setRules([{ match: (proxied) => proxied.key.startsWith('v1/broken.pdb/'), status: 503 }]);
  const cases = [
    { name: 'HEAD', method: 'HEAD', path: MISSING_PATH, status: 404 },
    { name: 'ignored extension', method: 'GET', path: `/foo.pdb/${DEBUG_ID}/foo.txt`, status: 404 },
    { name: 'ignored file.ptr', method: 'GET', path: `/foo.pdb/${DEBUG_ID}/file.ptr`, status: 404 },
    { name: 'ignored zero debug id', method: 'GET', path: '/foo.pdb/000000000/foo.sym', status: 404 },
    { name: 'invalid debug id', method: 'GET', path: '/foo.pdb/XYZ/foo.sym', status: 400 },
    { name: 'storage failure', method: 'GET', path: `/broken.pdb/${DEBUG_ID}/broken.sym`, status: 503 },
    { name: 'found', method: 'GET', path: `/found.pdb/${DEBUG_ID}/found.sym`, status: 302 },
  ];

  for (const { name, method, path, status } of cases) {
    const response = await request(gate.url(`${path}?code_file=foo.dll&code_id=ABC`), { method });
    await gate.missing.flush();

    t.is(response.status, status, name);
    t.deepEqual(gate.records(), [], name);
  }
  t.is(gate.missing.stats().recorded, 0);
});

test('control characters in hints give 400', async (t) => {
  const gate = await startGate(t);
  const queries = ['code_file=%00', 'code_id=%00', 'code_file=a%1Fb', 'code_id=%7F', 'code_file=%C2%85', 'code_id=a%0Ab'];

  for (const query of queries) {
    const get = await request(gate.url(`${MISSING_PATH}?${query}`));
    const head = await request(gate.url(`${MISSING_PATH}?${query}`), { method: 'HEAD' });

    t.is(get.status, 400, query);
    t.regex(get.body, /control characters are not allowed/, query);
    t.is(head.status, 404, query);
  }
  await gate.missing.flush();
  t.deepEqual(gate.records(), []);
});

test('values over 150 characters are not recorded', async (t) => {
  const gate = await startGate(t);
  const atLimit = 'a'.repeat(150);
  const overLimit = 'a'.repeat(151);
  const longDebugFile = `${'d'.repeat(147)}.pdb`;

  const withinLimit = await request(gate.url(`${MISSING_PATH}?code_file=${atLimit}`));
  const longCodeFile = await request(gate.url(`${MISSING_PATH}?code_file=${overLimit}`));
  const longCodeId = await request(gate.url(`${MISSING_PATH}?code_id=${overLimit}`));
  const longPath = await request(gate.url(`/${longDebugFile}/${DEBUG_ID}/foo.sym`));
  await gate.missing.flush();

  t.is(longDebugFile.length, 151);
  t.is(withinLimit.status, 404);
  t.is(longCodeFile.status, 404);
  t.is(longCodeFile.body, NOT_FOUND);
  t.is(longCodeId.status, 404);
  t.is(longPath.status, 404);
  t.deepEqual(
    gate.records().map((row) => row.code_file),
    [atLimit],
  );
});

test('repeats count with first and last seen', async (t) => {
  const clock = manualClock(NOON);
  const gate = await startGate(t, { clock });

  await request(gate.url(MISSING_PATH));
  clock.set(NOON + 1000);
  await request(gate.url(MISSING_PATH));
  await gate.missing.flush();
  clock.set(NOON + 5000);
  await request(gate.url(MISSING_PATH));
  await request(gate.url(`${MISSING_PATH}?code_id=OTHER`));
  await gate.missing.flush();

  const rows = gate.records();
  t.is(rows.length, 2);
  t.like(rows[0], { code_id: '', request_count: 3, first_seen: NOON, last_seen: NOON + 5000 });
  t.like(rows[1], { code_id: 'OTHER', request_count: 1, first_seen: NOON + 5000, last_seen: NOON + 5000 });
  t.like(gate.missing.stats(), { recorded: 4, flushes: 2, flushFailures: 0 });
  t.is(gate.missing.countRecords(), 2);
});

test('CSV response headers and rows', async (t) => {
  const clock = manualClock(NOON);
  const gate = await startGate(t, { clock });
  await request(gate.url(`${MISSING_PATH}?code_file=FOO.dll&code_id=BAR`));

  const response = await request(gate.url('/missingsymbols.csv'));

  t.is(response.status, 200);
  t.is(response.headers.get('content-type'), 'text/csv; charset=utf-8');
  t.is(response.headers.get('content-disposition'), 'attachment; filename="missing-symbols-2024-05-01.csv"');
  t.is(response.body, `${CSV_HEADER}foo.pdb,${ID},FOO.dll,BAR\r\n`);
});

test('CSV HEAD sends headers only', async (t) => {
  const gate = await startGate(t, { clock: manualClock(NOON) });
  await request(gate.url(MISSING_PATH));

  const response = await request(gate.url('/missingsymbols.csv'), { method: 'HEAD' });

  t.is(response.status, 200);
  t.is(response.headers.get('content-type'), 'text/csv; charset=utf-8');
  t.is(response.headers.get('content-disposition'), 'attachment; filename="missing-symbols-2024-05-01.csv"');
  t.is(response.body, '');
});

test('CSV lists the past 24 hours', async (t) => {
  const clock = manualClock(NOON - 25 * HOUR_MS);
  const gate = await startGate(t, { clock });
  await request(gate.url(`/old.pdb/${DEBUG_ID}/old.sym`));
  clock.set(NOON - 24 * HOUR_MS);
  await request(gate.url(`/edge.pdb/${DEBUG_ID}/edge.sym`));
  clock.set(NOON - 23 * HOUR_MS);
  await request(gate.url(`/recent.pdb/${DEBUG_ID}/recent.sym`));
  clock.set(NOON);

  const lines = await csvLines(gate);

  t.deepEqual(lines, [
    'debug_file,debug_id,code_file,code_id',
    `edge.pdb,${ID},,`,
    `recent.pdb,${ID},,`,
    '',
  ]);
});

test('CSV today starts at midnight UTC', async (t) => {
  const clock = manualClock(Date.UTC(2024, 3, 30, 23, 30));
  const gate = await startGate(t, { clock });
  await request(gate.url(`/yesterday.pdb/${DEBUG_ID}/yesterday.sym`));
  clock.set(Date.UTC(2024, 4, 1, 0, 0));
  await request(gate.url(`/midnight.pdb/${DEBUG_ID}/midnight.sym`));
  clock.set(Date.UTC(2024, 4, 1, 1, 0));

  const day = await csvLines(gate);
  const today = await csvLines(gate, '?today');
  const todayWithValue = await request(gate.url('/missingsymbols.csv?today=0'));

  t.deepEqual(day.slice(1, -1), [`midnight.pdb,${ID},,`, `yesterday.pdb,${ID},,`]);
  t.deepEqual(today.slice(1, -1), [`midnight.pdb,${ID},,`]);
  t.is(todayWithValue.body, today.join('\r\n'));
  t.is(
    todayWithValue.headers.get('content-disposition'),
    'attachment; filename="missing-symbols-2024-05-01.csv"',
  );
});

test('CSV keeps configured suffixes only', async (t) => {
  const gate = await startGate(t);
  const paths = [
    `/lower.pdb/${DEBUG_ID}/lower.sym`,
    `/UPPER.PDB/${DEBUG_ID}/UPPER.SYM`,
    `/libxul.so/${DEBUG_ID}/libxul.so.sym`,
    `/compressed.pdb/${DEBUG_ID}/compressed.pd_`,
  ];
  for (const path of paths) {
    await request(gate.url(path));
  }

  const lines = await csvLines(gate);

  t.deepEqual(lines.slice(1, -1), [`UPPER.PDB,${ID},,`, `lower.pdb,${ID},,`]);
  await gate.missing.flush();
  t.is(gate.records().length, 4);
});

test('CSV suffixes follow the config', async (t) => {
  const gate = await startGate(t, {
    missingSymbols: { csv_debug_file_suffixes: ['.so', '.dylib'], csv_symbol_file_suffixes: [] },
  });
  await request(gate.url(`/lower.pdb/${DEBUG_ID}/lower.sym`));
  await request(gate.url(`/libxul.so/${DEBUG_ID}/libxul.so.sym`));
  await request(gate.url(`/XUL.DYLIB/${DEBUG_ID}/XUL.DYLIB.dbg.gz`));

  const lines = await csvLines(gate);

  t.deepEqual(lines.slice(1, -1), [`XUL.DYLIB,${ID},,`, `libxul.so,${ID},,`]);
});

test('CSV row per code file hints', async (t) => {
  const gate = await startGate(t);
  await request(gate.url(`/foo.pdb/${DEBUG_ID}/foo.sym?code_file=foo.dll`));
  await request(gate.url(`/foo.pdb/${DEBUG_ID}/FOO.SYM?code_file=foo.dll`));
  await request(gate.url(`/foo.pdb/${DEBUG_ID}/foo.sym?code_file=foo.dll`));
  await request(gate.url(`/foo.pdb/${DEBUG_ID}/foo.sym?code_file=foo.exe`));

  const lines = await csvLines(gate);

  t.deepEqual(lines.slice(1, -1), [`foo.pdb,${ID},foo.dll,`, `foo.pdb,${ID},foo.exe,`]);
});

test('CSV quotes commas and quotes', async (t) => {
  const gate = await startGate(t);
  await request(gate.url(`${MISSING_PATH}?code_file=My%2C+%22App%22.exe&code_id=a%22b`));
  await request(gate.url(`/a%2Cb.pdb/${DEBUG_ID}/a%2Cb.sym?code_file=plain.dll`));

  const lines = await csvLines(gate);

  t.deepEqual(lines.slice(1, -1), [`"a,b.pdb",${ID},plain.dll,`, `foo.pdb,${ID},"My, ""App"".exe","a""b"`]);
});

test('CSV field quoting follows RFC 4180', (t) => {
  t.is(formatCsvField('plain value'), 'plain value');
  t.is(formatCsvField(''), '');
  t.is(formatCsvField('a,b'), '"a,b"');
  t.is(formatCsvField('say "hi"'), '"say ""hi"""');
  t.is(formatCsvField('line\nbreak'), '"line\nbreak"');
  t.is(formatCsvField('carriage\rreturn'), '"carriage\rreturn"');
  t.is(formatCsvField('crlf\r\n'), '"crlf\r\n"');
});

test('disabled recording writes nothing', async (t) => {
  const folder = await tempFolder(t);
  const s3 = await startS3({ buckets: [BUCKET] });
  t.teardown(() => s3.close());
  const { server, database } = await startRunning(t, {
    folder,
    endpoint: s3.endpoint,
    missingSymbols: { enabled: false },
  });

  const miss = await request(`${server.url}${MISSING_PATH}`);
  const csv = await request(`${server.url}/missingsymbols.csv`);

  t.is(miss.status, 404);
  t.is(miss.body, NOT_FOUND);
  t.is(csv.status, 404);
  t.is(server.missingSymbols, undefined);
  t.false(existsSync(database));
});

test('database error keeps 404 and retries', async (t) => {
  const gate = await startGate(t);
  // Another connection drops the table, so the server's next write fails with a real SQLite error.
  const other = new Database(gate.database);
  t.teardown(() => other.close());
  other.exec('DROP TABLE missing_symbols');

  const miss = await request(gate.url(`${MISSING_PATH}?code_file=foo.dll`));
  const written = await gate.missing.flush();
  const csvWhileBroken = await request(gate.url('/missingsymbols.csv'));
  const repeat = await request(gate.url(`${MISSING_PATH}?code_file=foo.dll`));
  // Opening the file with create recreates the table, as a restart would.
  await new SqliteMissingSymbolStore(gate.database, { create: true }).close();
  const retried = await gate.missing.flush();

  t.is(miss.status, 404);
  t.is(miss.body, NOT_FOUND);
  t.false(written);
  t.is(csvWhileBroken.status, 503);
  t.is(repeat.status, 404);
  t.true(retried);
  // The CSV request flushed too, and failed a second time.
  t.like(gate.missing.stats(), { recorded: 2, flushes: 3, flushFailures: 2 });
  const rows = gate.records();
  t.is(rows.length, 1);
  t.is(rows[0]?.request_count, 2);
  const [failure] = gate.logs.withMessage(
    'Failed to write missing symbols to the database; keeping them in memory and retrying at the next flush',
  );
  t.regex(String((failure?.err as { message?: string } | undefined)?.message), /no such table: missing_symbols/);
  t.is(gate.logs.lines.filter((line) => line.status === 500).length, 0);
});

test('records survive a restart', async (t) => {
  const folder = await tempFolder(t);
  const s3 = await startS3({ buckets: [BUCKET] });
  t.teardown(() => s3.close());
  const settings = { folder, endpoint: s3.endpoint };
  const first = await startRunning(t, settings);
  await request(`${first.server.url}${MISSING_PATH}?code_file=foo.dll&code_id=ABC`);
  await first.server.stop('restart');

  const second = await startRunning(t, settings);
  const csv = await request(`${second.server.url}/missingsymbols.csv`);

  t.is(second.server.missingSymbols?.countRecords(), 1);
  t.is(csv.body, `${CSV_HEADER}foo.pdb,${ID},foo.dll,ABC\r\n`);
});

test('start and prune delete old records', async (t) => {
  const folder = await tempFolder(t);
  const database = join(folder, 'missing.sqlite');
  const seed = new SqliteMissingSymbolStore(database, { create: true });
  const record = { debugId: ID, symbolFile: 'lib.sym', codeFile: '', codeId: '', requestCount: 1 };
  await seed.upsertBatch([
    { ...record, debugFile: 'stale.pdb', firstSeen: NOON - 31 * 24 * HOUR_MS, lastSeen: NOON - 31 * 24 * HOUR_MS },
    { ...record, debugFile: 'aging.pdb', firstSeen: NOON - 29 * 24 * HOUR_MS, lastSeen: NOON - 29 * 24 * HOUR_MS },
    { ...record, debugFile: 'fresh.pdb', firstSeen: NOON, lastSeen: NOON },
  ]);
  await seed.close();
  const clock = manualClock(NOON);

  const gate = await startGate(t, { clock, database });
  const atStart = gate.records().map((row) => row.debug_file);
  const countAtStart = gate.missing.countRecords();
  clock.set(NOON + 2 * 24 * HOUR_MS);
  const deleted = await gate.missing.prune();

  t.deepEqual(atStart, ['aging.pdb', 'fresh.pdb']);
  t.is(countAtStart, 2);
  t.is(deleted, 1);
  t.deepEqual(
    gate.records().map((row) => row.debug_file),
    ['fresh.pdb'],
  );
  t.is(gate.missing.countRecords(), 1);
  t.deepEqual(
    gate.logs.withMessage('Pruned old missing-symbol records').map((line) => line.deleted),
    [1, 1],
  );
});

test('timer flushes pending records', async (t) => {
  const gate = await startGate(t, { missingSymbols: { flush_interval_seconds: 1 } });

  await request(gate.url(MISSING_PATH));
  const flushed = await waitUntilTrue(() => gate.missing.stats().flushes > 0);

  t.true(flushed);
  t.is(gate.records().length, 1);
});

test('stop writes pending records', async (t) => {
  const gate = await startGate(t);

  const statuses: number[] = [];
  // 20 clients, each sending its share of the 200 requests one after another.
  await Promise.all(
    Array.from({ length: 20 }, async (_, client) => {
      for (let index = client; index < 200; index += 20) {
        const response = await request(gate.url(`/lib${index}.pdb/${DEBUG_ID}/lib${index}.sym`));
        statuses.push(response.status);
      }
    }),
  );
  const flushesBeforeStop = gate.missing.stats().flushes;
  await gate.running.stop('test');

  t.deepEqual(statuses, Array.from({ length: 200 }, () => 404));
  t.is(flushesBeforeStop, 0);
  t.is(gate.records().length, 200);
});

/** Wraps a store to count the batches that the export has read. */
function countingStore(inner: MissingSymbolStore): MissingSymbolStore & { batchesRead: number; closedEarly: boolean } {
  const wrapper = {
    batchesRead: 0,
    closedEarly: false,
    upsertBatch: (records: readonly MissingSymbolRecord[]) => inner.upsertBatch(records),
    async *exportRows(...args: Parameters<MissingSymbolStore['exportRows']>) {
      let finished = false;
      try {
        for await (const batch of inner.exportRows(...args)) {
          wrapper.batchesRead += 1;
          yield batch;
        }
        finished = true;
      } finally {
        wrapper.closedEarly = !finished;
      }
    },
    prune: (...args: Parameters<MissingSymbolStore['prune']>) => inner.prune(...args),
    count: () => inner.count(),
    close: () => inner.close(),
  };
  return wrapper;
}

// Fills a store with `count` records whose CSV rows are about 200 bytes each.
async function fillStore(t: ExecutionContext, count: number): Promise<SqliteMissingSymbolStore> {
  const store = new SqliteMissingSymbolStore(join(await tempFolder(t), 'large.sqlite'), { create: true });
  t.teardown(() => store.close());
  const codeFile = `${'c'.repeat(140)}.dll`;
  const records = Array.from({ length: count }, (_, index) => ({
    debugFile: `lib${String(index).padStart(6, '0')}.pdb`,
    debugId: ID,
    symbolFile: 'lib.sym',
    codeFile,
    codeId: 'ABC',
    requestCount: 1,
    firstSeen: NOON,
    lastSeen: NOON,
  }));
  await store.upsertBatch(records);
  return store;
}

async function startCsvOnly(t: ExecutionContext, store: MissingSymbolStore) {
  const logs = new LogCapture();
  const route = createCsvRoute({
    store,
    settings: validateConfig({ buckets: [{ name: BUCKET }] }, { baseDirectory: tmpdir(), env: {} }).missing_symbols,
    logger: createLogger('debug', logs),
    now: () => NOON,
    flush: async () => true,
  });
  const gate = await startSymgate(
    { buckets: [bucketConfig(BUCKET, 'http://127.0.0.1:9')], metrics: { enabled: false } },
    { routes: [route] },
  );
  t.teardown(() => gate.close());
  return { gate, logs: gate.logs };
}

// Polls `condition` every 50 ms for up to 10 s.
async function waitUntilTrue(condition: () => boolean): Promise<boolean> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    if (condition()) {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

// Resolves once `read()` returns the same value twice, `intervalMs` apart.
async function waitUntilSteady(read: () => number, intervalMs = 200): Promise<number> {
  let previous = -1;
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const current = read();
    if (current === previous) {
      return current;
    }
    previous = current;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error('Expected the value to settle within 20 s');
}

test('CSV export waits for a slow client', async (t) => {
  const rowCount = 100_000;
  const store = countingStore(await fillStore(t, rowCount));
  const { gate } = await startCsvOnly(t, store);
  const totalBatches = rowCount / 1000;

  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(`${gate.url}/missingsymbols.csv`, resolve).on('error', reject);
  });
  response.pause();
  const batchesWhilePaused = await waitUntilSteady(() => store.batchesRead);
  let lines = 0;
  let tail = '';
  response.setEncoding('utf8');
  for await (const chunk of response) {
    const text = tail + (chunk as string);
    const parts = text.split('\r\n');
    tail = parts.pop() ?? '';
    lines += parts.length;
  }

  // About 20 MB of CSV. Loopback socket buffers took about 4 MB of it on Linux
  // while the client was paused, so a paused export stops well before the end.
  t.true(batchesWhilePaused < totalBatches, `read ${batchesWhilePaused} of ${totalBatches} batches while paused`);
  t.is(store.batchesRead, totalBatches);
  t.is(lines, rowCount + 1);
  t.is(tail, '');
});

test('CSV export stops when the client leaves', async (t) => {
  const rowCount = 100_000;
  const store = countingStore(await fillStore(t, rowCount));
  const { gate, logs } = await startCsvOnly(t, store);

  await new Promise<void>((resolve, reject) => {
    http
      .get(`${gate.url}/missingsymbols.csv`, (response) => {
        response.once('data', () => {
          response.destroy();
          resolve();
        });
      })
      .on('error', reject);
  });
  const batchesRead = await waitUntilSteady(() => store.batchesRead);
  const closedEarly = store.closedEarly;
  const next = await request(`${gate.url}/missingsymbols.csv`);

  t.true(batchesRead < rowCount / 1000, `read ${batchesRead} batches`);
  t.true(closedEarly);
  t.is(next.status, 200);
  t.is(next.body.split('\r\n').length, rowCount + 2);
  t.is(logs.lines.filter((line) => line.level === 'error').length, 0);
});
