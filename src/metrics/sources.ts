/** Running totals of the missing-symbols recorder since it started. */
export interface MissingSymbolsStats {
  /** Missing-symbol requests taken by `record()`. */
  readonly recorded: number;
  /** Flushes of pending records to the database, failed ones included. */
  readonly flushes: number;
  readonly flushFailures: number;
  /** Requests not recorded because the in-memory aggregate was full. Absent means 0. */
  readonly dropped?: number;
  /** Requests not recorded because a field was too long. Absent means 0. */
  readonly oversized?: number;
}

/**
 * The part of the missing-symbols store that the metrics read at each
 * scrape. Both methods are called from the scrape, never from the request
 * path, so `countRecords()` may query the database.
 */
export interface MissingSymbolsStatsSource {
  stats(): MissingSymbolsStats;
  countRecords(): number | Promise<number>;
}

/**
 * Returns `value` as a stats source when it has `stats()` and
 * `countRecords()`, so a recorder that also keeps totals is picked up
 * without further wiring.
 */
export function asMissingSymbolsStatsSource(value: unknown): MissingSymbolsStatsSource | undefined {
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  const candidate = value as Partial<Record<keyof MissingSymbolsStatsSource, unknown>>;
  if (typeof candidate.stats === 'function' && typeof candidate.countRecords === 'function') {
    return value as MissingSymbolsStatsSource;
  }
  return undefined;
}
