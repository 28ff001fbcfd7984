import { readFileSync } from 'node:fs';

import test from 'ava';
import { parse as parseYaml } from 'yaml';

import { DEFAULTS } from '../src/config/index.js';
import { METRIC_NAMES } from '../src/metrics/index.js';
import {
  dashboardQueries,
  dataPanels,
  extractMetricNames,
  loadDashboard,
  registeredSeriesNames,
  substituteVariables,
} from './helpers/dashboard.js';

const DATASOURCE = '${datasource}';

function readRepositoryFile(path: string): string {
  return readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
}

const extractionCases: [string, string[]][] = [
  ['up', ['up']],
  ['sum by (le, route) (rate(a_bucket{route="symbol"}[5m]))', ['a_bucket']],
  ['sum(rate(a_total[$__rate_interval])) without (instance)', ['a_total']],
  ['a_total{job=~"$job", instance=~"${instance}"} / on(job) group_left(version) b_info', ['a_total', 'b_info']],
  ['histogram_quantile(0.95, sum by (le) (rate(x_bucket[1m] offset 5m)))', ['x_bucket']],
  ['a{label="not_a_metric{x}", other=\'y)\'} > bool 1e3', ['a']],
  ['count(a) + count(b) * 2 and c unless d', ['a', 'b', 'c', 'd']],
  ['rate(a[5m]) @ start()', ['a']],
  ['max_over_time(x[1h:5m]) # trailing comment names_nothing', ['x']],
  ['namespace:recording_rule:sum', ['namespace:recording_rule:sum']],
];

for (const [expr, expected] of extractionCases) {
  test(`extract names: ${expr}`, (t) => {
    t.deepEqual(extractMetricNames(expr).sort(), [...expected].sort());
  });
}

const malformedCases = ['sum(rate(a[5m])', 'rate(a[5m]))', 'a{job="x"', 'a{job="x}', 'rate(a[5m)', 'a ; b', 'sum by (le (a)'];

for (const expr of malformedCases) {
  test(`malformed query throws: ${expr}`, (t) => {
    t.throws(() => extractMetricNames(expr));
  });
}

test('variables substituted', (t) => {
  t.is(
    substituteVariables('rate(a{job=~"$job", i=~"${instance}"}[$__rate_interval])', {
      job: 'symgate',
      instance: '.*',
      __rate_interval: '1m',
    }),
    'rate(a{job=~"symgate", i=~".*"}[1m])',
  );
  t.throws(() => substituteVariables('a{x="$unknown"}', {}), { message: /\$unknown/ });
});

test('dashboard has a fixed uid', (t) => {
  const dashboard = loadDashboard();

  t.is(dashboard.uid, 'symgate-overview');
  t.regex(dashboard.uid ?? '', /^[A-Za-z0-9_-]{1,40}$/);
  t.true(dashboard.id === undefined || dashboard.id === null, 'no database id, so provisioning assigns one');
});

test('datasource is a template variable', (t) => {
  const dashboard = loadDashboard();
  const variable = dashboard.templating.list.find((entry) => entry.name === 'datasource');

  t.is(variable?.type, 'datasource');
  t.is(variable?.query, 'prometheus');
  t.false(readRepositoryFile('grafana/symgate-dashboard.json').includes('${DS_'), 'no import-time inputs');
  for (const entry of dashboard.templating.list.filter((item) => item.type === 'query')) {
    t.is(entry.datasource?.uid, DATASOURCE, `variable ${entry.name} uses the datasource variable`);
  }
});

test('every panel uses the datasource variable', (t) => {
  for (const panel of dataPanels(loadDashboard())) {
    t.is(panel.datasource?.type, 'prometheus', panel.title);
    t.is(panel.datasource?.uid, DATASOURCE, panel.title);
    t.true((panel.targets ?? []).length > 0, `${panel.title} has queries`);
    for (const target of panel.targets ?? []) {
      t.is(target.datasource?.uid, DATASOURCE, `${panel.title} ${target.refId}`);
    }
  }
});

test('every panel has a unit', (t) => {
  for (const panel of dataPanels(loadDashboard())) {
    const unit = panel.fieldConfig?.defaults?.unit;
    t.is(typeof unit, 'string', panel.title);
    t.true((unit ?? '').length > 0, `${panel.title} has a unit`);
  }
});

test('ranges use $__rate_interval', (t) => {
  for (const { panel, refId, expr } of dashboardQueries(loadDashboard())) {
    const ranges = [...expr.matchAll(/\[([^\]]*)\]/g)].map((match) => match[1]);
    for (const range of ranges) {
      t.is(range, '$__rate_interval', `${panel} ${refId}: ${expr}`);
    }
    if (/\b(rate|irate|increase)\(/.test(expr)) {
      t.true(ranges.length > 0, `${panel} ${refId} has a range: ${expr}`);
    }
  }
});

test('queries name only registered metrics', async (t) => {
  const registered = await registeredSeriesNames();
  const queries = dashboardQueries(loadDashboard());
  const variableQueries = loadDashboard()
    .templating.list.filter((entry) => entry.type === 'query')
    .map((entry) => ({ panel: `variable ${entry.name}`, refId: '-', expr: String(entry.query).replace(/^label_values\((.*),\s*\w+\)$/, '$1') }));

  t.true(queries.length > 0);
  for (const { panel, refId, expr } of [...queries, ...variableQueries]) {
    const names = extractMetricNames(expr);
    t.true(names.length > 0, `${panel} ${refId} selects a metric: ${expr}`);
    for (const name of names) {
      t.true(registered.has(name), `${panel} ${refId}: ${name} is not a metric symgate registers`);
    }
  }
});

test('dashboard shows every symgate metric', (t) => {
  const used = new Set(dashboardQueries(loadDashboard()).flatMap(({ expr }) => extractMetricNames(expr)));

  for (const name of Object.values(METRIC_NAMES)) {
    const series = [name, `${name}_bucket`, `${name}_count`];
    t.true(series.some((candidate) => used.has(candidate)), `${name} appears in a panel`);
  }
  for (const name of ['process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
    t.true(used.has(name), `${name} appears in a panel`);
  }
});

test('panels fit the grid without overlap', (t) => {
  const placed = loadDashboard().panels.map((panel) => ({ title: panel.title, ...panel.gridPos! }));
  const ids = loadDashboard().panels.map((panel) => panel.id);

  t.is(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const [index, a] of placed.entries()) {
    t.true(a.x >= 0 && a.x + a.w <= 24, `${a.title} fits in 24 columns`);
    for (const b of placed.slice(index + 1)) {
      const overlaps = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      t.false(overlaps, `${a.title} overlaps ${b.title}`);
    }
  }
});

test('provisioning files match the dashboard', (t) => {
  const datasources = parseYaml(readRepositoryFile('grafana/provisioning/datasources/prometheus.yaml')) as {
    apiVersion: number;
    datasources: { type: string; url: string; jsonData?: { timeInterval?: string } }[];
  };
  const providers = parseYaml(readRepositoryFile('grafana/provisioning/dashboards/symgate.yaml')) as {
    apiVersion: number;
    providers: { type: string; options: { path: string } }[];
  };
  const prometheus = parseYaml(readRepositoryFile('grafana/prometheus.yml')) as {
    global: { scrape_interval: string };
    scrape_configs: { job_name: string; metrics_path: string }[];
  };
  const docs = readRepositoryFile('docs/metrics.md');

  t.is(datasources.apiVersion, 1);
  t.is(datasources.datasources[0]?.type, 'prometheus');
  t.is(
    datasources.datasources[0]?.jsonData?.timeInterval,
    prometheus.global.scrape_interval,
    'Grafana knows the scrape interval that $__rate_interval depends on',
  );
  t.is(providers.apiVersion, 1);
  t.is(providers.providers[0]?.type, 'file');
  const dashboardFolder = providers.providers[0]?.options.path ?? '';
  t.true(dashboardFolder.length > 0);
  t.true(docs.includes(dashboardFolder), 'docs/metrics.md names the folder the provider reads');
  t.is(prometheus.scrape_configs[0]?.job_name, 'symgate');
  t.is(prometheus.scrape_configs[0]?.metrics_path, DEFAULTS.metrics.path);
});

test('README lists every metric', (t) => {
  const docs = readRepositoryFile('README.md');

  for (const name of Object.values(METRIC_NAMES)) {
    t.true(docs.includes(`\`${name}\``), `${name} is documented`);
  }
});
