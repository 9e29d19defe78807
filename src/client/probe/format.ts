import type { ProbeReport, Verdict } from './types.js';

/** The human form of a probe report: one line per point, grouped, then the summary. */

const MARK: Readonly<Record<Verdict, string>> = {
  pass: 'pass',
  fail: 'FAIL',
  'not-supported': 'n/s ',
  'not-applicable': 'n/a ',
};

export function formatReport(r: ProbeReport): string {
  const lines: string[] = [
    `ferry probe ${r.target.url} (${r.target.security} FTPS as ${r.target.user})`,
    `greeting: ${r.greeting}`,
  ];
  for (const g of r.groups) {
    lines.push('', g.title);
    for (const p of g.points) {
      const io = p.verdict === 'not-applicable' ? '' : ` | sent: ${p.sent} | got: ${p.received}`;
      const why = p.detail !== undefined ? ` (${p.detail})` : '';
      lines.push(`  ${MARK[p.verdict]}  ${p.id}: ${p.title}${io}${why}`);
    }
  }
  if (r.write)
    lines.push('', `write checks in ${r.write.dir}: ${r.write.cleanedUp ? 'cleaned up' : 'NOT cleaned up'}`);
  for (const l of r.limits) lines.push(`limit: ${l}`);
  const s = r.summary;
  lines.push(
    '',
    `${s.pass} pass, ${s.fail} fail, ${s.notSupported} not supported, ${s.notApplicable} not applicable (${(r.durationMs / 1000).toFixed(1)} s)`,
    s.conformant
      ? 'MS-FTPS and RFC 4217: every point passes or does not apply.'
      : 'MS-FTPS and RFC 4217: at least one point FAILS.',
  );
  return lines.join('\n') + '\n';
}
