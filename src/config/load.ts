import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { interpolateEnvironment } from './interpolate.js';
import { formatKeyPath } from './key-path.js';
import { configSchema, type Config } from './schema.js';

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file read. */
  path: string;
}

/** Reads, interpolates, validates and freezes the config file at `file`. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const absolute = path.resolve(file);
  let source: string;
  try {
    source = readFileSync(absolute, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new ConfigError('ERR_CONFIG_READ', [`${absolute}: cannot read the config file: ${reason}`], { cause: error });
  }
  return { config: parseConfig(source, { baseDirectory: path.dirname(absolute), env, fileName: absolute }), path: absolute };
}

/**
 * Parses config YAML text. Relative paths in it are resolved against
 * `baseDirectory`, which for a file is the folder that contains it.
 */
export function parseConfig(
  source: string,
  options: { baseDirectory: string; env?: NodeJS.ProcessEnv; fileName?: string },
): Config {
  const document = parseDocument(source, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    const where = options.fileName ?? 'config';
    throw new ConfigError(
      'ERR_CONFIG_INVALID',
      document.errors.map((error) => `${where}: invalid YAML: ${error.message.split('\n')[0]?.replace(/:$/, '')}`),
    );
  }
  const raw: unknown = document.toJS() ?? {};
  return validateConfig(raw, options);
}

/** Validates an already parsed config object, as {@link parseConfig} does after YAML parsing. */
export function validateConfig(
  raw: unknown,
  options: { baseDirectory: string; env?: NodeJS.ProcessEnv },
): Config {
  const problems: string[] = [];
  const interpolated = interpolateEnvironment(raw, options.env ?? process.env, problems);
  // An unset variable leaves an empty value behind. Its own problem line is clearer than the schema's.
  const reportedKeys = new Set(problems.map((problem) => problem.slice(0, problem.indexOf(': '))));
  const result = configSchema.safeParse(interpolated, { reportInput: true });
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (!reportedKeys.has(formatKeyPath(issue.path))) {
        problems.push(describeIssue(issue));
      }
    }
  }
  if (problems.length > 0 || !result.success) {
    throw new ConfigError('ERR_CONFIG_INVALID', problems);
  }

  const config = result.data;
  problems.push(...checkCrossFieldRules(config));
  if (problems.length > 0) {
    throw new ConfigError('ERR_CONFIG_INVALID', problems);
  }
  resolvePaths(config, options.baseDirectory);
  return deepFreeze(config);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = formatKeyPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => `${formatKeyPath([...issue.path, key])}: unknown key; remove it or fix its spelling`)
      .join('\n');
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `${where}: required key is missing`;
  }
  const key = issue.path[issue.path.length - 1];
  const input = issue.input;
  // The offending value helps, except where it may be a credential.
  if ((typeof input === 'number' || typeof input === 'string' || typeof input === 'boolean') && !SECRET_KEYS.has(String(key))) {
    return `${where}: ${issue.message}, got ${JSON.stringify(input)}`;
  }
  return `${where}: ${issue.message}`;
}

const SECRET_KEYS = new Set(['access_key_id', 'secret_access_key', 'session_token']);

function checkCrossFieldRules(config: Config): string[] {
  const problems: string[] = [];
  config.buckets.forEach((bucket, index) => {
    if (bucket.public_url !== undefined && bucket.access === 'private') {
      problems.push(
        `buckets[${index}].public_url: only used with access: public; remove it or set access: public`,
      );
    }
  });
  if (config.metrics.port !== undefined && config.metrics.port !== 0 && config.metrics.port === config.server.port) {
    problems.push('metrics.port: must differ from server.port; remove it to serve metrics on the main port');
  }
  return problems;
}

function resolvePaths(config: Config, baseDirectory: string): void {
  if (config.embedded_store) {
    config.embedded_store.directory = path.resolve(baseDirectory, config.embedded_store.directory);
    if (config.embedded_store.seed_directory !== undefined) {
      config.embedded_store.seed_directory = path.resolve(baseDirectory, config.embedded_store.seed_directory);
    }
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(config.missing_symbols.database)) {
    config.missing_symbols.database = path.resolve(baseDirectory, config.missing_symbols.database);
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const item of Object.values(value)) {
      deepFreeze(item);
    }
    Object.freeze(value);
  }
  return value;
}
