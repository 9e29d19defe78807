/** One series of a metric in prom-client's JSON form (getMetricsAsJSON()). */
interface SeriesJson {
  value: number;
  labels: Record<string, string | number>;
  /** A histogram's _bucket, _sum or _count. */
  metricName?: string;
}

/** One metric in prom-client's JSON form: what workers send and AggregatorRegistry.aggregate() sums. */
interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: SeriesJson[];
}

/**
 * The counts of workers that are gone (exited, crashed, replaced): their counters and histograms as
 * last seen, summed, for the cluster's /metrics to add to the running workers' own. Without them a
 * cluster counter would drop when a worker exits, which Prometheus reads as a reset (and rate()
 * as a burst of everything the other workers counted). Gauges are not kept: a dead worker's
 * sessions are not open any more.
 */
export class KeptCounts {
  private readonly kept = new Map<string, { metric: MetricJson; series: Map<string, SeriesJson> }>();

  /** Adds a gone worker's last metrics (as it sent them). */
  add(metrics: unknown): void {
    for (const m of countsOf(metrics)) {
      let entry = this.kept.get(m.name);
      if (!entry) {
        entry = { metric: { ...m, values: [] }, series: new Map() };
        this.kept.set(m.name, entry);
      }
      for (const v of m.values) {
        const key = seriesKey(v);
        const had = entry.series.get(key);
        if (had) had.value += v.value;
        else entry.series.set(key, { ...v, labels: { ...v.labels } });
      }
    }
  }

  /** What is kept, in prom-client's JSON form (for AggregatorRegistry.aggregate()). */
  get metrics(): MetricJson[] {
    return [...this.kept.values()].map(({ metric, series }) => ({ ...metric, values: [...series.values()] }));
  }
}

/** The counters and histograms (what only grows) of a worker's metrics, as it sent them. */
export function countsOf(metrics: unknown): MetricJson[] {
  if (!Array.isArray(metrics)) return [];
  return (metrics as MetricJson[]).filter(
    (m) => (m.type === 'counter' || m.type === 'histogram') && Array.isArray(m.values),
  );
}

/** A series' identity: its name (a histogram's parts differ) and its labels, in any order. */
function seriesKey(v: SeriesJson): string {
  const labels = Object.entries(v.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([v.metricName ?? '', labels]);
}

/**
 * The highest value each counter and histogram series of the cluster's /metrics has been served
 * with, so that none is served lower: the sums of the workers' counts are floating-point sums in
 * an order that changes when a worker exits (its counts move into KeptCounts), so a sum could come
 * out one unit in the last place lower, which Prometheus would read as a counter reset.
 */
export class HighWater {
  private readonly highest = new Map<string, number>();

  /** `metrics` with every counter or histogram series at least as high as it was last served. */
  raise(metrics: unknown): MetricJson[] {
    if (!Array.isArray(metrics)) return [];
    return (metrics as MetricJson[]).map((m) => {
      if (m.type !== 'counter' && m.type !== 'histogram') return m;
      const values = m.values.map((v) => {
        const key = `${m.name}\u0000${seriesKey(v)}`;
        const value = Math.max(v.value, this.highest.get(key) ?? -Infinity);
        this.highest.set(key, value);
        return value === v.value ? v : { ...v, value };
      });
      return { ...m, values };
    });
  }
}
