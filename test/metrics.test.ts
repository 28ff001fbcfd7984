import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test, { type ExecutionContext } from 'ava';
import type { Registry } from 'prom-client';

import { validateConfig } from '../src/config/index.js';
import type { Instrumentation } from '../src/instrumentation.js';
import { createLogger } from '../src/log/logger.js';
import { METRIC_NAMES, normalizeMethod, type MissingSymbolsStats, type SymgateMetrics } from '../src/metrics/index.js';
import type { MissingSymbol } from '../src/missing/types.js';
import { startServer } from '../src/server.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { startS3, type S3Fixture } from './helpers/s3.js';
import { bucketConfig, rawRequest, request, startSymgate, type SymgateFixture } from './helpers/symgate.js';

const ID = '44E4EC8C2F41492B9369D6B9A059577C2';
const FOUND_PATH = `/xul.pdb/${ID}/xul.sym`;
const TRY_PATH = `/try/tried.pdb/${ID}/tried.sym`;
const MISSING_PATH = `/absent.pdb/${ID}/absent.sym`;

interface Stack {
  s3: S3Fixture;
  /** Sits in front of bucket `second` only; `first` talks to s3rver directly. */
  proxy: FaultProxy;
  gate: SymgateFixture;
  metrics: SymgateMetrics;
}

/**
 * Starts s3rver with a symbol in `first` (regular and try prefix), a fault
 * proxy in front of bucket `second`, and symgate. Everything is closed when
 * the test ends.
 */
async function startStack(
  t: ExecutionContext,
  config: Record<string, unknown> = {},
  options: Parameters<typeof startSymgate>[1] = {},
): Promise<Stack> {
  const s3 = await startS3({ buckets: ['first', 'second'] });
  t.teardown(() => s3.close());
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: s3.port });
  t.teardown(() => proxy.close());
  await s3.put('first', `v1/xul.pdb/${ID}/xul.sym`, 'MODULE windows x86_64 xul');
  await s3.put('first', `try/v1/tried.pdb/${ID}/tried.sym`, 'MODULE try');

  const gate = await startSymgate(
    {
      buckets: [
        bucketConfig('first', s3.endpoint, { prefix: 'v1', try_prefix: 'try/v1' }),
        bucketConfig('second', proxy.endpoint, { prefix: 'v1' }),
      ],
      storage: { max_attempts: 1, request_timeout_seconds: 30 },
      download: { block_patterns: ['^blocked\\.pdb/'] },
      ...config,
    },
    options,
  );
  t.teardown(() => gate.close());
  const { metrics } = gate.symgate;
  if (metrics === undefined) {
    throw new Error('symgate.metrics is undefined although metrics.enabled defaults to true');
  }
  return { s3, proxy, gate, metrics };
}

/**
 * Sums the samples of `name` whose labels include `labels`; 0 when none
 * match. `suffix` selects a histogram's `_count`, `_sum` or `_bucket` samples.
 */
async function sample(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
  suffix: '' | '_count' | '_sum' = '',
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) {
    throw new Error(`Metric ${name} is not registered`);
  }
  const { values } = await metric.get();
  return values
    // prom-client sets metricName on histogram samples (`_bucket`, `_sum`, `_count`) only.
    .filter((value) => ((value as { metricName?: string }).metricName ?? name) === name + suffix)
    .filter((value) => Object.entries(labels).every(([key, expected]) => String(value.labels[key]) === expected))
    .reduce((total, value) => total + value.value, 0);
}

// The request counter moves when the response closes, which can be after the
// client has read it, so checks of it poll for a bounded time.
async function waitForSample(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
  expected: number,
): Promise<number> {
  let value = 0;
  for (let attempt = 0; attempt < 500; attempt += 1) {
    value = await sample(registry, name, labels);
    if (value >= expected) {
      return value;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return value;
}

async function waitUntil(condition: () => boolean | Promise<boolean>, description: string): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    if (await condition()) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Timed out after 5 s waiting until ${description}`);
}

/** A recorder that keeps its records in memory and reports totals as the missing-symbols store does. */
class CountingRecorder {
  readonly records: MissingSymbol[] = [];
  flushes = 0;
  flushFailures = 0;
  dropped = 0;
  failStats = false;

  record(symbol: MissingSymbol): void {
    this.records.push(symbol);
  }

  stats(): MissingSymbolsStats {
    if (this.failStats) {
      throw new Error('stats failed on purpose');
    }
    return { recorded: this.records.length, flushes: this.flushes, flushFailures: this.flushFailures, dropped: this.dropped };
  }

  countRecords(): number {
    return new Set(this.records.map((record) => `${record.debugFile}/${record.debugId}`)).size;
  }
}

test('endpoint serves Prometheus text', async (t) => {
  const { gate } = await startStack(t);

  const response = await request(`${gate.url}/metrics`);

  t.is(response.status, 200);
  t.regex(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  t.is(response.headers.get('cache-control'), 'no-store');
  t.regex(response.body, /^# HELP symgate_http_requests_total \S/m);
  t.regex(response.body, /^# TYPE symgate_lookup_duration_seconds histogram$/m);
  t.regex(response.body, /^process_resident_memory_bytes \d+/m);
  t.regex(response.body, /^nodejs_eventloop_lag_seconds /m);
  const commit = gate.symgate.version.commit ?? '';
  t.true(
    response.body.includes(`symgate_build_info{version="${gate.symgate.version.version}",commit="${commit}"} 1`),
    'build info carries version and commit',
  );
});

test('HEAD of endpoint has no body', async (t) => {
  const { gate } = await startStack(t);

  const response = await rawRequest(gate.url, '/metrics', { method: 'HEAD' });

  t.is(response.status, 200);
  t.is(response.body, '');
});

test('every metric is named and documented', async (t) => {
  const { metrics } = await startStack(t, {}, { recorder: new CountingRecorder() });

  const registered = await metrics.registry.getMetricsAsJSON();
  const symgateMetrics = registered.filter((metric) => metric.name.startsWith('symgate_'));

  t.deepEqual(
    symgateMetrics.map((metric) => metric.name).sort(),
    Object.values(METRIC_NAMES).sort(),
    'METRIC_NAMES lists every symgate_ metric',
  );
  for (const metric of registered) {
    t.true(metric.help.trim().length > 0, `${metric.name} has help text`);
  }
  for (const metric of symgateMetrics) {
    const type = String(metric.type);
    if (type === 'counter') {
      t.regex(metric.name, /_total$/, `${metric.name} is a counter`);
    } else {
      t.notRegex(metric.name, /_total$/, `${metric.name} is a ${type}`);
    }
    if (metric.name.includes('duration')) {
      t.is(type, 'histogram', `${metric.name} is a histogram`);
      t.regex(metric.name, /_seconds$/, `${metric.name} is in seconds`);
    }
  }
});

test('cache miss then hit', async (t) => {
  const { gate, metrics } = await startStack(t);
  const { registry } = metrics;

  t.is((await request(`${gate.url}${FOUND_PATH}`)).status, 302);
  t.is((await request(`${gate.url}${FOUND_PATH}`)).status, 302);

  t.is(await sample(registry, METRIC_NAMES.cacheLookups, { result: 'miss' }), 1);
  t.is(await sample(registry, METRIC_NAMES.cacheLookups, { result: 'hit' }), 1);
  t.is(await sample(registry, METRIC_NAMES.cacheLookups, { result: 'coalesced' }), 0);
  t.is(await sample(registry, METRIC_NAMES.lookupDuration, { outcome: 'found', cache: 'miss' }, '_count'), 1);
  t.is(await sample(registry, METRIC_NAMES.lookupDuration, { outcome: 'found', cache: 'hit' }, '_count'), 1);
  t.is(await sample(registry, METRIC_NAMES.symbolsFound, { bucket: 'first', location: 'regular' }), 1);
  t.is(
    await sample(registry, METRIC_NAMES.storageRequestDuration, { bucket: 'first', operation: 'head', outcome: 'found' }, '_count'),
    1,
  );
  t.is(await sample(registry, METRIC_NAMES.cacheEntries), gate.symgate.lookup.cacheSize);
  t.is(await sample(registry, METRIC_NAMES.cacheEntries), 1);
  t.is(await waitForSample(registry, METRIC_NAMES.httpRequests, { method: 'GET', route: 'symbol', status: '302' }, 2), 2);
});

test('missing symbol and try location', async (t) => {
  const { gate, metrics } = await startStack(t);
  const { registry } = metrics;

  t.is((await request(`${gate.url}${MISSING_PATH}`)).status, 404);
  t.is((await request(`${gate.url}${TRY_PATH}`)).status, 302);

  const storage = (bucket: string, outcome: string) =>
    sample(registry, METRIC_NAMES.storageRequestDuration, { bucket, operation: 'head', outcome }, '_count');
  // The missing symbol is looked up in both buckets; the try symbol in both regular locations, then the try location.
  t.is(await storage('first', 'missing'), 2);
  t.is(await storage('second', 'missing'), 2);
  t.is(await storage('first', 'found'), 1);
  t.is(await sample(registry, METRIC_NAMES.lookupDuration, { outcome: 'missing', cache: 'miss' }, '_count'), 1);
  t.is(await sample(registry, METRIC_NAMES.symbolsFound, { bucket: 'first', location: 'try' }), 1);
  t.is(await sample(registry, METRIC_NAMES.symbolsFound, { location: 'regular' }), 0);
  t.is(await waitForSample(registry, METRIC_NAMES.httpRequests, { method: 'GET', route: 'symbol', status: '404' }, 1), 1);
});

test('storage error counts as error', async (t) => {
  const { gate, proxy, metrics } = await startStack(t);
  const { registry } = metrics;
  proxy.setRules([{ status: 503 }]);

  const response = await request(`${gate.url}${MISSING_PATH}`);

  t.is(response.status, 503);
  t.is(
    await sample(registry, METRIC_NAMES.storageRequestDuration, { bucket: 'second', operation: 'head', outcome: 'error' }, '_count'),
    1,
  );
  t.is(
    await sample(registry, METRIC_NAMES.storageRequestDuration, { bucket: 'first', operation: 'head', outcome: 'missing' }, '_count'),
    1,
  );
  t.is(await sample(registry, METRIC_NAMES.lookupDuration, { outcome: 'error', cache: 'miss' }, '_count'), 1);
  t.is(await sample(registry, METRIC_NAMES.cacheEntries), 0, 'a failed lookup is not cached');
  t.is(await waitForSample(registry, METRIC_NAMES.httpRequests, { method: 'GET', route: 'symbol', status: '503' }, 1), 1);
});

test('forbidden bucket counts as forbidden', async (t) => {
  const { gate, proxy, metrics } = await startStack(t);
  proxy.setRules([{ status: 403 }]);

  const response = await request(`${gate.url}${MISSING_PATH}`);

  t.is(response.status, 404);
  t.is(
    await sample(
      metrics.registry,
      METRIC_NAMES.storageRequestDuration,
      { bucket: 'second', operation: 'head', outcome: 'forbidden' },
      '_count',
    ),
    1,
  );
  t.is(await sample(metrics.registry, METRIC_NAMES.lookupDuration, { outcome: 'missing' }, '_count'), 1);
});

test('concurrent lookups coalesce', async (t) => {
  const { gate, proxy, metrics } = await startStack(t);
  const { registry } = metrics;
  // Bucket `second` never responds, so the first lookup stays in flight until the proxy closes.
  proxy.setRules([{ hang: true }]);

  const first = request(`${gate.url}${MISSING_PATH}`);
  await waitUntil(() => proxy.count() === 1, 'the first lookup reaches storage');
  const second = request(`${gate.url}${MISSING_PATH}`);
  await waitUntil(
    async () => (await sample(registry, METRIC_NAMES.cacheLookups, { result: 'coalesced' })) === 1,
    'the second lookup joins the first',
  );
  await proxy.close();
  const responses = await Promise.all([first, second]);

  t.deepEqual(
    responses.map((response) => response.status),
    [503, 503],
  );
  t.is(proxy.count(), 1, 'one storage request for both lookups');
  t.is(await sample(registry, METRIC_NAMES.cacheLookups, { result: 'miss' }), 1);
  t.is(await sample(registry, METRIC_NAMES.cacheLookups, { result: 'coalesced' }), 1);
  t.is(await sample(registry, METRIC_NAMES.lookupDuration, { outcome: 'error', cache: 'miss' }, '_count'), 2);
});

test('refresh bypasses the cache', async (t) => {
  const { gate, metrics } = await startStack(t);

  await request(`${gate.url}${FOUND_PATH}`);
  await request(`${gate.url}${FOUND_PATH}?_refresh`);

  t.is(await sample(metrics.registry, METRIC_NAMES.cacheLookups, { result: 'refresh' }), 1);
  t.is(await sample(metrics.registry, METRIC_NAMES.cacheLookups, { result: 'hit' }), 0);
  t.is(await sample(metrics.registry, METRIC_NAMES.lookupDuration, { outcome: 'found', cache: 'miss' }, '_count'), 2);
});

test('ignored requests by reason', async (t) => {
  const { gate, proxy, metrics } = await startStack(t);
  const { registry } = metrics;
  const cases = [
    ['extension', `/ignored.pdb/${ID}/ignored.exe`],
    ['file_ptr', `/ignored.pdb/${ID}/file.ptr`],
    ['zero_debug_id', '/ignored.pdb/000000000000000000000000000000000/ignored.sym'],
    ['block_pattern', `/blocked.pdb/${ID}/blocked.sym`],
  ] as const;

  for (const [reason, path] of cases) {
    const response = await rawRequest(gate.url, path);
    t.is(response.status, 404, path);
    t.is(await sample(registry, METRIC_NAMES.ignoredRequests, { reason }), 1, reason);
  }

  t.is(await sample(registry, METRIC_NAMES.storageRequestDuration, {}, '_count'), 0, 'no storage call');
  t.is(await sample(registry, METRIC_NAMES.cacheLookups), 0, 'no lookup');
  t.is(proxy.count(), 0);
  t.is(await waitForSample(registry, METRIC_NAMES.httpRequests, { route: 'symbol', status: '404' }, 4), 4);
});

test('rejected requests count 400s', async (t) => {
  const { gate, metrics } = await startStack(t);
  const { registry } = metrics;

  const badCharacter = await rawRequest(gate.url, `/bad%5E.pdb/${ID}/bad.sym`);
  const badDebugId = await rawRequest(gate.url, '/bad.pdb/not-hex/bad.sym');
  const badCodeFile = await rawRequest(gate.url, `${MISSING_PATH}?code_file=%01`);

  t.deepEqual(
    [badCharacter.status, badDebugId.status, badCodeFile.status],
    [400, 400, 400],
  );
  t.is(await sample(registry, METRIC_NAMES.rejectedRequests), 3);
  t.is(await sample(registry, METRIC_NAMES.cacheLookups), 0, 'no lookup');
  t.is(await waitForSample(registry, METRIC_NAMES.httpRequests, { method: 'GET', route: 'symbol', status: '400' }, 3), 3);
});

test('routes of fixed endpoints', async (t) => {
  const { gate, metrics } = await startStack(t);
  const { registry } = metrics;

  await request(`${gate.url}/__lbheartbeat__`);
  await request(`${gate.url}/__version__`);
  await request(`${gate.url}/not/a/symbol/path/at/all`);
  await request(`${gate.url}/metrics`);

  t.is(await waitForSample(registry, METRIC_NAMES.httpRequests, { route: 'heartbeat', status: '200' }, 1), 1);
  t.is(await waitForSample(registry, METRIC_NAMES.httpRequests, { route: 'other', status: '200' }, 1), 1);
  t.is(await waitForSample(registry, METRIC_NAMES.httpRequests, { route: 'other', status: '404' }, 1), 1);
  t.is(await waitForSample(registry, METRIC_NAMES.httpRequests, { route: 'metrics', status: '200' }, 1), 1);
  t.is(await sample(registry, METRIC_NAMES.httpRequestDuration, { method: 'GET', route: 'metrics' }, '_count'), 1);
});

test('heartbeat checks not counted as storage', async (t) => {
  const { gate, proxy, metrics } = await startStack(t);

  const response = await request(`${gate.url}/__heartbeat__`);

  t.is(response.status, 200);
  t.true(proxy.count() > 0, 'the heartbeat reached storage');
  t.is(await sample(metrics.registry, METRIC_NAMES.storageRequestDuration, {}, '_count'), 0);
});

test('unknown methods share one label', async (t) => {
  const { gate, metrics } = await startStack(t);
  const { registry } = metrics;

  t.is((await rawRequest(gate.url, '/', { method: 'PROPFIND' })).status, 405);
  t.is((await rawRequest(gate.url, '/', { method: 'POST' })).status, 405);

  t.is(await waitForSample(registry, METRIC_NAMES.httpRequests, { method: 'other', status: '405' }, 1), 1);
  t.is(await waitForSample(registry, METRIC_NAMES.httpRequests, { method: 'POST', status: '405' }, 1), 1);
  t.is(await sample(registry, METRIC_NAMES.httpRequests, { method: 'PROPFIND' }), 0);
});

test('requests count again after a registry reset', async (t) => {
  const { gate, metrics } = await startStack(t);
  const { registry } = metrics;

  t.is((await rawRequest(gate.url, '/', { method: 'POST' })).status, 405);
  t.is(await waitForSample(registry, METRIC_NAMES.httpRequests, { method: 'POST', status: '405' }, 1), 1);
  registry.resetMetrics();
  t.is(await sample(registry, METRIC_NAMES.httpRequests, { method: 'POST', status: '405' }), 0);
  t.is(await sample(registry, METRIC_NAMES.httpRequestDuration, { method: 'POST' }, '_count'), 0);

  t.is((await rawRequest(gate.url, '/', { method: 'POST' })).status, 405);
  t.is(await waitForSample(registry, METRIC_NAMES.httpRequests, { method: 'POST', status: '405' }, 1), 1);
  t.is(await sample(registry, METRIC_NAMES.httpRequestDuration, { method: 'POST' }, '_count'), 1);
});

test('method labels are normalized', (t) => {
  t.is(normalizeMethod('GET'), 'GET');
  t.is(normalizeMethod('HEAD'), 'HEAD');
  t.is(normalizeMethod('OPTIONS'), 'OPTIONS');
  t.is(normalizeMethod('get'), 'other');
  t.is(normalizeMethod('PROPFIND'), 'other');
  t.is(normalizeMethod(''), 'other');
});

test('labels never carry request data', async (t) => {
  const { gate } = await startStack(t);
  const name = 'DistinctDebugFile';
  const debugId = 'ABCDEF0123456789ABCDEF0123456789A';

  await rawRequest(gate.url, `/${name}.pdb/${debugId}/${name}.sym?code_file=${name}.dll&code_id=${debugId}`);
  await rawRequest(gate.url, `/${name}.pdb/${debugId}/${name}.exe`);
  await rawRequest(gate.url, `/${name}%5E.pdb/${debugId}/${name}.sym`);
  await rawRequest(gate.url, `/${name}/random/path/segments`);
  await rawRequest(gate.url, `/${name}`, { method: 'PROPFIND' });
  const text = (await request(`${gate.url}/metrics`)).body;

  t.false(text.includes(name), 'no file name in the metrics');
  t.false(text.includes(debugId), 'no debug id in the metrics');
  t.false(text.includes('random'), 'no raw path in the metrics');
  t.false(text.includes('PROPFIND'), 'no unknown method in the metrics');
});

test('missing-symbol stats read at scrape', async (t) => {
  const recorder = new CountingRecorder();
  const { gate, metrics } = await startStack(t, {}, { recorder });
  const { registry } = metrics;

  await request(`${gate.url}${MISSING_PATH}`);
  await request(`${gate.url}${MISSING_PATH}`);
  recorder.flushes = 3;
  recorder.flushFailures = 1;
  recorder.dropped = 4;

  t.is(recorder.records.length, 2);
  t.is(await sample(registry, METRIC_NAMES.missingSymbolsRecorded), 2);
  t.is(await sample(registry, METRIC_NAMES.missingSymbolsFlushes), 3);
  t.is(await sample(registry, METRIC_NAMES.missingSymbolsFlushFailures), 1);
  t.is(await sample(registry, METRIC_NAMES.missingSymbolsRecords), 1);
  t.is(await sample(registry, METRIC_NAMES.missingSymbolsDropped, { reason: 'full' }), 4);
  t.is(await sample(registry, METRIC_NAMES.missingSymbolsDropped, { reason: 'oversized' }), 0, 'absent field counts 0');
  const text = (await request(`${gate.url}/metrics`)).body;
  t.regex(text, /^symgate_missing_symbols_recorded_total 2$/m);
  t.regex(text, /^symgate_missing_symbols_records 1$/m);
});

test('failing stats keep last values', async (t) => {
  const recorder = new CountingRecorder();
  const { gate } = await startStack(t, {}, { recorder });
  await request(`${gate.url}${MISSING_PATH}`);
  t.regex((await request(`${gate.url}/metrics`)).body, /^symgate_missing_symbols_recorded_total 1$/m);

  recorder.failStats = true;
  await request(`${gate.url}${MISSING_PATH}`);
  const response = await request(`${gate.url}/metrics`);

  t.is(response.status, 200);
  t.regex(response.body, /^symgate_missing_symbols_recorded_total 1$/m);
  t.is(gate.logs.withMessage('Reading missing-symbol stats failed, so the metrics keep their last values').length, 1);
});

test('missing-symbol store feeds metrics', async (t) => {
  const { s3 } = await startStack(t);
  const directory = await mkdtemp(join(tmpdir(), 'symgate-metrics-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const config = validateConfig(
    {
      server: { host: '127.0.0.1', port: 0 },
      buckets: [bucketConfig('first', s3.endpoint, { prefix: 'v1' })],
      missing_symbols: { database: join(directory, 'missing-symbols.sqlite') },
    },
    { baseDirectory: directory, env: {} },
  );
  const running = await startServer(config, { logger: createLogger('silent') });
  t.teardown(() => running.stop());

  t.is((await request(`${running.url}${MISSING_PATH}`)).status, 404);
  t.is((await request(`${running.url}${MISSING_PATH}`)).status, 404);
  t.true(await running.missingSymbols!.flush(), 'the flush succeeds');
  const text = (await request(`${running.url}/metrics`)).body;

  t.regex(text, /^symgate_missing_symbols_recorded_total 2$/m);
  t.regex(text, /^symgate_missing_symbols_flushes_total [1-9]\d*$/m);
  t.regex(text, /^symgate_missing_symbols_flush_failures_total 0$/m);
  t.regex(text, /^symgate_missing_symbols_records 1$/m);
});

test('explicit stats source wins', async (t) => {
  const recorder = new CountingRecorder();
  const source = {
    stats: () => ({ recorded: 7, flushes: 2, flushFailures: 0 }),
    countRecords: async () => 5,
  };
  const { metrics } = await startStack(t, {}, { recorder, missingSymbolsStats: source });

  t.is(await sample(metrics.registry, METRIC_NAMES.missingSymbolsRecorded), 7);
  t.is(await sample(metrics.registry, METRIC_NAMES.missingSymbolsRecords), 5);
});

test('no stats source, no missing-symbol metrics', async (t) => {
  const plainRecorder = { record() {} };
  const { gate, metrics } = await startStack(t, {}, { recorder: plainRecorder });

  const text = (await request(`${gate.url}/metrics`)).body;

  t.is(metrics.registry.getSingleMetric(METRIC_NAMES.missingSymbolsRecorded), undefined);
  t.false(text.includes('symgate_missing_symbols_'));
});

test('series exist before first event', async (t) => {
  const { gate } = await startStack(t);

  const text = (await request(`${gate.url}/metrics`)).body;

  t.regex(text, /^symgate_cache_lookups_total\{result="hit"\} 0$/m);
  t.regex(text, /^symgate_ignored_requests_total\{reason="block_pattern"\} 0$/m);
  t.regex(text, /^symgate_rejected_requests_total 0$/m);
  t.regex(text, /^symgate_symbols_found_total\{bucket="first",location="try"\} 0$/m);
  t.regex(text, /^symgate_symbols_found_total\{bucket="second",location="regular"\} 0$/m);
  t.false(text.includes('bucket="second",location="try"'), 'no try series for a bucket without try_prefix');
  t.regex(text, /^symgate_storage_request_duration_seconds_count\{bucket="second",operation="head",outcome="error"\} 0$/m);
  t.regex(text, /^symgate_lookup_duration_seconds_count\{outcome="error",cache="miss"\} 0$/m);
});

test('lookup histogram resolves cache hits', async (t) => {
  const { metrics } = await startStack(t);

  const { values } = await metrics.registry.getSingleMetric(METRIC_NAMES.lookupDuration)!.get();
  const bounds = [...new Set(values.map((value) => value.labels.le).filter((le) => typeof le === 'number'))];

  t.true(bounds.includes(0.0001), 'a bucket at 100 µs');
  t.true(bounds.includes(10), 'a bucket at 10 s');
  t.true(bounds.filter((bound) => (bound as number) <= 0.001).length >= 4, 'four buckets up to 1 ms');
});

test('two instances keep separate registries', async (t) => {
  const one = await startStack(t);
  const two = await startStack(t);

  await request(`${one.gate.url}${FOUND_PATH}`);

  t.not(one.metrics.registry, two.metrics.registry);
  t.is(await sample(one.metrics.registry, METRIC_NAMES.cacheLookups, { result: 'miss' }), 1);
  t.is(await sample(two.metrics.registry, METRIC_NAMES.cacheLookups, { result: 'miss' }), 0);
  for (const { gate } of [one, two]) {
    const response = await request(`${gate.url}/metrics`);
    t.is(response.status, 200);
    t.regex(response.body, /^process_resident_memory_bytes \d+/m);
  }
});

test('instrumentation option still called', async (t) => {
  const ignored: string[] = [];
  const instrumentation: Instrumentation = {
    storageRequest() {},
    cacheLookup() {},
    lookupFinished() {},
    symbolFound() {},
    requestIgnored(reason) {
      ignored.push(reason);
    },
    requestRejected() {},
    requestFinished() {},
  };
  const { gate, metrics } = await startStack(t, {}, { instrumentation });

  await rawRequest(gate.url, '/ignored.pdb/000000000000000000000000000000000/ignored.sym');

  t.deepEqual(ignored, ['zero_debug_id']);
  t.is(await sample(metrics.registry, METRIC_NAMES.ignoredRequests, { reason: 'zero_debug_id' }), 1);
});

test('disabled metrics serve no endpoint', async (t) => {
  const { s3 } = await startStack(t);
  const gate = await startSymgate({
    buckets: [bucketConfig('first', s3.endpoint, { prefix: 'v1' })],
    metrics: { enabled: false },
  });
  t.teardown(() => gate.close());

  const response = await request(`${gate.url}/metrics`);

  t.is(gate.symgate.metrics, undefined);
  t.is(response.status, 404);
  t.is(response.body, 'Not Found');
});

test('metrics.path moves the endpoint', async (t) => {
  const { gate } = await startStack(t, { metrics: { path: '/internal/metrics' } });

  const moved = await request(`${gate.url}/internal/metrics`);
  const old = await request(`${gate.url}/metrics`);

  t.is(moved.status, 200);
  t.regex(moved.body, /^symgate_build_info\{/m);
  t.is(old.status, 404);
});

test('metrics.port gets its own listener', async (t) => {
  const { s3 } = await startStack(t);
  const config = validateConfig(
    {
      server: { host: '127.0.0.1', port: 0, shutdown_timeout_seconds: 1 },
      buckets: [bucketConfig('first', s3.endpoint, { prefix: 'v1' })],
      metrics: { port: 0, path: '/custom-metrics' },
    },
    { baseDirectory: process.cwd(), env: {} },
  );
  const running = await startServer(config, { logger: createLogger('silent') });
  t.teardown(() => running.stop());
  const metricsUrl = running.metricsUrl;
  if (metricsUrl === undefined) {
    t.fail('metricsUrl is undefined although metrics.port is set');
    return;
  }
  const registry = running.symgate.metrics!.registry;

  const scrape = await request(`${metricsUrl}/custom-metrics`);
  const onMain = await request(`${running.url}/custom-metrics`);
  const otherPath = await request(`${metricsUrl}/xul.pdb/${ID}/xul.sym`);
  const post = await rawRequest(metricsUrl, '/custom-metrics', { method: 'POST' });

  t.not(metricsUrl, running.url);
  t.is(scrape.status, 200);
  t.regex(scrape.body, /^symgate_build_info\{/m);
  t.is(onMain.status, 404, 'the main listener does not serve metrics');
  t.is(otherPath.status, 404, 'the metrics listener serves nothing else');
  t.is(post.status, 405);
  t.is(await waitForSample(registry, METRIC_NAMES.httpRequests, { method: 'GET', route: 'metrics', status: '200' }, 1), 1);

  await running.stop();
  await t.throwsAsync(fetch(`${metricsUrl}/custom-metrics`), undefined, 'stop closes the metrics listener');
});

test('metrics.host sets the listener address', async (t) => {
  const { s3 } = await startStack(t);
  const config = validateConfig(
    {
      server: { host: '127.0.0.1', port: 0 },
      buckets: [bucketConfig('first', s3.endpoint)],
      metrics: { host: '::1', port: 0 },
    },
    { baseDirectory: process.cwd(), env: {} },
  );
  const running = await startServer(config, { logger: createLogger('silent') });
  t.teardown(() => running.stop());

  t.regex(running.metricsUrl ?? '', /^http:\/\/\[::1\]:\d+$/);
  t.is((await request(`${running.metricsUrl}/metrics`)).status, 200);
});

test('metrics port in use fails start', async (t) => {
  const { s3 } = await startStack(t);
  const config = (metricsPort: number) =>
    validateConfig(
      {
        server: { host: '127.0.0.1', port: 0 },
        buckets: [bucketConfig('first', s3.endpoint)],
        metrics: { port: metricsPort },
      },
      { baseDirectory: process.cwd(), env: {} },
    );
  const first = await startServer(config(0), { logger: createLogger('silent') });
  t.teardown(() => first.stop());
  const takenPort = Number(new URL(first.metricsUrl!).port);

  await t.throwsAsync(startServer(config(takenPort), { logger: createLogger('silent') }), { code: 'EADDRINUSE' });
});
