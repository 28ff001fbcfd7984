import { MissingSymbolDatabaseError, SqliteMissingSymbolStore } from './sqlite-store.js';
import type { MissingSymbolStore } from './types.js';

/** A `scheme://` prefix, which names a database server in place of a file. */
const DATABASE_URL = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Opens the store that `database` (the `missing_symbols.database` setting)
 * names. Only SQLite files are supported so far, so a database URL throws
 * {@link MissingSymbolDatabaseError}.
 */
export async function openMissingSymbolStore(
  database: string,
  options: { create: boolean },
): Promise<MissingSymbolStore> {
  if (DATABASE_URL.test(database)) {
    throw new MissingSymbolDatabaseError(
      `missing_symbols.database ${JSON.stringify(database.split('://')[0] + '://…')} is a database URL, which is not supported; set it to the path of a SQLite file`,
    );
  }
  return new SqliteMissingSymbolStore(database, options);
}
