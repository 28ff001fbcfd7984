export { MISSING_SYMBOLS_USAGE, runMissingSymbolsCommand } from './command.js';
export { CSV_HEADER, formatCsvField, formatCsvRow, reportWindow, writeCsv } from './csv.js';
export { CSV_PATH, createCsvRoute } from './csv-route.js';
export { BufferedRecorder, MAX_FIELD_LENGTH, type RecorderStats } from './recorder.js';
export { openMissingSymbols, type MissingSymbols, type MissingSymbolsOptions } from './service.js';
export { MissingSymbolDatabaseError, SqliteMissingSymbolStore } from './sqlite-store.js';
export { openMissingSymbolStore } from './store.js';
export type {
  ExportQuery,
  ExportRow,
  MissingSymbol,
  MissingSymbolRecord,
  MissingSymbolRecorder,
  MissingSymbolStore,
} from './types.js';
