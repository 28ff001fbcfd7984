import type { Logger } from 'pino';
import { RateLimitedLog } from '../log/rate-limited.js';
import type { MissingSymbol, MissingSymbolRecorder, MissingSymbolStore } from './types.js';

/** Maximum length, in characters (code points), of each field of a recorded symbol. */
export const MAX_FIELD_LENGTH = 150;

/** Cumulative counters since the recorder was created. */
export interface RecorderStats {
  /** Requests added to the aggregate. */
  recorded: number;
  /** Requests not recorded because a field was longer than {@link MAX_FIELD_LENGTH}. */
  oversized: number;
  /** Requests not recorded because the aggregate was full. */
  dropped: number;
  /** Flushes that had records to write, failed ones included. */
  flushes: number;
  /** Flushes whose transaction failed. Their records stay in memory for the next flush. */
  flushFailures: number;
}

export interface BufferedRecorderOptions {
  store: MissingSymbolStore;
  logger: Logger;
  /** Maximum number of distinct records in memory, the batch being written included. */
  maxPendingRecords: number;
  /** Milliseconds since the Unix epoch. */
  now: () => number;
  /** Called with the number of new records after each successful flush. */
  onInserted?: (inserted: number) => void;
}

interface PendingRecord {
  debugFile: string;
  debugId: string;
  symbolFile: string;
  codeFile: string;
  codeId: string;
  requestCount: number;
  firstSeen: number;
  lastSeen: number;
}

/**
 * Aggregates missing-symbol requests in memory and writes them to the store
 * in batches, one transaction per flush. The caller runs {@link flush} on a
 * timer. Reaching `maxPendingRecords` distinct records starts a flush early.
 *
 * When the store fails, the batch goes back into the aggregate and the next
 * timed flush retries it. Early flushes stop until a flush succeeds, so a
 * broken database is not retried on every request. While the aggregate is
 * full, requests for records already in it still count, and requests for new
 * records are dropped, counted in `dropped` and logged at most every 10 s.
 */
export class BufferedRecorder implements MissingSymbolRecorder {
  private pending = new Map<string, PendingRecord>();
  /** Size of the batch being written, which still counts against the limit. */
  private writingCount = 0;
  private flushChain: Promise<unknown> = Promise.resolve();
  private earlyFlushQueued = false;
  private consecutiveFailures = 0;
  private readonly counters: RecorderStats = { recorded: 0, oversized: 0, dropped: 0, flushes: 0, flushFailures: 0 };
  private readonly store: MissingSymbolStore;
  private readonly logger: Logger;
  private readonly warnings: RateLimitedLog;
  private readonly maxPendingRecords: number;
  private readonly now: () => number;
  private readonly onInserted: (inserted: number) => void;

  constructor(options: BufferedRecorderOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.maxPendingRecords = options.maxPendingRecords;
    this.now = options.now;
    this.onInserted = options.onInserted ?? (() => {});
    this.warnings = new RateLimitedLog(options.logger, 10_000, options.now);
  }

  record(symbol: MissingSymbol): void {
    const { debugFile, debugId, symbolFile, codeFile, codeId } = symbol;
    if ([debugFile, debugId, symbolFile, codeFile, codeId].some(isOversized)) {
      this.counters.oversized += 1;
      return;
    }
    const now = this.now();
    // Length prefixes keep the key unambiguous whatever characters the fields contain.
    const key = [debugFile, debugId, symbolFile, codeFile, codeId].map((field) => `${field.length}:${field}`).join('');
    const existing = this.pending.get(key);
    if (existing !== undefined) {
      existing.requestCount += 1;
      existing.firstSeen = Math.min(existing.firstSeen, now);
      existing.lastSeen = Math.max(existing.lastSeen, now);
      this.counters.recorded += 1;
      return;
    }
    if (this.heldCount >= this.maxPendingRecords) {
      this.counters.dropped += 1;
      this.warnings.warn(
        'aggregate-full',
        { max_pending_records: this.maxPendingRecords, dropped_total: this.counters.dropped },
        'Missing-symbol aggregate is full; dropping requests for new symbols until a flush succeeds',
      );
      this.queueEarlyFlush();
      return;
    }
    this.pending.set(key, { debugFile, debugId, symbolFile, codeFile, codeId, requestCount: 1, firstSeen: now, lastSeen: now });
    this.counters.recorded += 1;
    if (this.heldCount >= this.maxPendingRecords) {
      this.queueEarlyFlush();
    }
  }

  /** Distinct records in memory, the batch being written included. */
  get pendingCount(): number {
    return this.heldCount;
  }

  stats(): RecorderStats {
    return { ...this.counters };
  }

  /**
   * Writes the aggregate to the store. Flushes run one after another, so a
   * flush started while another runs also writes what arrived meanwhile.
   * Returns whether the store accepted every record. The promise never rejects.
   */
  flush(): Promise<boolean> {
    const run = this.flushChain.then(() => this.writePending());
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  private get heldCount(): number {
    return this.pending.size + this.writingCount;
  }

  private queueEarlyFlush(): void {
    if (this.earlyFlushQueued || this.consecutiveFailures > 0) {
      return;
    }
    this.earlyFlushQueued = true;
    // Deferred, so record() never waits for the database.
    setImmediate(() => {
      this.earlyFlushQueued = false;
      void this.flush();
    });
  }

  private async writePending(): Promise<boolean> {
    if (this.pending.size === 0) {
      return true;
    }
    const batch = this.pending;
    this.pending = new Map();
    this.writingCount = batch.size;
    this.counters.flushes += 1;
    let inserted: number;
    try {
      inserted = await this.store.upsertBatch([...batch.values()]);
    } catch (error) {
      this.writingCount = 0;
      this.restore(batch);
      this.reportFailure(error);
      return false;
    }
    this.writingCount = 0;
    if (this.consecutiveFailures > 0) {
      this.logger.info(
        { failed_flushes: this.consecutiveFailures, records: batch.size },
        'Missing-symbol flush succeeded after failures',
      );
      this.consecutiveFailures = 0;
    }
    this.onInserted(inserted);
    return true;
  }

  private reportFailure(error: unknown): void {
    this.counters.flushFailures += 1;
    this.consecutiveFailures += 1;
    if (this.consecutiveFailures === 1) {
      this.logger.error(
        { err: error, pending_records: this.pending.size },
        'Failed to write missing symbols to the database; keeping them in memory and retrying at the next flush',
      );
      return;
    }
    this.warnings.warn(
      'flush-failed',
      { err: error, failed_flushes: this.consecutiveFailures, pending_records: this.pending.size },
      'Missing-symbol flush failed again; retrying at the next flush',
    );
  }

  // Merges a failed batch back. Records that arrived during the write counted
  // against the limit together with the batch, so the merge cannot exceed it.
  private restore(batch: Map<string, PendingRecord>): void {
    for (const [key, record] of batch) {
      const newer = this.pending.get(key);
      if (newer === undefined) {
        this.pending.set(key, record);
        continue;
      }
      newer.requestCount += record.requestCount;
      newer.firstSeen = Math.min(newer.firstSeen, record.firstSeen);
      newer.lastSeen = Math.max(newer.lastSeen, record.lastSeen);
    }
  }
}

function isOversized(value: string): boolean {
  // length counts UTF-16 code units, so only a long string needs the code point count.
  return value.length > MAX_FIELD_LENGTH && [...value].length > MAX_FIELD_LENGTH;
}
