import type { Config } from '../config/index.js';
import { symbolKey, type SymbolRequest } from './parse.js';

export type IgnoreReason = 'extension' | 'file_ptr' | 'zero_debug_id' | 'block_pattern';

/**
 * Builds the ignore rules: requests that get `404 Symbol Not Found (and
 * ignored)` without a storage call. Returns the reason, or undefined when the
 * request is to be looked up.
 */
export function createIgnoreRules(download: Config['download']): (symbol: SymbolRequest) => IgnoreReason | undefined {
  const extensions = download.allowed_extensions.map((extension) => extension.toLowerCase());
  const patterns = download.block_patterns.map((pattern) => new RegExp(pattern));

  return (symbol) => {
    const symbolFile = symbol.symbolFile.toLowerCase();
    // symsrv requests file.ptr before the file itself; symbol stores have none.
    if (symbolFile === 'file.ptr') {
      return 'file_ptr';
    }
    if (!hasAllowedExtension(symbolFile, extensions)) {
      return 'extension';
    }
    if (/^0+$/.test(symbol.debugId)) {
      return 'zero_debug_id';
    }
    if (patterns.length > 0) {
      const key = symbolKey(symbol);
      if (patterns.some((pattern) => pattern.test(key))) {
        return 'block_pattern';
      }
    }
    return undefined;
  };
}

// A loop rather than some() with a closure, because this runs on every symbol request.
function hasAllowedExtension(symbolFile: string, extensions: readonly string[]): boolean {
  for (const extension of extensions) {
    if (symbolFile.endsWith(extension)) {
      return true;
    }
  }
  return false;
}
