export { createIgnoreRules, type IgnoreReason } from './ignore.js';
export { parseSymbolPath, symbolKey, type SymbolRequest } from './parse.js';
