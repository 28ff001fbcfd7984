import type { Metric, Registry } from 'prom-client';

type LabelValues = Record<string, string>;

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
// request use these two classes instead: the caller looks a series up by a
// string key it builds, and an update is a few additions. prom-client's
// Registry renders any metric object with a name, help, type and a get() that
// returns values in prom-client's shape, which these classes return.

/** A Prometheus counter for metrics updated on every request. */
export class RequestPathCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, CounterSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** Returns the series of a label set, created at 0 on first use. `key` must identify the label values. */
  seriesFor(key: string, labels: () => LabelValues): CounterSeries {
    let series = this.series.get(key);
    if (series === undefined) {
      series = { labels: labels(), value: 0 };
      this.series.set(key, series);
    }
    return series;
  }

  get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [...this.series.values()].map((series) => ({ labels: { ...series.labels }, value: series.value })),
    };
  }

  /** Sets every series to 0. Series stay registered, because callers keep references to them. */
  reset(): void {
    for (const series of this.series.values()) {
      series.value = 0;
    }
  }
}

/** A Prometheus histogram for metrics updated on every request. */
export class RequestPathHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** Returns the series of a label set, created empty on first use. `key` must identify the label values. */
  seriesFor(key: string, labels: () => LabelValues): HistogramSeries {
    let series = this.series.get(key);
    if (series === undefined) {
      series = { labels: labels(), counts: new Array<number>(this.upperBounds.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    return series;
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
    for (const series of this.series.values()) {
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
    for (const series of this.series.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}
