import type { OutgoingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { FixedRoute } from '../http/handler.js';
import { sendText } from '../http/respond.js';
import { reportFileName, reportWindow, writeCsv } from './csv.js';
import type { ExportQuery, ExportRow, MissingSymbolStore } from './types.js';

export const CSV_PATH = '/missingsymbols.csv';

export interface CsvRouteOptions {
  store: MissingSymbolStore;
  settings: Config['missing_symbols'];
  logger: Logger;
  /** Milliseconds since the Unix epoch. */
  now: () => number;
  /** Writes records still in memory, so the report includes requests up to now. */
  flush: () => Promise<unknown>;
}

/** Builds the export query of a report window from the suffix settings. */
export function exportQuery(settings: Config['missing_symbols'], since: number): ExportQuery {
  return {
    since,
    debugFileSuffixes: settings.csv_debug_file_suffixes,
    symbolFileSuffixes: settings.csv_symbol_file_suffixes,
  };
}

/**
 * Creates `GET|HEAD /missingsymbols.csv`: the missing symbols of the past 24
 * hours, or since 00:00 UTC with `?today`, streamed as CSV.
 */
export function createCsvRoute(options: CsvRouteOptions): FixedRoute {
  const { store, settings, logger, now, flush } = options;

  return {
    path: CSV_PATH,
    route: 'csv',
    async handle(req, res, target) {
      const window = reportWindow(now(), target.query.has('today'));
      const headers: OutgoingHttpHeaders = {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="${reportFileName(window.day)}"`,
        'Cache-Control': 'no-store',
      };
      if (req.method === 'HEAD') {
        res.writeHead(200, headers);
        res.end();
        return;
      }

      await flush();
      const batches = store.exportRows(exportQuery(settings, window.since))[Symbol.asyncIterator]();
      // The first batch is read before the status is sent, so a database
      // failure can still get a 503 in place of a cut-off 200.
      let first: IteratorResult<readonly ExportRow[]>;
      try {
        first = await batches.next();
      } catch (error) {
        logger.error({ err: error }, 'Failed to read missing symbols for the CSV export');
        sendText(res, 503, 'Missing-symbols database unavailable, retry later', { 'Cache-Control': 'no-store' });
        return;
      }

      res.writeHead(200, headers);
      try {
        if (await writeCsv(res, prependBatch(first, batches))) {
          res.end();
        }
      } catch (error) {
        logger.error({ err: error }, 'Missing-symbols CSV export failed after the response started; closing the connection');
        res.destroy();
      }
    },
  };
}

/** Yields an already read result, then the rest of `rest`, and closes `rest` when the consumer stops early. */
async function* prependBatch<T>(first: IteratorResult<T>, rest: AsyncIterator<T>): AsyncGenerator<T> {
  try {
    let result = first;
    while (result.done !== true) {
      yield result.value;
      result = await rest.next();
    }
  } finally {
    await rest.return?.();
  }
}
