import { fstatSync } from 'node:fs';

/**
 * Whether `fd` is the systemd journal's stream: systemd sets JOURNAL_STREAM to `<st_dev>:<st_ino>`
 * of the stream it connected stdout or stderr to (systemd.exec(5)). Output redirected since (to a
 * file, a pipe, a terminal) has another device and inode.
 */
export function isJournalStream(fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const m = /^(\d+):(\d+)$/.exec(env['JOURNAL_STREAM'] ?? '');
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return String(st.dev) === m[1] && String(st.ino) === m[2];
  } catch {
    return false;
  }
}

/**
 * sd-daemon(3)'s `<N>` prefix for a pino JSON line, from its level (always its first key): the
 * journal stores the line at that priority, so `journalctl -p warning` shows warnings and errors.
 */
export function journalPriority(line: string): string {
  const level = Number(/^\{"level":(\d+)/.exec(line)?.[1] ?? 30);
  if (level >= 60) return '<2>'; // fatal: critical
  if (level >= 50) return '<3>';
  if (level >= 40) return '<4>';
  if (level >= 30) return '<6>';
  return '<7>';
}
