import { stringify } from 'yaml';
import type { Config } from './schema.js';

const SECRET_KEYS = new Set(['access_key_id', 'secret_access_key', 'session_token']);
const MASK = '********';

/** Returns a copy of the config with credentials and URL passwords replaced by a mask. */
export function maskSecrets(config: Config): unknown {
  return maskValue(config, '');
}

function maskValue(value: unknown, key: string): unknown {
  if (SECRET_KEYS.has(key) && typeof value === 'string') {
    return MASK;
  }
  if (typeof value === 'string') {
    return maskUrlPassword(value);
  }
  if (Array.isArray(value)) {
    return value.map((item) => maskValue(item, ''));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, maskValue(item, name)]));
  }
  return value;
}

function maskUrlPassword(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value) || !URL.canParse(value)) {
    return value;
  }
  const url = new URL(value);
  if (url.password === '') {
    return value;
  }
  url.password = MASK;
  return url.toString();
}

/** Formats the effective config as YAML with secrets masked, for `symgate --check`. */
export function formatEffectiveConfig(config: Config): string {
  return stringify(maskSecrets(config));
}
