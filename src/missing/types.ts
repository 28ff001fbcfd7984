/** One request for a symbol that no location has, with the client's optional code file hints. */
export interface MissingSymbol {
  readonly debugFile: string;
  readonly debugId: string;
  readonly symbolFile: string;
  /** Empty when the request had no `code_file`. */
  readonly codeFile: string;
  /** Empty when the request had no `code_id`. */
  readonly codeId: string;
}

/** Takes missing-symbol requests from the request path; must not block or throw. */
export interface MissingSymbolRecorder {
  record(symbol: MissingSymbol): void;
}

/** The aggregate of every request for one missing symbol with the same code file hints. */
export interface MissingSymbolRecord extends MissingSymbol {
  readonly requestCount: number;
  /** Time of the first request, in milliseconds since the Unix epoch. */
  readonly firstSeen: number;
  /** Time of the latest request, in milliseconds since the Unix epoch. */
  readonly lastSeen: number;
}

/** Selects the records of one `/missingsymbols.csv` report. */
export interface ExportQuery {
  /** Records last seen at or after this time, in milliseconds since the Unix epoch. */
  readonly since: number;
  /** Suffixes of `debug_file`, compared case-insensitively; a record matches one of them. */
  readonly debugFileSuffixes: readonly string[];
  /** Suffixes of `symbol_file`, compared case-insensitively; a record matches one of them. */
  readonly symbolFileSuffixes: readonly string[];
}

/** One CSV row. The CSV has no symbol_file column, so a row can stand for several records. */
export interface ExportRow {
  readonly debugFile: string;
  readonly debugId: string;
  readonly codeFile: string;
  readonly codeId: string;
}

/**
 * Durable storage of missing-symbol records. Every method is asynchronous so
 * that a networked database can implement it; only the flush and the CSV
 * export call it, never the request path.
 */
export interface MissingSymbolStore {
  /**
   * Adds the records in one transaction: a new record is inserted, an
   * existing one gets the request count added and its first and last seen
   * times widened. Returns the number of records that were new.
   */
  upsertBatch(records: readonly MissingSymbolRecord[]): Promise<number>;
  /**
   * Yields the distinct rows matching `query` in batches of at most
   * `batchSize`, sorted by debug_file, debug_id, code_file and code_id.
   * Each batch is read by its own short query, so a slow consumer does not
   * hold the database while it waits.
   */
  exportRows(query: ExportQuery, batchSize?: number): AsyncIterable<readonly ExportRow[]>;
  /**
   * Deletes the records last seen before `cutoff` (milliseconds since the Unix
   * epoch), or only counts them when `dryRun` is set. Returns that number.
   */
  prune(cutoff: number, options?: { dryRun?: boolean }): Promise<number>;
  /** Returns the number of stored records. */
  count(): Promise<number>;
  close(): Promise<void>;
}
