import Database from 'better-sqlite3';

/** Reads every stored missing-symbol record straight from the file, as an operator would with sqlite3. */
export function readRecords(file: string): Record<string, unknown>[] {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare('SELECT * FROM missing_symbols ORDER BY debug_file, debug_id, code_file, code_id, symbol_file')
      .all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}
