import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import test, { type ExecutionContext } from 'ava';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

import { validateConfig } from '../src/config/index.js';
import { createLogger } from '../src/log/logger.js';
import { startServer, type RunningServer } from '../src/server.js';
import { dashboardQueries, loadDashboard, substituteVariables } from './helpers/dashboard.js';
import { startFaultProxy } from './helpers/fault-proxy.js';
import { startS3 } from './helpers/s3.js';
import { bucketConfig, rawRequest, request } from './helpers/symgate.js';

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const EXAMPLE_CONFIG = new URL('../grafana/prometheus.yml', import.meta.url);
const ID = '44E4EC8C2F41492B9369D6B9A059577C2';

/** Values for Grafana's variables: every symgate job and instance, and a range that covers several scrapes. */
const VARIABLES = { job: 'symgate', instance: '.*', __rate_interval: '1m', __interval: '15s', __range: '1h' };

const execFileAsync = promisify(execFile);

/**
 * Registers a test that needs Debian's Prometheus package. Without it the
 * test is skipped, or fails when CI is set, because CI must run it.
 */
function prometheusTest(title: string, implementation: (t: ExecutionContext) => Promise<void>): void {
  if (existsSync(PROMETHEUS) && existsSync(PROMTOOL)) {
    test(title, implementation);
  } else if (process.env.CI !== undefined) {
    test(title, (t) => {
      t.fail(`${PROMETHEUS} or ${PROMTOOL} is missing; .ci/run must run apt-get install prometheus first`);
    });
  } else {
    test.skip(`${title} (needs ${PROMETHEUS}: apt-get install prometheus)`, () => {});
  }
}

function substitutedQueries(): { panel: string; refId: string; expr: string }[] {
  return dashboardQueries(loadDashboard()).map((query) => ({ ...query, expr: substituteVariables(query.expr, VARIABLES) }));
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface PrometheusProcess {
  url: string;
  output(): string;
  exited(): boolean;
}

/** Starts Prometheus on a free loopback port with `config`. The test's teardown stops it. */
async function startPrometheus(t: ExecutionContext, directory: string, config: unknown): Promise<PrometheusProcess> {
  const configPath = join(directory, 'prometheus.yml');
  await writeFile(configPath, stringifyYaml(config));
  const port = await freePort();
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(directory, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  let exited = false;
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  t.teardown(async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    }
  });
  return { url: `http://127.0.0.1:${port}`, output: () => output, exited: () => exited };
}

/** Polls `check` every 250 ms, at most `attempts` times, and returns whether it passed. */
async function poll(check: () => Promise<boolean>, attempts: number): Promise<boolean> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (await check().catch(() => false)) {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

interface QueryResponse {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function query(prometheus: PrometheusProcess, expr: string): Promise<QueryResponse> {
  const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await response.json()) as QueryResponse;
}

/** Sends one request of every kind that a dashboard panel shows. */
async function sendTraffic(running: RunningServer, proxy: Awaited<ReturnType<typeof startFaultProxy>>): Promise<void> {
  const url = running.url;
  const expect = async (path: string, status: number, method = 'GET') => {
    const response = await rawRequest(url, path, { method });
    if (response.status !== status) {
      throw new Error(`${method} ${path}: expected ${status}, got ${response.status} ${response.body}`);
    }
  };
  await expect(`/xul.pdb/${ID}/xul.sym`, 302);
  await expect(`/xul.pdb/${ID}/xul.sym`, 302);
  await expect(`/xul.pdb/${ID}/xul.sym`, 200, 'HEAD');
  await expect(`/try/tried.pdb/${ID}/tried.sym`, 302);
  await expect(`/other.pdb/${ID}/other.sym`, 302);
  await expect(`/absent.pdb/${ID}/absent.sym`, 404);
  await expect(`/absent.pdb/${ID}/absent.sym`, 404);
  await expect(`/ignored.pdb/${ID}/ignored.exe`, 404);
  await expect(`/ignored.pdb/${ID}/file.ptr`, 404);
  await expect('/ignored.pdb/000000000000000000000000000000000/ignored.sym', 404);
  await expect(`/blocked.pdb/${ID}/blocked.sym`, 404);
  await expect(`/bad%5E.pdb/${ID}/bad.sym`, 400);
  await expect('/__heartbeat__', 200);
  await expect('/', 405, 'POST');

  proxy.setRules([{ match: (proxied) => proxied.key.includes('broken'), status: 503 }]);
  await expect(`/broken.pdb/${ID}/broken.sym`, 503);
  proxy.setRules([]);

  if (!(await running.missingSymbols?.flush())) {
    throw new Error('Flushing the missing-symbol records failed');
  }
}

prometheusTest('promtool accepts dashboard queries', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'symgate-promtool-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const queries = substitutedQueries();
  const rules = {
    groups: [
      {
        name: 'symgate_dashboard',
        rules: queries.map((entry, index) => ({ record: `symgate_dashboard:query_${index}`, expr: entry.expr })),
      },
    ],
  };
  const rulesPath = join(directory, 'rules.yml');
  await writeFile(rulesPath, stringifyYaml(rules));

  const checkRules = await execFileAsync(PROMTOOL, ['check', 'rules', rulesPath]).catch((error: { stdout?: string; stderr?: string }) => error);
  const checkConfig = await execFileAsync(PROMTOOL, ['check', 'config', new URL(EXAMPLE_CONFIG).pathname]).catch(
    (error: { stdout?: string; stderr?: string }) => error,
  );

  t.regex(`${checkRules.stdout}`, new RegExp(`SUCCESS: ${queries.length} rules found`), `${checkRules.stdout}${checkRules.stderr}`);
  t.regex(`${checkConfig.stdout}`, /SUCCESS/, `${checkConfig.stdout}${checkConfig.stderr}`);
});

prometheusTest('every dashboard query returns data', async (t) => {
  t.timeout(180_000);
  const directory = await mkdtemp(join(tmpdir(), 'symgate-prometheus-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));

  const s3 = await startS3({ buckets: ['first', 'second'] });
  t.teardown(() => s3.close());
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: s3.port });
  t.teardown(() => proxy.close());
  await s3.put('first', `v1/xul.pdb/${ID}/xul.sym`, 'MODULE windows x86_64 xul');
  await s3.put('first', `try/v1/tried.pdb/${ID}/tried.sym`, 'MODULE try');
  await s3.put('second', `v1/other.pdb/${ID}/other.sym`, 'MODULE other');

  const config = validateConfig(
    {
      server: { host: '127.0.0.1', port: 0, shutdown_timeout_seconds: 1 },
      buckets: [
        bucketConfig('first', s3.endpoint, { prefix: 'v1', try_prefix: 'try/v1' }),
        bucketConfig('second', proxy.endpoint, { prefix: 'v1' }),
      ],
      storage: { max_attempts: 1 },
      download: { block_patterns: ['^blocked\\.pdb/'] },
      missing_symbols: { database: join(directory, 'missing-symbols.sqlite') },
    },
    { baseDirectory: directory, env: {} },
  );
  const running = await startServer(config, { logger: createLogger('silent') });
  t.teardown(() => running.stop());

  // The shipped example, pointed at this instance and scraped every second.
  const scrapeConfig = parseYaml(readFileSync(EXAMPLE_CONFIG, 'utf8')) as {
    global: Record<string, string>;
    scrape_configs: { static_configs: { targets: string[] }[] }[];
  };
  scrapeConfig.global.scrape_interval = '1s';
  scrapeConfig.global.evaluation_interval = '1s';
  scrapeConfig.scrape_configs[0]!.static_configs = [{ targets: [new URL(running.url).host] }];
  const prometheus = await startPrometheus(t, directory, scrapeConfig);

  const ready = await poll(async () => {
    if (prometheus.exited()) {
      throw new Error('Prometheus exited');
    }
    return (await fetch(`${prometheus.url}/-/ready`)).ok;
  }, 240);
  if (!ready) {
    t.fail(`Prometheus did not become ready within 60 s:\n${prometheus.output()}`);
    return;
  }
  const scraped = await poll(async () => ((await query(prometheus, 'up{job="symgate"} == 1')).data?.result.length ?? 0) > 0, 120);
  t.true(scraped, `Prometheus scrapes symgate:\n${prometheus.output()}`);

  await sendTraffic(running, proxy);

  // A rate needs two samples of a series, so new series show up in rate() only after the second scrape.
  const queries = substitutedQueries();
  const empty = async () => {
    const missing: string[] = [];
    for (const entry of queries) {
      const response = await query(prometheus, entry.expr);
      if (response.status !== 'success' || (response.data?.result.length ?? 0) === 0) {
        missing.push(`${entry.panel} ${entry.refId}`);
      }
    }
    return missing;
  };
  await poll(async () => (await empty()).length === 0, 120);

  for (const entry of queries) {
    const response = await query(prometheus, entry.expr);
    t.is(response.status, 'success', `${entry.panel} ${entry.refId}: ${response.error ?? ''}\n${entry.expr}`);
    t.true((response.data?.result.length ?? 0) > 0, `${entry.panel} ${entry.refId} returns no series:\n${entry.expr}`);
  }

  const jobs = (await (await fetch(`${prometheus.url}/api/v1/label/job/values?match[]=symgate_build_info`)).json()) as { data: string[] };
  t.deepEqual(jobs.data, ['symgate'], 'the Job variable lists the scrape job');
  const stored = await query(prometheus, 'symgate_rejected_requests_total');
  t.is(stored.data?.result[0]?.value[1], '1', 'Prometheus stores what symgate counted');
});

prometheusTest('storage errors show in error ratio', async (t) => {
  // The error-ratio panel must report a non-zero ratio for the failing bucket, not only some series.
  t.timeout(180_000);
  const directory = await mkdtemp(join(tmpdir(), 'symgate-prometheus-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const s3 = await startS3({ buckets: ['first', 'second'] });
  t.teardown(() => s3.close());
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: s3.port });
  t.teardown(() => proxy.close());
  const config = validateConfig(
    {
      server: { host: '127.0.0.1', port: 0, shutdown_timeout_seconds: 1 },
      buckets: [bucketConfig('first', s3.endpoint), bucketConfig('second', proxy.endpoint)],
      storage: { max_attempts: 1 },
      missing_symbols: { enabled: false },
      metrics: { port: 0 },
    },
    { baseDirectory: directory, env: {} },
  );
  const running = await startServer(config, { logger: createLogger('silent') });
  t.teardown(() => running.stop());
  const scrapeConfig = parseYaml(readFileSync(EXAMPLE_CONFIG, 'utf8')) as {
    global: Record<string, string>;
    scrape_configs: { static_configs: { targets: string[] }[] }[];
  };
  scrapeConfig.global.scrape_interval = '1s';
  scrapeConfig.scrape_configs[0]!.static_configs = [{ targets: [new URL(running.metricsUrl!).host] }];
  const prometheus = await startPrometheus(t, directory, scrapeConfig);
  const errorRatio = substitutedQueries().find((entry) => entry.panel === 'Storage error ratio by bucket');
  if (errorRatio === undefined) {
    t.fail('The dashboard has no panel "Storage error ratio by bucket"');
    return;
  }

  const scraped = await poll(async () => ((await query(prometheus, 'up{job="symgate"} == 1')).data?.result.length ?? 0) > 0, 240);
  t.true(scraped, `Prometheus scrapes the metrics listener:\n${prometheus.output()}`);
  proxy.setRules([{ status: 503 }]);
  for (let index = 0; index < 3; index += 1) {
    t.is((await request(`${running.url}/failing${index}.pdb/${ID}/failing${index}.sym`)).status, 503);
  }
  const ratioFor = async (bucket: string) => {
    const response = await query(prometheus, errorRatio.expr);
    const value = response.data?.result.find((series) => series.metric.bucket === bucket)?.value[1];
    return value === undefined ? Number.NaN : Number(value);
  };
  await poll(async () => (await ratioFor('second')) > 0, 120);

  const counts = JSON.stringify((await query(prometheus, 'symgate_storage_request_duration_seconds_count')).data?.result);
  t.is(await ratioFor('second'), 1, `every call to the failing bucket failed: ${counts}`);
  t.is(await ratioFor('first'), 0, `the healthy bucket has no errors: ${counts}`);
});
