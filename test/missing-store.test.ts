import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';

import { createLogger } from '../src/log/logger.js';
import { BufferedRecorder, MAX_FIELD_LENGTH } from '../src/missing/recorder.js';
import { MissingSymbolDatabaseError, SqliteMissingSymbolStore } from '../src/missing/sqlite-store.js';
import { openMissingSymbolStore } from '../src/missing/store.js';
import type {
  ExportQuery,
  ExportRow,
  MissingSymbol,
  MissingSymbolRecord,
  MissingSymbolStore,
} from '../src/missing/types.js';
import { LogCapture } from './helpers/symgate.js';
import { readRecords } from './helpers/missing.js';

const HOUR_MS = 3_600_000;
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

const ALL_ROWS: ExportQuery = { since: 0, debugFileSuffixes: [], symbolFileSuffixes: [] };

// A fresh folder per test, removed when the test ends.
async function tempFolder(t: ExecutionContext): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'symgate-missing-'));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  return folder;
}

async function openStore(t: ExecutionContext, file?: string): Promise<SqliteMissingSymbolStore> {
  const database = file ?? join(await tempFolder(t), 'missing.sqlite');
  const store = new SqliteMissingSymbolStore(database, { create: true });
  t.teardown(() => store.close());
  return store;
}

function symbol(overrides: Partial<MissingSymbol> = {}): MissingSymbol {
  return {
    debugFile: 'xul.pdb',
    debugId: '44E4EC8C2F41492B9369D6B9A059577C2',
    symbolFile: 'xul.sym',
    codeFile: 'xul.dll',
    codeId: '5C8D8A4C3B2000',
    ...overrides,
  };
}

function record(overrides: Partial<MissingSymbolRecord> = {}): MissingSymbolRecord {
  return { ...symbol(overrides), requestCount: 1, firstSeen: T0, lastSeen: T0, ...overrides };
}

async function collectRows(store: MissingSymbolStore, query: ExportQuery, batchSize?: number): Promise<ExportRow[]> {
  const rows: ExportRow[] = [];
  for await (const batch of store.exportRows(query, batchSize)) {
    rows.push(...batch);
  }
  return rows;
}

function createRecorder(
  store: MissingSymbolStore,
  options: { maxPendingRecords?: number; clock?: { now(): number } } = {},
) {
  const logs = new LogCapture();
  const clock = options.clock ?? { now: () => T0 };
  const recorder = new BufferedRecorder({
    store,
    logger: createLogger('debug', logs),
    maxPendingRecords: options.maxPendingRecords ?? 100,
    now: () => clock.now(),
  });
  return { recorder, logs };
}

/** Wraps `inner` so that writes fail while `failing` is set; other calls go to `inner`. */
function failingStore(inner: MissingSymbolStore): MissingSymbolStore & { failing: boolean; attempts: number } {
  return {
    failing: true,
    attempts: 0,
    async upsertBatch(records) {
      this.attempts += 1;
      if (this.failing) {
        throw new Error('disk I/O error');
      }
      return inner.upsertBatch(records);
    },
    exportRows: (query, batchSize) => inner.exportRows(query, batchSize),
    prune: (cutoff, options) => inner.prune(cutoff, options),
    count: () => inner.count(),
    close: () => inner.close(),
  };
}

test('store creates file and folder', async (t) => {
  const folder = await tempFolder(t);
  const file = join(folder, 'nested', 'deeper', 'missing.sqlite');

  const store = await openStore(t, file);

  t.true(existsSync(file));
  t.is(await store.count(), 0);
  const db = new Database(file, { readonly: true });
  t.teardown(() => db.close());
  t.is(db.pragma('journal_mode', { simple: true }), 'wal');
});

test('store without create rejects missing file', async (t) => {
  const file = join(await tempFolder(t), 'absent.sqlite');

  const error = t.throws(() => new SqliteMissingSymbolStore(file, { create: false }));

  t.true(error instanceof MissingSymbolDatabaseError);
  t.regex(error?.message ?? '', /not found/);
  t.false(existsSync(file));
});

test('store without create rejects foreign file', async (t) => {
  const file = join(await tempFolder(t), 'other.sqlite');
  const other = new Database(file);
  other.exec('CREATE TABLE unrelated (id INTEGER)');
  other.close();

  const error = t.throws(() => new SqliteMissingSymbolStore(file, { create: false }));

  t.true(error instanceof MissingSymbolDatabaseError);
  t.regex(error?.message ?? '', /has no missing_symbols table/);
});

test('store factory rejects database URL', async (t) => {
  const error = await t.throwsAsync(openMissingSymbolStore('postgres://db.example/symbols', { create: true }));

  t.true(error instanceof MissingSymbolDatabaseError);
  t.regex(error?.message ?? '', /is a database URL, which is not supported; set it to the path of a SQLite file/);
});

test('upsert adds counts and widens times', async (t) => {
  const store = await openStore(t);

  const firstInserted = await store.upsertBatch([record({ requestCount: 2, firstSeen: T0, lastSeen: T0 + 10 })]);
  const secondInserted = await store.upsertBatch([
    record({ requestCount: 3, firstSeen: T0 - 5, lastSeen: T0 + 5 }),
    record({ codeId: 'OTHER', requestCount: 1 }),
  ]);

  t.is(firstInserted, 1);
  t.is(secondInserted, 1);
  t.is(await store.count(), 2);
  const [merged, other] = readRecords(store.file);
  t.is(merged?.code_id, '5C8D8A4C3B2000');
  t.is(merged?.request_count, 5);
  t.is(merged?.first_seen, T0 - 5);
  t.is(merged?.last_seen, T0 + 10);
  t.is(other?.code_id, 'OTHER');
  t.is(other?.request_count, 1);
});

test('records survive close and reopen', async (t) => {
  const file = join(await tempFolder(t), 'missing.sqlite');
  const first = new SqliteMissingSymbolStore(file, { create: true });
  await first.upsertBatch([record(), record({ debugFile: 'nss3.pdb', symbolFile: 'nss3.sym' })]);
  await first.close();

  const reopened = new SqliteMissingSymbolStore(file, { create: false });
  t.teardown(() => reopened.close());

  t.is(await reopened.count(), 2);
  t.deepEqual(
    (await collectRows(reopened, ALL_ROWS)).map((row) => row.debugFile),
    ['nss3.pdb', 'xul.pdb'],
  );
});

test('export drops symbol_file duplicates', async (t) => {
  const store = await openStore(t);
  await store.upsertBatch([
    record({ symbolFile: 'xul.sym' }),
    record({ symbolFile: 'XUL.SYM' }),
    record({ symbolFile: 'xul.sym', codeId: 'OTHER' }),
  ]);

  const rows = await collectRows(store, ALL_ROWS);

  t.deepEqual(rows, [
    { debugFile: 'xul.pdb', debugId: '44E4EC8C2F41492B9369D6B9A059577C2', codeFile: 'xul.dll', codeId: '5C8D8A4C3B2000' },
    { debugFile: 'xul.pdb', debugId: '44E4EC8C2F41492B9369D6B9A059577C2', codeFile: 'xul.dll', codeId: 'OTHER' },
  ]);
});

test('export pages through every row', async (t) => {
  const store = await openStore(t);
  const records = Array.from({ length: 25 }, (_, index) =>
    record({ debugFile: `lib${String(index).padStart(2, '0')}.pdb` }),
  );
  // A duplicate per row that differs only in symbol_file, so pages must skip repeats across their edges.
  const duplicates = records.map((item) => ({ ...item, symbolFile: 'other.sym' }));
  await store.upsertBatch([...records, ...duplicates]);

  const batchSizes: number[] = [];
  const rows: ExportRow[] = [];
  for await (const batch of store.exportRows(ALL_ROWS, 4)) {
    batchSizes.push(batch.length);
    rows.push(...batch);
  }

  t.deepEqual(batchSizes, [4, 4, 4, 4, 4, 4, 1]);
  t.deepEqual(
    rows.map((row) => row.debugFile),
    records.map((item) => item.debugFile),
  );
});

test('export filters by last seen', async (t) => {
  const store = await openStore(t);
  await store.upsertBatch([
    record({ debugFile: 'old.pdb', lastSeen: T0 - 1 }),
    record({ debugFile: 'edge.pdb', lastSeen: T0 }),
    record({ debugFile: 'new.pdb', lastSeen: T0 + HOUR_MS }),
  ]);

  const rows = await collectRows(store, { ...ALL_ROWS, since: T0 });

  t.deepEqual(
    rows.map((row) => row.debugFile),
    ['edge.pdb', 'new.pdb'],
  );
});

test('export suffix filter ignores case', async (t) => {
  const store = await openStore(t);
  await store.upsertBatch([
    record({ debugFile: 'upper.PDB', symbolFile: 'upper.SYM' }),
    record({ debugFile: 'lower.pdb', symbolFile: 'lower.sym' }),
    record({ debugFile: 'libxul.so', symbolFile: 'libxul.so.sym' }),
    record({ debugFile: 'xul.pdb', symbolFile: 'xul.pd_' }),
    record({ debugFile: 'pdb', symbolFile: 'plain.sym' }),
  ]);

  const rows = await collectRows(store, { since: 0, debugFileSuffixes: ['.pdb'], symbolFileSuffixes: ['.sym'] });

  t.deepEqual(
    rows.map((row) => row.debugFile),
    ['lower.pdb', 'upper.PDB'],
  );
});

test('export suffix filter is literal', async (t) => {
  const store = await openStore(t);
  await store.upsertBatch([
    record({ debugFile: 'a_b.pdb' }),
    record({ debugFile: 'axb.pdb' }),
    record({ debugFile: 'a%b.pdb' }),
  ]);

  const underscore = await collectRows(store, { since: 0, debugFileSuffixes: ['_b.pdb'], symbolFileSuffixes: [] });
  const percent = await collectRows(store, { since: 0, debugFileSuffixes: ['%b.pdb'], symbolFileSuffixes: [] });

  t.deepEqual(underscore.map((row) => row.debugFile), ['a_b.pdb']);
  t.deepEqual(percent.map((row) => row.debugFile), ['a%b.pdb']);
});

test('prune deletes only old records', async (t) => {
  const store = await openStore(t);
  await store.upsertBatch([
    record({ debugFile: 'old.pdb', lastSeen: T0 - 1 }),
    record({ debugFile: 'older.pdb', lastSeen: T0 - HOUR_MS }),
    record({ debugFile: 'kept.pdb', lastSeen: T0 }),
  ]);

  const wouldDelete = await store.prune(T0, { dryRun: true });
  const countAfterDryRun = await store.count();
  const deleted = await store.prune(T0);

  t.is(wouldDelete, 2);
  t.is(countAfterDryRun, 3);
  t.is(deleted, 2);
  t.deepEqual(
    readRecords(store.file).map((row) => row.debug_file),
    ['kept.pdb'],
  );
});

test('recorder aggregates repeats into one record', async (t) => {
  const store = await openStore(t);
  let now = T0;
  const { recorder } = createRecorder(store, { clock: { now: () => now } });

  recorder.record(symbol());
  now += 1000;
  recorder.record(symbol());
  now += 1000;
  recorder.record(symbol());
  recorder.record(symbol({ codeFile: '' }));
  const pendingBeforeFlush = recorder.pendingCount;
  const written = await recorder.flush();

  t.is(pendingBeforeFlush, 2);
  t.true(written);
  t.is(recorder.pendingCount, 0);
  const rows = readRecords(store.file);
  t.is(rows.length, 2);
  t.is(rows[0]?.code_file, '');
  t.is(rows[0]?.request_count, 1);
  t.is(rows[1]?.code_file, 'xul.dll');
  t.is(rows[1]?.request_count, 3);
  t.is(rows[1]?.first_seen, T0);
  t.is(rows[1]?.last_seen, T0 + 2000);
  t.like(recorder.stats(), { recorded: 4, flushes: 1, flushFailures: 0, dropped: 0 });
});

test('recorder skips fields over 150 characters', async (t) => {
  const store = await openStore(t);
  const { recorder } = createRecorder(store);
  const atLimit = 'a'.repeat(MAX_FIELD_LENGTH);
  const overLimit = 'a'.repeat(MAX_FIELD_LENGTH + 1);
  // 150 emoji are 300 UTF-16 code units but 150 characters.
  const emojiAtLimit = '🦊'.repeat(MAX_FIELD_LENGTH);

  recorder.record(symbol({ codeFile: atLimit }));
  recorder.record(symbol({ codeId: emojiAtLimit }));
  for (const field of ['debugFile', 'debugId', 'symbolFile', 'codeFile', 'codeId'] as const) {
    recorder.record(symbol({ [field]: overLimit }));
  }
  await recorder.flush();

  t.is(MAX_FIELD_LENGTH, 150);
  const rows = readRecords(store.file);
  t.is(rows.length, 2);
  t.deepEqual(
    rows.map((row) => [String(row.code_file).length, String(row.code_id).length]),
    [
      [MAX_FIELD_LENGTH, '5C8D8A4C3B2000'.length],
      ['xul.dll'.length, MAX_FIELD_LENGTH * 2],
    ],
  );
  t.like(recorder.stats(), { recorded: 2, oversized: 5 });
});

test('recorder flushes early when full', async (t) => {
  const store = await openStore(t);
  const { recorder } = createRecorder(store, { maxPendingRecords: 3 });

  for (const debugFile of ['a.pdb', 'b.pdb', 'c.pdb']) {
    recorder.record(symbol({ debugFile }));
  }
  const pendingAtLimit = recorder.pendingCount;
  // The early flush runs in setImmediate, after the current event-loop turn.
  await new Promise((resolve) => setImmediate(resolve));
  await recorder.flush();

  t.is(pendingAtLimit, 3);
  t.is(recorder.pendingCount, 0);
  t.is(readRecords(store.file).length, 3);
  t.like(recorder.stats(), { flushes: 1 });
});

test('failed flush keeps records for retry', async (t) => {
  const sqlite = await openStore(t);
  const store = failingStore(sqlite);
  const { recorder, logs } = createRecorder(store);

  recorder.record(symbol());
  recorder.record(symbol({ codeId: 'OTHER' }));
  const firstAttempt = await recorder.flush();
  recorder.record(symbol());
  const secondAttempt = await recorder.flush();
  store.failing = false;
  const retried = await recorder.flush();

  t.false(firstAttempt);
  t.false(secondAttempt);
  t.true(retried);
  t.is(store.attempts, 3);
  const rows = readRecords(sqlite.file);
  t.deepEqual(
    rows.map((row) => [row.code_id, row.request_count]),
    [
      ['5C8D8A4C3B2000', 2],
      ['OTHER', 1],
    ],
  );
  t.like(recorder.stats(), { recorded: 3, flushes: 3, flushFailures: 2 });
  const [failure] = logs.withMessage(
    'Failed to write missing symbols to the database; keeping them in memory and retrying at the next flush',
  );
  t.is(failure?.level, 'error');
  t.is(failure?.pending_records, 2);
  t.is(logs.withMessage('Missing-symbol flush failed again; retrying at the next flush').length, 1);
  t.is(logs.withMessage('Missing-symbol flush succeeded after failures')[0]?.failed_flushes, 2);
});

test('full aggregate drops new symbols only', async (t) => {
  const sqlite = await openStore(t);
  const store = failingStore(sqlite);
  const { recorder, logs } = createRecorder(store, { maxPendingRecords: 3 });

  for (const debugFile of ['a.pdb', 'b.pdb', 'c.pdb']) {
    recorder.record(symbol({ debugFile }));
  }
  await new Promise((resolve) => setImmediate(resolve));
  await recorder.flush();
  const attemptsWhileFailing = store.attempts;
  for (let index = 0; index < 1000; index += 1) {
    recorder.record(symbol({ debugFile: `new${index}.pdb` }));
  }
  recorder.record(symbol({ debugFile: 'a.pdb' }));
  await new Promise((resolve) => setImmediate(resolve));
  const pendingWhileFull = recorder.pendingCount;
  const attemptsAfterFlood = store.attempts;
  store.failing = false;
  await recorder.flush();

  t.is(pendingWhileFull, 3);
  // No early flush while the store is failing: only the two explicit flushes reached it.
  t.is(attemptsWhileFailing, 2);
  t.is(attemptsAfterFlood, 2);
  t.like(recorder.stats(), { recorded: 4, dropped: 1000 });
  const rows = readRecords(sqlite.file);
  t.deepEqual(
    rows.map((row) => [row.debug_file, row.request_count]),
    [
      ['a.pdb', 2],
      ['b.pdb', 1],
      ['c.pdb', 1],
    ],
  );
  const warnings = logs.withMessage(
    'Missing-symbol aggregate is full; dropping requests for new symbols until a flush succeeds',
  );
  t.is(warnings.length, 1);
  t.is(warnings[0]?.max_pending_records, 3);
});
