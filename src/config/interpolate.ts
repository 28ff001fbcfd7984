import { formatKeyPath } from './key-path.js';

// `${NAME}` or `${NAME:-fallback}`; `$${` escapes a literal `${`.
const REFERENCE = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces environment references in every string of a parsed YAML document.
 * Results stay strings, so a secret such as `0123` keeps its leading zero; the
 * schema converts numeric and boolean keys. `${NAME:-fallback}` uses the fallback
 * when NAME is unset or empty, as a POSIX shell does. Problems are appended to
 * `problems`, one per unset variable, prefixed with the key path.
 */
export function interpolateEnvironment(
  value: unknown,
  env: NodeJS.ProcessEnv,
  problems: string[],
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') {
    return interpolateString(value, env, problems, path);
  }
  if (Array.isArray(value)) {
    return value.map((item, index) => interpolateEnvironment(item, env, problems, [...path, index]));
  }
  if (value !== null && typeof value === 'object') {
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      result[key] = interpolateEnvironment(item, env, problems, [...path, key]);
    }
    return result;
  }
  return value;
}

function interpolateString(
  text: string,
  env: NodeJS.ProcessEnv,
  problems: string[],
  path: (string | number)[],
): string {
  if (!text.includes('${')) {
    return text;
  }
  return text.replace(REFERENCE, (match, escape: string, name: string, fallback: string | undefined) => {
    if (escape) {
      return match.slice(1);
    }
    const current = env[name];
    if (fallback !== undefined) {
      return current === undefined || current === '' ? fallback : current;
    }
    if (current === undefined) {
      problems.push(
        `${formatKeyPath(path)}: environment variable ${name} is not set; set it or write \${${name}:-default}`,
      );
      return '';
    }
    return current;
  });
}
