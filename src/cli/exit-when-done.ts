/**
 * For a command that talks to servers which may misbehave (`ferry probe`): once its work is done
 * and `code` set, the process ends on its own when nothing is left open; if something still holds
 * the event loop after `graceMs` (a connection a server never closed, or a leak of ours), it says
 * what on standard error and exits anyway. The timer itself holds nothing.
 */
export function exitWhenDone(code: number, graceMs = 2000): void {
  process.exitCode = code;
  setTimeout(() => {
    const open = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout');
    process.stderr.write(`ferry: still open after the command finished (${open.join(', ')}); exiting\n`);
    process.exit(code);
  }, graceMs).unref();
}
