/**
 * For a command that talks to servers which may misbehave (`ferry probe`): once its work is done
 * and `code` set, the process ends as soon as nothing is left open; if something still holds the
 * event loop after `graceMs` (a connection a server never closed, or a leak of ours), it says what
 * on standard error and exits anyway. The timer itself holds nothing. When the loop empties, the
 * exit is explicit: a natural exit first waits for every socket handle to close, and one that
 * Node can no longer close (a reset that failed, see client/data-reset.ts) made it spin for ever.
 */
export function exitWhenDone(code: number, graceMs = 2000): void {
  process.exitCode = code;
  process.once('beforeExit', () => process.exit(code));
  setTimeout(() => {
    const open = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout');
    process.stderr.write(`ferry: still open after the command finished (${open.join(', ')}); exiting\n`);
    process.exit(code);
  }, graceMs).unref();
}
