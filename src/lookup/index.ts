export { SymbolLookup, type LookupOptions, type LookupOutcome, type LookupResult, type SymbolLookupOptions } from './symbol-lookup.js';
