// A second test reporter (scripts/test.sh): once the run ends, it repeats every failed test — file,
// line, name and error — so that a log cut to its head and tail (as CI shows it) still says what failed.
import { relative } from 'node:path';
import { inspect } from 'node:util';

const STACK_LINES = 12;

export default async function* failures(source) {
  const failed = [];
  const suites = [];
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    // A suite fails when a subtest does: the subtest itself is the one to report, and the suites
    // named after it (tests of one name run in several suites, one per server).
    if (event.data.details.error?.failureType === 'subtestsFailed') suites.push(event.data.name);
    else failed.push(event.data);
  }
  if (failed.length === 0) return;
  yield `\n# ${failed.length} failed test(s), in suite(s): ${suites.join(', ') || '-'}\n`;
  for (const test of failed) {
    const where = test.file ? `${relative(process.cwd(), test.file)}:${test.line ?? '?'}` : '?';
    const error = test.details.error;
    const cause = error?.cause ?? error;
    const text = cause instanceof Error ? (cause.stack ?? cause.message) : inspect(cause);
    const lines = text.split('\n').slice(0, STACK_LINES);
    yield `# FAILED ${where} — ${test.name}\n${lines.map((line) => `#   ${line}`).join('\n')}\n`;
  }
}
