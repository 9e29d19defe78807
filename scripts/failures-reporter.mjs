// A second test reporter (scripts/test.sh): once the run ends, it repeats every failed test — file,
// line, name and error — so that a log cut to its head and tail (as CI shows it) still says what failed.
import { relative } from 'node:path';
import { inspect } from 'node:util';

const STACK_LINES = 12;

export default async function* failures(source) {
  const failed = [];
  for await (const event of source) {
    // A suite fails when a subtest does: the subtest itself is the one to report.
    if (event.type === 'test:fail' && event.data.details.error?.failureType !== 'subtestsFailed') {
      failed.push(event.data);
    }
  }
  if (failed.length === 0) return;
  yield `\n# ${failed.length} failed test(s):\n`;
  for (const test of failed) {
    const where = test.file ? `${relative(process.cwd(), test.file)}:${test.line ?? '?'}` : '?';
    const error = test.details.error;
    const cause = error?.cause ?? error;
    const text = cause instanceof Error ? (cause.stack ?? cause.message) : inspect(cause);
    const lines = text.split('\n').slice(0, STACK_LINES);
    yield `# FAILED ${where} — ${test.name}\n${lines.map((line) => `#   ${line}`).join('\n')}\n`;
  }
}
