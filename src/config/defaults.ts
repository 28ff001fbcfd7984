/**
 * Every default in one place. Durations are whole seconds, sizes are counts.
 * The schema applies these; the README's configuration reference lists them.
 */
export const DEFAULTS = {
  server: {
    host: '127.0.0.1',
    port: 8000,
    /** Time for requests in flight to finish after SIGTERM or SIGINT. */
    shutdown_timeout_seconds: 10,
  },
  bucket: {
    prefix: '',
    region: 'us-east-1',
    force_path_style: false,
    access: 'public',
    lookup: 'head',
    /** One hour; SigV4 allows at most seven days. */
    presign_expires_seconds: 3600,
  },
  storage: {
    connect_timeout_seconds: 2,
    request_timeout_seconds: 5,
    /** Attempts per storage request, the first included; retries back off exponentially with jitter. */
    max_attempts: 3,
  },
  cache: {
    max_entries: 1_000_000,
    found_ttl_seconds: 21_600,
    missing_ttl_seconds: 600,
  },
  download: {
    allowed_extensions: ['.sym', '.dl_', '.ex_', '.pd_', '.dbg.gz', '.tar.bz2'],
    block_patterns: [] as string[],
    legacy_product_prefixes: ['firefox', 'seamonkey', 'sunbird', 'thunderbird', 'xulrunner', 'fennec', 'b2g'],
    /** Sent as `Retry-After` with a 503 when storage fails. */
    retry_after_seconds: 5,
  },
  embedded_store: {
    host: '127.0.0.1',
    port: 4569,
  },
  missing_symbols: {
    enabled: true,
    database: './data/missing-symbols.sqlite',
    flush_interval_seconds: 1,
    /** Distinct records held in memory between flushes; reaching it flushes early. */
    max_pending_records: 10_000,
    /** Records not requested for this many days are deleted, daily and by `symgate missing-symbols prune`. */
    retention_days: 30,
    /** `/missingsymbols.csv` lists only records whose files end in one of these, ignoring ASCII case. An empty list matches every file. */
    csv_debug_file_suffixes: ['.pdb'],
    csv_symbol_file_suffixes: ['.sym'],
  },
  metrics: {
    enabled: true,
    path: '/metrics',
  },
  logging: {
    level: 'info',
  },
} as const;

/** The config file read when `--config` is not given, relative to the working directory. */
export const DEFAULT_CONFIG_PATH = 'config.yaml';
