import { z } from 'zod';
import { DEFAULTS } from './defaults.js';

// Environment references are replaced with strings, so numeric and boolean
// keys also take their text form (`port: ${PORT:-8000}`).
function fromNumericString(value: unknown): unknown {
  return typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
}

function fromBooleanString(value: unknown): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}

function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  return z.preprocess(
    fromNumericString,
    z
      .number({ error: 'expected a whole number' })
      .int({ error: 'expected a whole number' })
      .min(min, { error: `expected at least ${min}` })
      .max(max, { error: `expected at most ${max}` }),
  );
}

const flag = z.preprocess(fromBooleanString, z.boolean({ error: 'expected true or false' }));

const text = z.string({ error: 'expected a string' });
const nonEmptyText = text.min(1, { error: 'must not be empty' });

const httpUrl = nonEmptyText
  .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), {
    error: 'expected an http:// or https:// URL',
  })
  .transform((value) => value.replace(/\/+$/, ''));

// Leading and trailing slashes carry no meaning in a key prefix, so they are dropped.
const keyPrefix = text
  .transform((value) => value.replace(/^\/+|\/+$/g, ''))
  .refine((value) => !value.split('/').some((part) => part === '.' || part === '..'), {
    error: 'must not contain "." or ".." segments',
  });

const credentialsSchema = z.strictObject({
  access_key_id: nonEmptyText,
  secret_access_key: nonEmptyText,
  session_token: nonEmptyText.optional(),
});

const bucketSchema = z.strictObject({
  name: text.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{2,62}$/, {
    error: 'expected an S3 bucket name: 3 to 63 letters, digits, ".", "_" or "-"',
  }),
  prefix: keyPrefix.default(DEFAULTS.bucket.prefix),
  region: nonEmptyText.default(DEFAULTS.bucket.region),
  endpoint: httpUrl.optional(),
  force_path_style: flag.default(DEFAULTS.bucket.force_path_style),
  access: z
    .enum(['public', 'private'], { error: 'expected "public" (plain object URL) or "private" (presigned URL)' })
    .default(DEFAULTS.bucket.access),
  public_url: httpUrl.optional(),
  try_prefix: keyPrefix.optional(),
  lookup: z
    .enum(['head', 'list'], { error: 'expected "head" (HeadObject) or "list" (ListObjectsV2)' })
    .default(DEFAULTS.bucket.lookup),
  presign_expires_seconds: wholeNumber(1, 604_800).default(DEFAULTS.bucket.presign_expires_seconds),
  credentials: credentialsSchema.optional(),
});

const blockPattern = nonEmptyText.superRefine((value, context) => {
  try {
    new RegExp(value);
  } catch (error) {
    // The engine's message reads "Invalid regular expression: /(a/: Unterminated group".
    const reason = (error as Error).message.split(': ').pop() ?? '';
    context.addIssue({ code: 'custom', message: `invalid regular expression (${reason})` });
  }
});

const extension = nonEmptyText
  .regex(/^\.[^/\\]+$/, { error: 'expected an extension starting with ".", such as ".sym"' })
  .transform((value) => value.toLowerCase());

const urlPath = nonEmptyText.regex(/^\/[A-Za-z0-9._~\-/]*$/, {
  error: 'expected an absolute URL path such as "/metrics"',
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: nonEmptyText.default(DEFAULTS.server.host),
      port: wholeNumber(0, 65_535).default(DEFAULTS.server.port),
      shutdown_timeout_seconds: wholeNumber(0).default(DEFAULTS.server.shutdown_timeout_seconds),
    })
    .prefault({}),
  buckets: z
    .array(bucketSchema, { error: 'expected a list of buckets' })
    .min(1, { error: 'at least one bucket is required' }),
  storage: z
    .strictObject({
      connect_timeout_seconds: wholeNumber(1).default(DEFAULTS.storage.connect_timeout_seconds),
      request_timeout_seconds: wholeNumber(1).default(DEFAULTS.storage.request_timeout_seconds),
      max_attempts: wholeNumber(1, 10).default(DEFAULTS.storage.max_attempts),
    })
    .prefault({}),
  cache: z
    .strictObject({
      max_entries: wholeNumber(1).default(DEFAULTS.cache.max_entries),
      found_ttl_seconds: wholeNumber(0).default(DEFAULTS.cache.found_ttl_seconds),
      missing_ttl_seconds: wholeNumber(0).default(DEFAULTS.cache.missing_ttl_seconds),
    })
    .prefault({}),
  download: z
    .strictObject({
      allowed_extensions: z.array(extension).default([...DEFAULTS.download.allowed_extensions]),
      block_patterns: z.array(blockPattern).default([...DEFAULTS.download.block_patterns]),
      legacy_product_prefixes: z
        .array(nonEmptyText.regex(/^[^/]+$/, { error: 'must not contain "/"' }))
        .default([...DEFAULTS.download.legacy_product_prefixes]),
      retry_after_seconds: wholeNumber(0).default(DEFAULTS.download.retry_after_seconds),
    })
    .prefault({}),
  embedded_store: z
    .strictObject({
      directory: nonEmptyText,
      seed_directory: nonEmptyText.optional(),
      host: nonEmptyText.default(DEFAULTS.embedded_store.host),
      port: wholeNumber(0, 65_535).default(DEFAULTS.embedded_store.port),
    })
    .optional(),
  missing_symbols: z
    .strictObject({
      enabled: flag.default(DEFAULTS.missing_symbols.enabled),
      database: nonEmptyText.default(DEFAULTS.missing_symbols.database),
      flush_interval_seconds: wholeNumber(1).default(DEFAULTS.missing_symbols.flush_interval_seconds),
      max_pending_records: wholeNumber(1).default(DEFAULTS.missing_symbols.max_pending_records),
      retention_days: wholeNumber(1).default(DEFAULTS.missing_symbols.retention_days),
      csv_debug_file_suffixes: z.array(nonEmptyText).default([...DEFAULTS.missing_symbols.csv_debug_file_suffixes]),
      csv_symbol_file_suffixes: z.array(nonEmptyText).default([...DEFAULTS.missing_symbols.csv_symbol_file_suffixes]),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      enabled: flag.default(DEFAULTS.metrics.enabled),
      path: urlPath.default(DEFAULTS.metrics.path),
      host: nonEmptyText.optional(),
      port: wholeNumber(0, 65_535).optional(),
    })
    .prefault({}),
  logging: z
    .strictObject({
      level: z
        .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
          error: 'expected one of fatal, error, warn, info, debug, trace, silent',
        })
        .default(DEFAULTS.logging.level),
    })
    .prefault({}),
});

export type Config = z.output<typeof configSchema>;
export type BucketConfig = Config['buckets'][number];
