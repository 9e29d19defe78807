// One benchmark run's logging, cleanups (on exit, signal or global deadline) and exit.
import { performance } from 'node:perf_hooks';
import { running } from './run-process.mjs';

/** `name` prefixes each log line; after `deadlineMin` minutes everything is stopped (exit 3). */
export function runControl(name, deadlineMin) {
  const t0 = performance.now();
  const log = (msg) =>
    process.stderr.write(`[${name} ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);

  const cleanups = [];
  let cleaning;
  const cleanupAll = () => {
    cleaning ??= (async () => {
      for (const child of running) child.kill('SIGKILL'); // processes started by us, by PID
      while (cleanups.length > 0) {
        const fn = cleanups.pop();
        try {
          await fn();
        } catch (err) {
          log(`cleanup: ${err.message}`);
        }
      }
    })();
    return cleaning;
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      log(`${sig}: stopping everything`);
      void cleanupAll().finally(() => process.exit(130));
    });
  }
  const deadlineMs = deadlineMin * 60_000;
  const deadline = setTimeout(() => {
    log(`global deadline (${deadlineMin} min) reached: stopping everything`);
    void cleanupAll().finally(() => process.exit(3));
  }, deadlineMs);

  /** Runs the metrics named in `only`, in the order of `names`; one that throws is logged and passed to onError. */
  const runMetrics = async (names, steps, only, onError) => {
    for (const m of names) {
      if (!only.has(m)) continue;
      try {
        await steps[m]();
      } catch (err) {
        log(`${m}: FAILED: ${err.stack ?? err.message}`);
        onError(m, err);
      }
    }
  };

  /** Runs main, cleans up, exits: 1 if main threw, else process.exitCode (or 0). */
  const finish = async (main) => {
    let exitCode = 0;
    try {
      await main();
    } catch (err) {
      log(`FAILED: ${err.stack ?? err.message}`);
      exitCode = 1;
    } finally {
      await cleanupAll();
      clearTimeout(deadline);
    }
    process.exit(exitCode || process.exitCode || 0);
  };
  return { t0, log, cleanups, runMetrics, finish };
}
