export { DEFAULTS, DEFAULT_CONFIG_PATH } from './defaults.js';
export { loadConfigFile, parseConfig, validateConfig, type LoadedConfig } from './load.js';
export { formatEffectiveConfig, maskSecrets } from './mask.js';
export type { BucketConfig, Config } from './schema.js';
