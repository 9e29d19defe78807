import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { HighWater, KeptCounts } from './kept-counts.js';

/** A worker's registry after `logins` logins and one 0.2 s command, as it sends it to the primary. */
async function workerMetrics(logins: number): Promise<object[]> {
  const registry = new Registry();
  const counter = new Counter({ name: 't_total', help: 'h', labelNames: ['a', 'b'], registers: [registry] });
  const gauge = new Gauge({ name: 't_sessions', help: 'h', registers: [registry] });
  const histogram = new Histogram({ name: 't_seconds', help: 'h', buckets: [0.1, 1], registers: [registry] });
  counter.inc({ a: 'x', b: 'y' }, logins);
  gauge.set(5);
  histogram.observe(0.2);
  return registry.getMetricsAsJSON();
}

test("gone workers' counters and histograms are summed series by series; their gauges are not kept", async () => {
  const kept = new KeptCounts();
  kept.add(await workerMetrics(2));
  kept.add(await workerMetrics(3));
  kept.add(undefined); // a worker killed before any scrape: nothing known
  const text = await AggregatorRegistry.aggregate([kept.metrics, await workerMetrics(1)]).metrics();
  assert.match(text, /^t_total\{a="x",b="y"\} 6$/m);
  assert.match(text, /^t_seconds_bucket\{le="1"\} 3$/m);
  assert.match(text, /^t_seconds_count 3$/m);
  assert.match(text, /^t_sessions 5$/m, 'the gauge of the running worker only');
});

test('HighWater serves no counter or histogram series lower than before (a sum one ulp lower after a worker exits); gauges as they are', () => {
  const served = new HighWater();
  const at = (counter: number, gauge: number): object[] => [
    {
      name: 'c_total',
      help: 'h',
      type: 'counter',
      aggregator: 'sum',
      values: [{ value: counter, labels: { k: 'v' } }],
    },
    { name: 'g', help: 'h', type: 'gauge', aggregator: 'sum', values: [{ value: gauge, labels: {} }] },
  ];
  const value = (ms: { values: { value: number }[] }[], i: number): number | undefined =>
    ms[i]?.values[0]?.value;
  assert.equal(value(served.raise(at(0.007052971005439759, 5)), 0), 0.007052971005439759);
  const lower = served.raise(at(0.007052971005439758, 2));
  assert.equal(value(lower, 0), 0.007052971005439759, 'the counter is not served lower');
  assert.equal(value(lower, 1), 2, 'a gauge goes down');
  assert.equal(value(served.raise(at(1, 2)), 0), 1, 'and goes up');
});
