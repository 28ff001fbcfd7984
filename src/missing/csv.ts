import type { Writable } from 'node:stream';
import type { ExportRow } from './types.js';

/** RFC 4180 ends every line, the last one included, with CRLF. */
const LINE_END = '\r\n';

export const CSV_HEADER = `debug_file,debug_id,code_file,code_id${LINE_END}`;

const DAY_MS = 86_400_000;

/** Characters that make RFC 4180 enclose a field in double quotes. */
const NEEDS_QUOTES = /[",\r\n]/;

/** Quotes a field when RFC 4180 requires it, doubling the quotes inside. */
export function formatCsvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function formatCsvRow(row: ExportRow): string {
  return (
    [row.debugFile, row.debugId, row.codeFile, row.codeId].map(formatCsvField).join(',') + LINE_END
  );
}

/** The records of one report and the UTC day it is named after. */
export interface ReportWindow {
  /** Milliseconds since the Unix epoch. */
  readonly since: number;
  /** `YYYY-MM-DD`, the UTC date of `now`. */
  readonly day: string;
}

/**
 * Returns the window of a report made at `now`: the past 24 hours, or with
 * `today` the time since 00:00 UTC.
 */
export function reportWindow(now: number, today: boolean): ReportWindow {
  // Unix time has no leap seconds, so every UTC day starts at a multiple of DAY_MS.
  const startOfDay = Math.floor(now / DAY_MS) * DAY_MS;
  return {
    since: today ? startOfDay : now - DAY_MS,
    day: new Date(now).toISOString().slice(0, 10),
  };
}

/** Returns the `Content-Disposition` file name of a report of `day`. */
export function reportFileName(day: string): string {
  return `missing-symbols-${day}.csv`;
}

/**
 * Writes the header and every batch to `output`, waiting for 'drain' whenever
 * `write()` returns false. Once `output` is closed or fails, it stops reading
 * batches and returns false. Returns true when everything was written.
 */
export async function writeCsv(output: Writable, batches: AsyncIterable<readonly ExportRow[]>): Promise<boolean> {
  if (!(await writeChunk(output, CSV_HEADER))) {
    return false;
  }
  for await (const batch of batches) {
    if (!(await writeChunk(output, batch.map(formatCsvRow).join('')))) {
      return false;
    }
  }
  return true;
}

async function writeChunk(output: Writable, text: string): Promise<boolean> {
  if (output.destroyed || output.writableEnded) {
    return false;
  }
  if (output.write(text)) {
    return true;
  }
  return new Promise<boolean>((resolve) => {
    const finish = (drained: boolean) => {
      output.off('drain', onDrain);
      output.off('close', onStop);
      output.off('error', onStop);
      resolve(drained);
    };
    const onDrain = () => finish(true);
    const onStop = () => finish(false);
    output.on('drain', onDrain);
    output.on('close', onStop);
    output.on('error', onStop);
  });
}
