import type { Metric, Registry } from 'prom-client';

type LabelValues = Record<string, string>;

/** A label value as callers pass it; numbers, such as status codes, are rendered as strings. */
export type LabelValue = string | number;

/** The running totals of one label set of a {@link RequestPathHistogram}. */
export interface HistogramSeries {
  readonly labels: LabelValues;
  /** Observations per bucket, not cumulative; the last entry is the +Inf bucket. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/** The running total of one label set of a {@link RequestPathCounter}. */
export interface CounterSeries {
  readonly labels: LabelValues;
  value: number;
}

// prom-client's own Counter and Histogram hash the labels object on every
// call, which measurably slowed cached redirects. The metrics updated on every
// request use these two classes instead: a series is found through one map
// per label, keyed by the label values, so a lookup builds no key string, and
// an update is a few additions. prom-client's Registry renders any metric
// object with a name, help, type and a get() that returns values in
// prom-client's shape, which these classes return.

/**
 * The series of one metric, found by their label values (one to three labels).
 * Series are created on first use and never removed, so callers may keep them.
 */
class SeriesIndex<Series> {
  private readonly root = new Map<LabelValue, unknown>();
  /** Every series, in creation order. */
  readonly all: Series[] = [];

  constructor(
    private readonly labelNames: readonly string[],
    private readonly create: (labels: LabelValues) => Series,
  ) {
    if (labelNames.length < 1 || labelNames.length > 3) {
      throw new Error(`expected one to three label names, got ${labelNames.length}`);
    }
  }

  /** Returns the series of the given label values, in the order of the label names, creating it on first use. */
  find(first: LabelValue, second?: LabelValue, third?: LabelValue): Series {
    const depth = this.labelNames.length;
    let level = this.root;
    let last = first;
    if (depth >= 2) {
      level = this.child(level, first);
      last = second!;
    }
    if (depth === 3) {
      level = this.child(level, second!);
      last = third!;
    }
    let series = level.get(last) as Series | undefined;
    if (series === undefined) {
      const values = [first, second, third];
      const labels: LabelValues = {};
      this.labelNames.forEach((name, index) => {
        labels[name] = String(values[index]);
      });
      series = this.create(labels);
      level.set(last, series);
      this.all.push(series);
    }
    return series;
  }

  private child(level: Map<LabelValue, unknown>, value: LabelValue): Map<LabelValue, unknown> {
    let next = level.get(value) as Map<LabelValue, unknown> | undefined;
    if (next === undefined) {
      next = new Map();
      level.set(value, next);
    }
    return next;
  }
}

/** A Prometheus counter for metrics updated on every request. */
export class RequestPathCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly series: SeriesIndex<CounterSeries>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly string[],
    registry: Registry,
  ) {
    this.series = new SeriesIndex(labelNames, (labels) => ({ labels, value: 0 }));
    registry.registerMetric(this as unknown as Metric);
  }

  /** Returns the series of a label set, in the order of the label names, created at 0 on first use. */
  seriesFor(first: LabelValue, second?: LabelValue, third?: LabelValue): CounterSeries {
    return this.series.find(first, second, third);
  }

  get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.series.all.map((series) => ({ labels: { ...series.labels }, value: series.value })),
    };
  }

  /** Sets every series to 0. Series stay registered, because callers keep references to them. */
  reset(): void {
    for (const series of this.series.all) {
      series.value = 0;
    }
  }
}

/** A Prometheus histogram for metrics updated on every request. */
export class RequestPathHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series: SeriesIndex<HistogramSeries>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly string[],
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    this.series = new SeriesIndex(labelNames, (labels) => ({
      labels,
      counts: new Array<number>(upperBounds.length + 1).fill(0),
      sum: 0,
      count: 0,
    }));
    registry.registerMetric(this as unknown as Metric);
  }

  /** Returns the series of a label set, in the order of the label names, created empty on first use. */
  seriesFor(first: LabelValue, second?: LabelValue, third?: LabelValue): HistogramSeries {
    return this.series.find(first, second, third);
  }

  observe(series: HistogramSeries, value: number): void {
    const bounds = this.upperBounds;
    let index = 0;
    while (index < bounds.length && value > bounds[index]!) {
      index += 1;
    }
    series.counts[index]! += 1;
    series.sum += value;
    series.count += 1;
  }

  get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const series of this.series.all) {
      let cumulative = 0;
      this.upperBounds.forEach((bound, index) => {
        cumulative += series.counts[index]!;
        values.push({ labels: { ...series.labels, le: bound }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      cumulative += series.counts[this.upperBounds.length]!;
      values.push({ labels: { ...series.labels, le: '+Inf' }, value: cumulative, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...series.labels }, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...series.labels }, value: series.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Empties every series. Series stay registered, because callers keep references to them. */
  reset(): void {
    for (const series of this.series.all) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}
