// Result rows, the text table, the header facts and results/*.json, shared by both benchmarks.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runProcess } from './run-process.mjs';
import { round } from './stats.mjs';

/** A `row(id, label, unit, better, ferry, other, details)` that pushes onto rows; `other` names the compared side. */
export function rowAdder(rows, other) {
  return (id, label, unit, better, ferry, value, details = {}) => {
    const ratio = ferry !== undefined && value !== undefined && value !== 0 ? ferry / value : undefined;
    rows.push({ id, label, unit, better, ferry, [other]: value, ratio, details });
  };
}

export function fmt(x, unit) {
  if (x === undefined) return 'n/a';
  if (unit === 's') return x < 1 ? x.toFixed(3) : x.toFixed(2);
  if (unit === 's/GiB' || unit === 'ms') return x < 10 ? x.toFixed(2) : x.toFixed(1);
  if (Math.abs(x) >= 100) return x.toFixed(0);
  return x.toFixed(1);
}

/** The rows as a text table: Ferry beside `other` (a row key; `${other}Text` overrides its cell). */
export function table(rows, other, ferryTitle = 'Ferry') {
  const header = ['metric', 'unit', 'better', ferryTitle, other, `Ferry/${other}`];
  const cell = (r, side) =>
    r[`${side}Text`] ?? (r.error && r[side] === undefined ? 'FAILED' : fmt(r[side], r.unit));
  const body = rows.map((r) => [
    r.label,
    r.unit,
    r.better,
    cell(r, 'ferry'),
    cell(r, other),
    r.ratio === undefined ? '–' : r.ratio >= 0.1 ? r.ratio.toFixed(2) : r.ratio.toPrecision(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) =>
    cells.map((c, i) => (i >= 3 ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export const loadAverage = () => os.loadavg().map((x) => round(x, 2));

export async function toolVersions(curl) {
  return {
    node: process.version,
    vsftpd: (await runProcess('/usr/bin/dpkg-query', ['-W', '-f=${Version}', 'vsftpd'])).stdout.trim(),
    curl: (await runProcess(curl, ['--version'])).stdout.split('\n')[0],
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    kernel: os.release(),
  };
}

/** The header line naming the machine, the tools and the measured build. */
export const machineLine = (v, distHash, buildNote) =>
  `${v.cpus} CPUs (${v.cpuModel}), Node ${v.node}, vsftpd ${v.vsftpd}, ${v.curl.split(' ').slice(0, 2).join(' ')}; Ferry dist ${distHash} (${buildNote}); metrics run one after another`;

/** The first fields of a results file. */
export const resultHead = (script, quick, params, versions, buildNote, distHash) => ({
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  command: `node bench/${script} ${process.argv.slice(2).join(' ')}`.trim(),
  params,
  versions,
  build: buildNote,
  ferryDist: distHash,
});

export async function writeResults(file, result, log) {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(result, null, 2) + '\n');
  log(`wrote ${path.relative(process.cwd(), file) || file}`);
}
