import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';

import { SqliteMissingSymbolStore } from '../src/missing/sqlite-store.js';
import { CLI, runCli } from './helpers/cli.js';
import { type S3Fixture, startS3 } from './helpers/s3.js';

const DEBUG_ID = '448794C699914DB8A8F9B9F88B98D7412';
const DAY_MS = 86_400_000;

function tempFolder(t: ExecutionContext): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'symgate-missing-cli-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

// Writes config.yaml into `folder`; the database path is relative to it.
function writeConfig(folder: string, s3Endpoint: string, extra = ''): string {
  const file = path.join(folder, 'config.yaml');
  writeFileSync(
    file,
    `server:
  host: 127.0.0.1
  port: 0
buckets:
  - name: symbols
    prefix: v1
    endpoint: ${s3Endpoint}
    force_path_style: true
storage:
  max_attempts: 1
  request_timeout_seconds: 30
missing_symbols:
  database: ./db/missing.sqlite
${extra}`,
  );
  return file;
}

// Creates the database with one record per entry, as a running server would have.
async function seedDatabase(folder: string, records: { debugFile: string; lastSeen: number }[]): Promise<string> {
  const file = path.join(folder, 'db', 'missing.sqlite');
  const store = new SqliteMissingSymbolStore(file, { create: true });
  await store.upsertBatch(
    records.map(({ debugFile, lastSeen }) => ({
      debugFile,
      debugId: DEBUG_ID,
      symbolFile: debugFile.replace(/\.pdb$/, '.sym'),
      codeFile: 'app.exe',
      codeId: 'ABC',
      requestCount: 1,
      firstSeen: lastSeen,
      lastSeen,
    })),
  );
  await store.close();
  return file;
}

function countRecords(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM missing_symbols').pluck().get() as number;
  } finally {
    db.close();
  }
}

async function startS3Fixture(t: ExecutionContext): Promise<S3Fixture> {
  const s3 = await startS3({ buckets: ['symbols'] });
  t.teardown(() => s3.close());
  return s3;
}

test('SIGTERM after a burst loses no record', async (t) => {
  const folder = tempFolder(t);
  const s3 = await startS3Fixture(t);
  // No timed flush during the test, so every record has to come from the shutdown flush.
  const config = writeConfig(folder, s3.endpoint, '  flush_interval_seconds: 3600\n');
  const child = spawn(process.execPath, [CLI, '--config', config], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logLines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const listening = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (text) => {
      const line = JSON.parse(text) as Record<string, unknown>;
      logLines.push(line);
      if (line.msg === 'symgate listening') {
        resolve(String(line.address));
      }
    });
    void exited.then((code) => reject(new Error(`symgate exited with ${code} before listening: ${stderr}`)));
  });
  const address = await listening;

  const total = 500;
  const statuses: number[] = [];
  const paths = Array.from({ length: total }, (_, index) => `/lib${index}.pdb/${DEBUG_ID}/lib${index}.sym`);
  // 25 clients, each sending its share one after another.
  await Promise.all(
    Array.from({ length: 25 }, async (_, client) => {
      for (let index = client; index < total; index += 25) {
        const response = await fetch(`${address}${paths[index]}?code_file=lib${index}.dll`);
        await response.arrayBuffer();
        statuses.push(response.status);
      }
    }),
  );
  child.kill('SIGTERM');
  const code = await exited;

  t.is(code, 0, stderr);
  t.deepEqual(statuses, Array.from({ length: total }, () => 404));
  t.is(countRecords(path.join(folder, 'db', 'missing.sqlite')), total);
  t.true(logLines.some((line) => line.msg === 'Shutdown complete'));
  t.false(logLines.some((line) => line.msg === 'Closing with missing-symbol records that could not be written; they are lost'));
});

test('export prints the CSV of the past day', async (t) => {
  const folder = tempFolder(t);
  const now = Date.now();
  const startOfToday = Math.floor(now / DAY_MS) * DAY_MS;
  await seedDatabase(folder, [
    { debugFile: 'today.pdb', lastSeen: now },
    { debugFile: 'yesterday.pdb', lastSeen: startOfToday - 1 },
    { debugFile: 'old.pdb', lastSeen: now - 25 * 3_600_000 },
  ]);
  const embeddedDirectory = path.join(folder, 'embedded');
  const config = writeConfig(
    folder,
    'http://127.0.0.1:9',
    `embedded_store:\n  directory: ${embeddedDirectory}\n  port: 0\n`,
  );

  const day = await runCli(['missing-symbols', 'export', '--config', config]);
  const today = await runCli(['missing-symbols', 'export', '--today', '--config', config]);

  t.is(day.code, 0, day.stderr);
  t.is(
    day.stdout,
    'debug_file,debug_id,code_file,code_id\r\n' +
      `today.pdb,${DEBUG_ID},app.exe,ABC\r\n` +
      `yesterday.pdb,${DEBUG_ID},app.exe,ABC\r\n`,
  );
  t.is(today.code, 0, today.stderr);
  t.is(today.stdout, `debug_file,debug_id,code_file,code_id\r\ntoday.pdb,${DEBUG_ID},app.exe,ABC\r\n`);
  // The command must not start the embedded store, which would create its folder.
  t.false(existsSync(embeddedDirectory));
});

test('export without database fails', async (t) => {
  const folder = tempFolder(t);
  const config = writeConfig(folder, 'http://127.0.0.1:9');

  const result = await runCli(['missing-symbols', 'export', '--config', config]);

  t.is(result.code, 1);
  t.is(result.stdout, '');
  t.regex(result.stderr, /Missing-symbols database .*missing\.sqlite not found/);
  t.false(existsSync(path.join(folder, 'db')));
});

test('prune dry run counts and keeps', async (t) => {
  const folder = tempFolder(t);
  const now = Date.now();
  const database = await seedDatabase(folder, [
    { debugFile: 'stale.pdb', lastSeen: now - 31 * DAY_MS },
    { debugFile: 'stale2.pdb', lastSeen: now - 40 * DAY_MS },
    { debugFile: 'recent.pdb', lastSeen: now - 29 * DAY_MS },
  ]);
  const config = writeConfig(folder, 'http://127.0.0.1:9');

  const dryRun = await runCli(['missing-symbols', 'prune', '--dry-run', '--config', config]);
  const countAfterDryRun = countRecords(database);
  const prune = await runCli(['missing-symbols', 'prune', '--config', config]);

  t.is(dryRun.code, 0, dryRun.stderr);
  t.regex(dryRun.stdout, /^Would delete 2 records last seen before \S+ \(retention_days: 30\); deleted nothing \(--dry-run\)\n$/);
  t.is(countAfterDryRun, 3);
  t.is(prune.code, 0, prune.stderr);
  t.regex(prune.stdout, /^Deleted 2 records last seen before \S+ \(retention_days: 30\)\n$/);
  t.is(countRecords(database), 1);
});

test('prune follows retention_days', async (t) => {
  const folder = tempFolder(t);
  const database = await seedDatabase(folder, [{ debugFile: 'week-old.pdb', lastSeen: Date.now() - 8 * DAY_MS }]);
  const config = writeConfig(folder, 'http://127.0.0.1:9', '  retention_days: 7\n');

  const result = await runCli(['missing-symbols', 'prune', '--config', config]);

  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /^Deleted 1 record last seen before \S+ \(retention_days: 7\)\n$/);
  t.is(countRecords(database), 0);
});

test('bad subcommands exit 2 with usage', async (t) => {
  const cases = [
    { args: ['missing-symbols'], message: /missing command/ },
    { args: ['missing-symbols', 'list'], message: /unknown command "list"/ },
    { args: ['missing-symbols', 'export', 'extra'], message: /unexpected argument "extra"/ },
    { args: ['missing-symbols', 'prune', '--today'], message: /--today only applies to export/ },
    { args: ['missing-symbols', 'export', '--dry-run'], message: /--dry-run only applies to prune/ },
    { args: ['missing-symbols', 'export', '--since', 'x'], message: /Unknown option '--since'/ },
  ];

  for (const { args, message } of cases) {
    const result = await runCli(args);

    t.is(result.code, 2, args.join(' '));
    t.regex(result.stderr, message, args.join(' '));
    t.regex(result.stderr, /Usage: symgate missing-symbols export/, args.join(' '));
  }
});

test('missing-symbols help exits 0', async (t) => {
  const result = await runCli(['missing-symbols', '--help']);

  t.is(result.code, 0);
  t.regex(result.stdout, /symgate missing-symbols prune \[--dry-run\] \[--config FILE\]/);
});
