import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { FixedRoute } from '../http/handler.js';
import { createCsvRoute } from './csv-route.js';
import { BufferedRecorder, type RecorderStats } from './recorder.js';
import { openMissingSymbolStore } from './store.js';
import type { MissingSymbolRecorder, MissingSymbolStore } from './types.js';

const DAY_MS = 86_400_000;

/** Records not seen for `retention_days` are deleted this often, and once at start. */
const PRUNE_INTERVAL_MS = DAY_MS;

/** The missing-symbols capability of one running server. */
export interface MissingSymbols {
  /** Pass to `createSymgate` as `recorder`. */
  readonly recorder: MissingSymbolRecorder;
  /** `/missingsymbols.csv`; pass to `createSymgate` in `routes`. */
  readonly csvRoute: FixedRoute;
  readonly store: MissingSymbolStore;
  /** Cumulative counters of the recorder, for metrics. */
  stats(): RecorderStats;
  /**
   * Returns the number of records in the store without a query. The count is
   * taken at start and after each prune, and each flush adds the records it
   * inserted.
   * NOTE: a prune by another process (`symgate missing-symbols prune`) shows
   * only after the next daily prune or a restart.
   */
  countRecords(): number;
  /** Writes the in-memory aggregate now. Returns whether every record was written. */
  flush(): Promise<boolean>;
  /** Deletes the records not seen for `retention_days`. Returns how many were deleted. */
  prune(): Promise<number>;
  /** Stops the timers, writes the aggregate and closes the store. Safe to call more than once. */
  close(): Promise<void>;
}

export interface MissingSymbolsOptions {
  logger: Logger;
  /** Clock in milliseconds since the Unix epoch; tests inject one. */
  clock?: { now(): number };
}

/**
 * Opens the store (creating a SQLite file and its folder when needed), and
 * starts the flush timer and the daily prune. Both timers are unref'd, so
 * they never keep the process alive.
 */
export async function openMissingSymbols(
  settings: Config['missing_symbols'],
  options: MissingSymbolsOptions,
): Promise<MissingSymbols> {
  const { logger } = options;
  const clock = options.clock ?? Date;
  const now = () => clock.now();
  const store = await openMissingSymbolStore(settings.database, { create: true });

  let recordCount: number;
  try {
    recordCount = await store.count();
  } catch (error) {
    await store.close();
    throw error;
  }
  const recorder = new BufferedRecorder({
    store,
    logger,
    maxPendingRecords: settings.max_pending_records,
    now,
    onInserted: (inserted) => {
      recordCount += inserted;
    },
  });
  const flush = () => recorder.flush();

  async function prune(): Promise<number> {
    const cutoff = now() - settings.retention_days * DAY_MS;
    const deleted = await store.prune(cutoff);
    recordCount = await store.count();
    logger.info(
      { deleted, retention_days: settings.retention_days, cutoff: new Date(cutoff).toISOString() },
      'Pruned old missing-symbol records',
    );
    return deleted;
  }

  async function pruneOnSchedule(): Promise<void> {
    try {
      await prune();
    } catch (error) {
      logger.error({ err: error }, 'Failed to prune old missing-symbol records; retrying at the next daily prune');
    }
  }

  const flushTimer = setInterval(() => void flush(), settings.flush_interval_seconds * 1000);
  flushTimer.unref();
  const pruneTimer = setInterval(() => void pruneOnSchedule(), PRUNE_INTERVAL_MS);
  pruneTimer.unref();
  // A server restarted more often than daily would otherwise never prune.
  await pruneOnSchedule();

  logger.info(
    {
      database: settings.database,
      records: recordCount,
      flush_interval_seconds: settings.flush_interval_seconds,
      max_pending_records: settings.max_pending_records,
      retention_days: settings.retention_days,
    },
    'Recording missing symbols',
  );

  let closing: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    clearInterval(flushTimer);
    clearInterval(pruneTimer);
    const written = await flush();
    if (!written) {
      logger.error(
        { lost_records: recorder.pendingCount, database: settings.database },
        'Closing with missing-symbol records that could not be written; they are lost',
      );
    }
    await store.close();
    logger.info({ stats: recorder.stats() }, 'Missing-symbol store closed');
  }

  return {
    recorder,
    csvRoute: createCsvRoute({ store, settings, logger, now, flush }),
    store,
    stats: () => recorder.stats(),
    countRecords: () => recordCount,
    flush,
    prune,
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}
