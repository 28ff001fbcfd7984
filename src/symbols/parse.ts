import { InvalidSymbolError } from '../errors.js';

/** A validated symbol request: the three path segments decoded, the debug id upper-cased. */
export interface SymbolRequest {
  readonly debugFile: string;
  readonly debugId: string;
  readonly symbolFile: string;
  /** The path started with `/try/`; the handler also sets try for `?try`. */
  readonly tryPrefix: boolean;
}

// Characters that S3 documents as needing special handling or to avoid in
// key names: controls, DEL, the 0x80-0xFF range, and these punctuation marks.
// Other Unicode (汉, emoji) and spaces are valid.
const UNSAFE_CHARACTER = /[\u0000-\u001f\u007f-\u00ff\\^`<>{}[\]#%"'~|]/;
const DEBUG_ID = /^[0-9A-Fa-f]+$/;
/** Debug ids are 33 hex digits for PDBs and 41 for ELF build ids; this leaves room. */
const MAX_DEBUG_ID_LENGTH = 100;
/** The usual file-name limit; it also keeps keys under S3's 1024-byte maximum. */
const MAX_NAME_BYTES = 255;

/**
 * Parses the path of a symbol request: `[/try][/{legacy_product}]/{debug_file}/{debug_id}/{symbol_file}`.
 * Segments are percent-decoded once, after splitting on `/`, so `%2F` never
 * adds a segment and `+` stays `+`.
 *
 * Returns undefined when the path does not have the shape of a symbol request
 * (the caller responds with 404) and throws {@link InvalidSymbolError} when it has
 * the shape but a segment is invalid (the caller responds with 400).
 */
export function parseSymbolPath(pathname: string, legacyProducts: ReadonlySet<string>): SymbolRequest | undefined {
  if (pathname.charCodeAt(0) !== SLASH) {
    return undefined;
  }
  // Segment boundaries come from indexOf because this runs on every request,
  // and split() with array helpers cost cache hits a measurable share of their time.
  let start = 1;
  let tryPrefix = false;
  let segments = countSegments(pathname);
  if (segments >= 4 && pathname.startsWith('try/', 1)) {
    tryPrefix = true;
    start = 5;
    segments -= 1;
  }
  if (segments === 4) {
    const end = pathname.indexOf('/', start);
    if (!legacyProducts.has(pathname.slice(start, end))) {
      return undefined;
    }
    start = end + 1;
    segments -= 1;
  }
  if (segments !== 3) {
    return undefined;
  }
  const idStart = pathname.indexOf('/', start) + 1;
  const fileStart = pathname.indexOf('/', idStart) + 1;
  if (idStart === start + 1 || fileStart === idStart + 1 || fileStart === pathname.length) {
    return undefined;
  }

  const debugFile = decodeSegment(pathname.slice(start, idStart - 1));
  const debugId = decodeSegment(pathname.slice(idStart, fileStart - 1));
  const symbolFile = decodeSegment(pathname.slice(fileStart));
  checkFileName('debug_file', debugFile);
  checkFileName('symbol_file', symbolFile);
  if (debugId.length > MAX_DEBUG_ID_LENGTH || !DEBUG_ID.test(debugId)) {
    throw new InvalidSymbolError(
      `Invalid debug_id ${JSON.stringify(debugId)}: expected up to ${MAX_DEBUG_ID_LENGTH} hexadecimal digits`,
    );
  }
  return { debugFile, debugId: debugId.toUpperCase(), symbolFile, tryPrefix };
}

const SLASH = 0x2f;

/** Counts the `/`-separated segments after the leading `/`, stopping past 5, more than any symbol path has. */
function countSegments(pathname: string): number {
  let count = 1;
  let slash = pathname.indexOf('/', 1);
  while (slash !== -1 && count <= 5) {
    count += 1;
    slash = pathname.indexOf('/', slash + 1);
  }
  return count;
}

function decodeSegment(segment: string): string {
  if (!segment.includes('%')) {
    return segment;
  }
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InvalidSymbolError(`Invalid percent-encoding in path segment ${JSON.stringify(segment)}`);
  }
}

function checkFileName(field: string, value: string): void {
  if (value.includes('/') || value.includes('\\')) {
    throw new InvalidSymbolError(`Invalid ${field} ${JSON.stringify(value)}: must not contain "/" or "\\"`);
  }
  if (value === '.' || value === '..') {
    throw new InvalidSymbolError(`Invalid ${field} ${JSON.stringify(value)}: must not be "." or ".."`);
  }
  const unsafe = UNSAFE_CHARACTER.exec(value);
  if (unsafe) {
    throw new InvalidSymbolError(
      `Invalid character ${JSON.stringify(unsafe[0])} in ${field} ${JSON.stringify(value)}`,
    );
  }
  // UTF-8 takes at most 3 bytes per UTF-16 code unit, so short names need no count.
  if (value.length * 3 > MAX_NAME_BYTES && Buffer.byteLength(value) > MAX_NAME_BYTES) {
    throw new InvalidSymbolError(`Invalid ${field}: longer than ${MAX_NAME_BYTES} bytes`);
  }
}

/** Builds the storage key of a symbol below a location's prefix: `debug_file/DEBUG_ID/symbol_file`. */
export function symbolKey(symbol: SymbolRequest): string {
  return `${symbol.debugFile}/${symbol.debugId}/${symbol.symbolFile}`;
}
