import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { DEFAULT_CONFIG_PATH, loadConfigFile, type Config } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { exportQuery } from './csv-route.js';
import { reportWindow, writeCsv } from './csv.js';
import { MissingSymbolDatabaseError } from './sqlite-store.js';
import { openMissingSymbolStore } from './store.js';

const DAY_MS = 86_400_000;

export const MISSING_SYMBOLS_USAGE = `Usage: symgate missing-symbols export [--today] [--config FILE]
       symgate missing-symbols prune [--dry-run] [--config FILE]

Works on the database named by missing_symbols.database, without starting
the server, so it can run next to a running server.

Commands:
  export   write the CSV that /missingsymbols.csv serves to standard output:
           the records last seen in the past 24 hours
  prune    delete the records not seen for missing_symbols.retention_days
           and print how many were deleted

Options:
  -c, --config FILE   config file to read (default: ${DEFAULT_CONFIG_PATH})
      --today         export: only the records last seen since 00:00 UTC
      --dry-run       prune: print how many records would be deleted, and keep them
  -h, --help          print this help and exit

Exit status: 0 on success, 1 when the database cannot be read or written,
2 for an invalid command line or config file.`;

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

export interface CommandStreams {
  stdout: Writable;
  stderr: Writable;
}

/**
 * Runs `symgate missing-symbols ARGS`, with `argv` the arguments after
 * `missing-symbols`. Returns the exit status.
 */
export async function runMissingSymbolsCommand(
  argv: string[],
  streams: CommandStreams = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const { stdout, stderr } = streams;
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_PATH },
        today: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
    });
  } catch (error) {
    stderr.write(`symgate missing-symbols: ${(error as Error).message}\n\n${MISSING_SYMBOLS_USAGE}\n`);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    stdout.write(`${MISSING_SYMBOLS_USAGE}\n`);
    return 0;
  }
  const usageProblem = checkUsage(positionals, values.today, values['dry-run']);
  if (usageProblem !== undefined) {
    stderr.write(`symgate missing-symbols: ${usageProblem}\n\n${MISSING_SYMBOLS_USAGE}\n`);
    return EXIT_USAGE;
  }

  let config: Config;
  try {
    ({ config } = loadConfigFile(values.config));
  } catch (error) {
    if (error instanceof ConfigError) {
      stderr.write(`symgate: invalid configuration in ${values.config}:\n`);
      for (const problem of error.problems) {
        stderr.write(`  ${problem}\n`);
      }
      return EXIT_USAGE;
    }
    throw error;
  }

  const command = positionals[0];
  try {
    if (command === 'export') {
      return await exportCsv(config.missing_symbols, values.today, streams);
    }
    return await prune(config.missing_symbols, values['dry-run'], stdout);
  } catch (error) {
    if (error instanceof MissingSymbolDatabaseError || error instanceof Database.SqliteError) {
      stderr.write(`symgate missing-symbols ${command}: ${(error as Error).message}\n`);
      return EXIT_FAILURE;
    }
    throw error;
  }
}

function checkUsage(positionals: string[], today: boolean, dryRun: boolean): string | undefined {
  if (positionals.length === 0) {
    return 'missing command: expected export or prune';
  }
  const [command, ...extra] = positionals;
  if (command !== 'export' && command !== 'prune') {
    return `unknown command ${JSON.stringify(command)}: expected export or prune`;
  }
  if (extra.length > 0) {
    return `unexpected argument ${JSON.stringify(extra[0])}`;
  }
  if (today && command !== 'export') {
    return '--today only applies to export';
  }
  if (dryRun && command !== 'prune') {
    return '--dry-run only applies to prune';
  }
  return undefined;
}

async function exportCsv(settings: Config['missing_symbols'], today: boolean, streams: CommandStreams): Promise<number> {
  const { stdout, stderr } = streams;
  const store = await openMissingSymbolStore(settings.database, { create: false });
  // Without a listener, a closed pipe (EPIPE) would crash the process. With one, writeCsv stops instead.
  const ignoreWriteError = () => {};
  stdout.on('error', ignoreWriteError);
  try {
    const window = reportWindow(Date.now(), today);
    const complete = await writeCsv(stdout, store.exportRows(exportQuery(settings, window.since)));
    if (!complete) {
      stderr.write('symgate missing-symbols export: standard output closed before the export finished\n');
      return EXIT_FAILURE;
    }
    // The process exits right after this returns, so wait until the last chunk is handed to the OS.
    await new Promise<void>((resolve) => stdout.write('', () => resolve()));
    return 0;
  } finally {
    stdout.off('error', ignoreWriteError);
    await store.close();
  }
}

async function prune(settings: Config['missing_symbols'], dryRun: boolean, stdout: Writable): Promise<number> {
  const store = await openMissingSymbolStore(settings.database, { create: false });
  try {
    const cutoff = new Date(Date.now() - settings.retention_days * DAY_MS);
    const count = await store.prune(cutoff.getTime(), { dryRun });
    const records = count === 1 ? 'record' : 'records';
    const age = `last seen before ${cutoff.toISOString()} (retention_days: ${settings.retention_days})`;
    stdout.write(
      dryRun ? `Would delete ${count} ${records} ${age}; deleted nothing (--dry-run)\n` : `Deleted ${count} ${records} ${age}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
