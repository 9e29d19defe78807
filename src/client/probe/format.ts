import { CONFORMANCE_GROUPS, type ProbeReport, type Verdict } from './types.js';

/** The human form of a probe report: one line per point, grouped, then the summary. */

const MARK: Readonly<Record<Verdict, string>> = {
  pass: 'pass',
  fail: 'FAIL',
  'not-supported': 'n/s ',
  'not-applicable': 'n/a ',
  'not-completed': 'n/c ',
};

const SECURITY: Readonly<Record<ProbeReport['target']['security'], string>> = {
  implicit: 'implicit FTPS',
  explicit: 'explicit FTPS',
  none: 'plain FTP: is TLS offered? then explicit FTPS',
};

export function formatReport(r: ProbeReport): string {
  const lines: string[] = [
    `ferry probe ${r.target.url} (${SECURITY[r.target.security]}, as ${r.target.user})`,
    // Every line: a multi-line greeting may say who the server is on any of them.
    ...(r.greetingLines.length > 0 ? r.greetingLines : [r.greeting]).map(
      (l, i) => `${i === 0 ? 'greeting: ' : '          '}${l}`,
    ),
  ];
  for (const g of r.groups) {
    lines.push('', g.title);
    for (const p of g.points) {
      const io =
        p.verdict === 'not-applicable' || p.verdict === 'not-completed'
          ? ''
          : ` | sent: ${p.sent} | got: ${p.received}`;
      const why = p.detail !== undefined ? ` (${p.detail})` : '';
      lines.push(`  ${MARK[p.verdict]}  ${p.id}: ${p.title}${io}${why}`);
    }
  }
  if (r.write)
    lines.push(
      '',
      `write checks in ${r.write.dir}: ${r.write.cleanedUp ? 'cleaned up' : notCleanedUp(r.write.left)}`,
    );
  for (const l of r.limits) lines.push(`limit: ${l}`);
  const s = r.summary;
  lines.push(
    '',
    `${s.pass} pass, ${s.fail} fail, ${s.notSupported} not supported, ${s.notApplicable} not applicable, ${s.notCompleted} not completed (${(r.durationMs / 1000).toFixed(1)} s)`,
  );
  for (const why of s.incomplete) lines.push(`INCOMPLETE: points not checked: ${why}`);
  lines.push(
    conformanceFails(r)
      ? 'MS-FTPS and RFC 4217: at least one point FAILS.'
      : s.conformant
        ? s.complete
          ? 'MS-FTPS and RFC 4217: every point passes or does not apply.'
          : 'MS-FTPS and RFC 4217: every point passes or does not apply, but the report is INCOMPLETE (see above).'
        : 'MS-FTPS and RFC 4217: no point fails, but some were NOT COMPLETED: the report is incomplete.',
  );
  return lines.join('\n') + '\n';
}

/** What a --write that could not clean up says: the files that may be left, when they are known. */
export function notCleanedUp(left: readonly string[] | undefined): string {
  return left && left.length > 0
    ? `NOT cleaned up, these may be left on the server: ${left.join(', ')}`
    : 'NOT cleaned up (the directory could not be listed to check)';
}

/** A point of MS-FTPS or RFC 4217 fails (exit code 1). */
export function conformanceFails(r: ProbeReport): boolean {
  return r.groups.some(
    (g) => CONFORMANCE_GROUPS.includes(g.id) && g.points.some((p) => p.verdict === 'fail'),
  );
}
