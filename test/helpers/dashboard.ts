import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { pino } from 'pino';

import { createMetrics, type MissingSymbolsStatsSource } from '../../src/metrics/index.js';

/** Path of the Grafana dashboard shipped in grafana/. */
export const DASHBOARD_PATH = fileURLToPath(new URL('../../grafana/symgate-dashboard.json', import.meta.url));

export interface DashboardTarget {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}

export interface DashboardPanel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { h: number; w: number; x: number; y: number };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: DashboardTarget[];
  /** Panels inside a collapsed row. */
  panels?: DashboardPanel[];
}

export interface TemplateVariable {
  type: string;
  name: string;
  query?: unknown;
  datasource?: { type?: string; uid?: string };
  allValue?: string;
}

export interface Dashboard {
  id?: number | null;
  uid?: string;
  title?: string;
  panels: DashboardPanel[];
  templating: { list: TemplateVariable[] };
}

/** One PromQL query of the dashboard, with the panel it belongs to. */
export interface DashboardQuery {
  panel: string;
  refId: string;
  expr: string;
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard;
}

/** Returns every panel, those inside collapsed rows included, rows themselves excluded. */
export function dataPanels(dashboard: Dashboard): DashboardPanel[] {
  const panels: DashboardPanel[] = [];
  for (const panel of dashboard.panels) {
    if (panel.type === 'row') {
      panels.push(...(panel.panels ?? []));
    } else {
      panels.push(panel);
    }
  }
  return panels;
}

export function dashboardQueries(dashboard: Dashboard): DashboardQuery[] {
  return dataPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      panel: panel.title ?? `panel ${panel.id}`,
      refId: target.refId ?? '?',
      expr: target.expr ?? '',
    })),
  );
}

/**
 * Replaces Grafana's variables with fixed values, as Grafana does before it
 * sends a query: `$name`, `${name}` and `${name:format}`. Throws on a
 * variable that `values` does not define, so a new variable cannot slip
 * through untested.
 */
export function substituteVariables(expr: string, values: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (_match, braced: string | undefined, plain: string | undefined) => {
    const name = (braced ?? plain)!;
    const value = values[name];
    if (value === undefined) {
      throw new Error(`No value for Grafana variable $${name} in: ${expr}`);
    }
    return value;
  });
}

// PromQL words that are never metric names (operators, modifiers, the @ modifier's arguments).
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'atan2',
  'start',
  'end',
  'inf',
  'nan',
]);
// Keywords followed by a parenthesized list of label names.
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

const IDENTIFIER_START = /[A-Za-z_:]/;
const IDENTIFIER_PART = /[A-Za-z0-9_:]/;
const OPERATOR_CHARACTERS = new Set(['+', '-', '*', '/', '%', '^', '=', '!', '<', '>', ',', '@']);

/**
 * Returns the metric names a PromQL expression selects: identifiers that are
 * not followed by `(` or `by (`/`without (` (functions, aggregations), not keywords, not label
 * names inside `{...}` or after `by`/`without`/`on`/`ignoring`/`group_*`,
 * and not inside strings or `[...]` ranges. Grafana variables (`$x`,
 * `${x}`) are skipped. Throws on unbalanced brackets, an unterminated
 * string or a character PromQL does not use.
 */
export function extractMetricNames(expr: string): string[] {
  const names = new Set<string>();
  const open: string[] = [];
  let index = 0;

  while (index < expr.length) {
    const character = expr[index]!;
    if (/\s/.test(character)) {
      index += 1;
    } else if (character === '#') {
      const end = expr.indexOf('\n', index);
      index = end === -1 ? expr.length : end;
    } else if (character === '"' || character === "'" || character === '`') {
      index = skipString(expr, index);
    } else if (character === '{') {
      index = skipLabelMatchers(expr, index);
    } else if (character === '[') {
      const end = expr.indexOf(']', index);
      if (end === -1) {
        throw new Error(`Unclosed "[" at offset ${index} in: ${expr}`);
      }
      index = end + 1;
    } else if (character === '$') {
      index = skipVariable(expr, index);
    } else if (/[0-9.]/.test(character)) {
      // Numbers, durations (5m, 1h30m) and hex literals.
      index += 1;
      while (index < expr.length && /[0-9A-Za-z_.]/.test(expr[index]!)) {
        index += 1;
      }
    } else if (IDENTIFIER_START.test(character)) {
      let end = index + 1;
      while (end < expr.length && IDENTIFIER_PART.test(expr[end]!)) {
        end += 1;
      }
      const word = expr.slice(index, end);
      const next = nextNonSpace(expr, end);
      const lower = word.toLowerCase();
      index = end;
      if (LABEL_LIST_KEYWORDS.has(lower) && expr[next] === '(') {
        index = skipParenthesized(expr, next);
      } else if (KEYWORDS.has(lower) || expr[next] === '(' || startsWithModifier(expr, next)) {
        continue;
      } else {
        names.add(word);
      }
    } else if (character === '(') {
      open.push(')');
      index += 1;
    } else if (character === ')') {
      if (open.pop() !== ')') {
        throw new Error(`Unbalanced ")" at offset ${index} in: ${expr}`);
      }
      index += 1;
    } else if (OPERATOR_CHARACTERS.has(character)) {
      index += 1;
    } else {
      throw new Error(`Unexpected character ${JSON.stringify(character)} at offset ${index} in: ${expr}`);
    }
  }
  if (open.length > 0) {
    throw new Error(`Unclosed "(" in: ${expr}`);
  }
  return [...names];
}

// An aggregation may take its `by`/`without` clause before its arguments: `sum by (le) (x)`.
function startsWithModifier(expr: string, from: number): boolean {
  return /^(by|without)\s*\(/i.test(expr.slice(from));
}

function nextNonSpace(expr: string, from: number): number {
  let index = from;
  while (index < expr.length && /\s/.test(expr[index]!)) {
    index += 1;
  }
  return index;
}

// Returns the offset after the closing quote. Backquoted strings have no escapes.
function skipString(expr: string, start: number): number {
  const quote = expr[start];
  let index = start + 1;
  while (index < expr.length) {
    const character = expr[index];
    if (character === '\\' && quote !== '`') {
      index += 2;
      continue;
    }
    if (character === quote) {
      return index + 1;
    }
    index += 1;
  }
  throw new Error(`Unterminated string at offset ${start} in: ${expr}`);
}

function skipLabelMatchers(expr: string, start: number): number {
  let index = start + 1;
  while (index < expr.length) {
    const character = expr[index]!;
    if (character === '"' || character === "'" || character === '`') {
      index = skipString(expr, index);
    } else if (character === '{' || character === '(' || character === '[') {
      throw new Error(`Unexpected ${JSON.stringify(character)} inside label matchers at offset ${index} in: ${expr}`);
    } else if (character === '}') {
      return index + 1;
    } else {
      index += 1;
    }
  }
  throw new Error(`Unclosed "{" at offset ${start} in: ${expr}`);
}

// Skips a label list such as `(le, route)`, which holds only names and commas.
function skipParenthesized(expr: string, start: number): number {
  const end = expr.indexOf(')', start);
  if (end === -1) {
    throw new Error(`Unclosed label list at offset ${start} in: ${expr}`);
  }
  const inside = expr.slice(start + 1, end);
  if (!/^[\sA-Za-z0-9_,]*$/.test(inside)) {
    throw new Error(`Invalid label list ${JSON.stringify(inside)} at offset ${start} in: ${expr}`);
  }
  return end + 1;
}

function skipVariable(expr: string, start: number): number {
  if (expr[start + 1] === '{') {
    const end = expr.indexOf('}', start);
    if (end === -1) {
      throw new Error(`Unclosed variable at offset ${start} in: ${expr}`);
    }
    return end + 1;
  }
  let index = start + 1;
  while (index < expr.length && /\w/.test(expr[index]!)) {
    index += 1;
  }
  return index;
}

/** A stats source with fixed totals, so that the missing-symbol metrics are registered. */
export const FIXED_MISSING_SYMBOLS_STATS: MissingSymbolsStatsSource = {
  stats: () => ({ recorded: 0, flushes: 0, flushFailures: 0, dropped: 0, oversized: 0 }),
  countRecords: () => 0,
};

/**
 * Returns every series name that symgate can expose, its default metrics
 * included; a histogram contributes its `_bucket`, `_sum` and `_count`
 * series.
 */
export async function registeredSeriesNames(): Promise<Set<string>> {
  const metrics = createMetrics({
    logger: pino({ level: 'silent' }),
    version: { version: '0.0.0', commit: undefined, source: undefined },
    buckets: [],
    cacheEntries: () => 0,
    missingSymbols: FIXED_MISSING_SYMBOLS_STATS,
  });
  const names = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) {
        names.add(metric.name + suffix);
      }
    }
  }
  return names;
}
