import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ExportQuery, ExportRow, MissingSymbolRecord, MissingSymbolStore } from './types.js';

/** Bumped when the table layout changes, so a later version can migrate older files. */
const SCHEMA_VERSION = 1;

// WITHOUT ROWID keeps the rows in primary-key order, which is the CSV order, so
// the export reads them with a range scan and no sort. Times are milliseconds
// since the Unix epoch.
const CREATE_SCHEMA = `
  CREATE TABLE IF NOT EXISTS missing_symbols (
    debug_file TEXT NOT NULL,
    debug_id TEXT NOT NULL,
    code_file TEXT NOT NULL,
    code_id TEXT NOT NULL,
    symbol_file TEXT NOT NULL,
    request_count INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (debug_file, debug_id, code_file, code_id, symbol_file)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS missing_symbols_last_seen ON missing_symbols (last_seen);
`;

const UPSERT = `
  INSERT INTO missing_symbols
    (debug_file, debug_id, code_file, code_id, symbol_file, request_count, first_seen, last_seen)
  VALUES (@debugFile, @debugId, @codeFile, @codeId, @symbolFile, @requestCount, @firstSeen, @lastSeen)
  ON CONFLICT (debug_file, debug_id, code_file, code_id, symbol_file) DO UPDATE SET
    request_count = request_count + excluded.request_count,
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen)
  RETURNING request_count
`;

const DEFAULT_BATCH_SIZE = 1000;

export interface SqliteStoreOptions {
  /**
   * Whether to create the file, its folder and the table when they do not
   * exist. When false, opening a missing file or one without the table throws.
   */
  create: boolean;
}

/** Thrown when the database file cannot be opened or is not a missing-symbols database. */
export class MissingSymbolDatabaseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MissingSymbolDatabaseError';
  }
}

/**
 * The SQLite store: one file in WAL mode, so the CLI can read and prune it
 * while the server writes. better-sqlite3 is synchronous, so every
 * call blocks the event loop for the duration of its query.
 */
export class SqliteMissingSymbolStore implements MissingSymbolStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly upsertAll: (records: readonly MissingSymbolRecord[]) => number;

  constructor(file: string, options: SqliteStoreOptions) {
    this.file = file;
    if (!options.create && !existsSync(file)) {
      throw new MissingSymbolDatabaseError(
        `Missing-symbols database ${file} not found; start symgate once to create it, or fix missing_symbols.database`,
      );
    }
    if (options.create) {
      mkdirSync(path.dirname(file), { recursive: true });
    }
    try {
      this.db = new Database(file, { fileMustExist: !options.create });
    } catch (error) {
      throw new MissingSymbolDatabaseError(
        `Cannot open the missing-symbols database ${file}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    try {
      this.db.pragma('journal_mode = WAL');
      // SQLite documents that in WAL mode NORMAL keeps the file consistent, but a
      // power loss may undo the last commits. A crash of the process loses nothing.
      this.db.pragma('synchronous = NORMAL');
      if (options.create) {
        this.db.exec(CREATE_SCHEMA);
        if (this.db.pragma('user_version', { simple: true }) === 0) {
          this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
        }
      } else {
        this.checkSchema();
      }
      const upsert = this.db.prepare(UPSERT).pluck();
      this.upsertAll = this.db.transaction((records: readonly MissingSymbolRecord[]) => {
        let inserted = 0;
        for (const record of records) {
          // An updated row has the stored count added, so only a new row returns the batch's own count.
          if (upsert.get(record) === record.requestCount) {
            inserted += 1;
          }
        }
        return inserted;
      });
    } catch (error) {
      this.db.close();
      if (error instanceof MissingSymbolDatabaseError) {
        throw error;
      }
      throw new MissingSymbolDatabaseError(
        `Cannot prepare the missing-symbols database ${file}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async upsertBatch(records: readonly MissingSymbolRecord[]): Promise<number> {
    return this.upsertAll(records);
  }

  async *exportRows(query: ExportQuery, batchSize = DEFAULT_BATCH_SIZE): AsyncGenerator<readonly ExportRow[]> {
    const debugFilter = suffixCondition('debug_file', query.debugFileSuffixes);
    const symbolFilter = suffixCondition('symbol_file', query.symbolFileSuffixes);
    // The unary + keeps SQLite from reading through the last_seen index, which
    // would need a sort of every matching row for each batch.
    const statement = this.db
      .prepare(
        `SELECT DISTINCT debug_file, debug_id, code_file, code_id
         FROM missing_symbols
         WHERE +last_seen >= ?
           AND (debug_file, debug_id, code_file, code_id) > (?, ?, ?, ?)
           ${debugFilter.sql} ${symbolFilter.sql}
         ORDER BY debug_file, debug_id, code_file, code_id
         LIMIT ?`,
      )
      .raw();
    // Keyset pagination: each batch starts after the last row of the one
    // before. No stored debug_file is empty, so the first key precedes every row.
    let after: string[] = ['', '', '', ''];
    for (;;) {
      const rows = statement.all(
        query.since,
        ...after,
        ...debugFilter.parameters,
        ...symbolFilter.parameters,
        batchSize,
      ) as [string, string, string, string][];
      if (rows.length === 0) {
        return;
      }
      yield rows.map(([debugFile, debugId, codeFile, codeId]) => ({ debugFile, debugId, codeFile, codeId }));
      if (rows.length < batchSize) {
        return;
      }
      after = rows[rows.length - 1] as string[];
    }
  }

  async prune(cutoff: number, options: { dryRun?: boolean } = {}): Promise<number> {
    if (options.dryRun === true) {
      return this.db.prepare('SELECT count(*) FROM missing_symbols WHERE last_seen < ?').pluck().get(cutoff) as number;
    }
    return this.db.prepare('DELETE FROM missing_symbols WHERE last_seen < ?').run(cutoff).changes;
  }

  async count(): Promise<number> {
    return this.db.prepare('SELECT count(*) FROM missing_symbols').pluck().get() as number;
  }

  async close(): Promise<void> {
    if (this.db.open) {
      this.db.close();
    }
  }

  private checkSchema(): void {
    const table = this.db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'missing_symbols'")
      .pluck()
      .get();
    if (table === undefined) {
      throw new MissingSymbolDatabaseError(
        `${this.file} has no missing_symbols table; check that missing_symbols.database names the file symgate writes`,
      );
    }
  }
}

/**
 * Builds `AND (column LIKE ? OR ...)` for a list of suffixes. SQLite's LIKE
 * ignores case for ASCII letters only. An empty list matches every row.
 */
function suffixCondition(column: string, suffixes: readonly string[]): { sql: string; parameters: string[] } {
  if (suffixes.length === 0) {
    return { sql: '', parameters: [] };
  }
  const terms = suffixes.map(() => `${column} LIKE ? ESCAPE '\\'`);
  return {
    sql: `AND (${terms.join(' OR ')})`,
    parameters: suffixes.map((suffix) => `%${suffix.replace(/[\\%_]/g, '\\$&')}`),
  };
}
