export { SymbolLookup, type LookupOutcome, type LookupResult, type SymbolLookupOptions } from './symbol-lookup.js';
