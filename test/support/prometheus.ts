/**
 * A reader of the Prometheus text exposition format (version 0.0.4), for asserting metric values:
 * every sample as `name{label="value",…}` (labels sorted) → value.
 */
export type Samples = ReadonlyMap<string, number>;

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Samples {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels = [...(m[2] ?? '').matchAll(LABEL)].map(([, k, v]) => `${k}="${v}"`).sort();
    samples.set(key(m[1] ?? '', labels), Number(m[3]));
  }
  return samples;
}

function key(name: string, labels: readonly string[]): string {
  return labels.length === 0 ? name : `${name}{${labels.join(',')}}`;
}

/** The value of one series (0 when absent: a counter nobody incremented yet). */
export function sample(s: Samples, name: string, labels: Record<string, string> = {}): number {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return s.get(key(name, l.sort())) ?? 0;
}
