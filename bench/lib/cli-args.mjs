// Command-line options shared by run.mjs and client.mjs.

export function positiveInt(arg, v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${arg}: a positive integer is required`);
  return n;
}

/**
 * Parses --quick, --no-build, --keep-temp, --only=…, --reps=N and --help, plus the entry point's own
 * boolean `flags` ({ '--profile': 'profile' }) and positive-integer `ints` ({ '--seconds=': 'seconds' }).
 */
export function parseArgs(argv, { metrics, usage, flags = {}, ints = {} }) {
  const o = { quick: false, build: true, only: new Set(metrics), keepTemp: false };
  for (const key of Object.values(flags)) o[key] = false;
  const intOptions = Object.entries({ '--reps=': 'reps', ...ints });
  for (const a of argv) {
    const int = intOptions.find(([prefix]) => a.startsWith(prefix));
    if (a === '--quick') o.quick = true;
    else if (a === '--no-build') o.build = false;
    else if (a === '--keep-temp') o.keepTemp = true;
    else if (Object.hasOwn(flags, a)) o[flags[a]] = true;
    else if (a.startsWith('--only=')) {
      o.only = new Set(a.slice(7).split(',').filter(Boolean));
      for (const m of o.only)
        if (!metrics.includes(m)) throw new Error(`unknown metric "${m}" in --only\n${usage}`);
    } else if (int) o[int[1]] = positiveInt(a, a.slice(int[0].length));
    else if (a === '--help' || a === '-h') {
      console.log(usage);
      process.exit(0);
    } else throw new Error(`unknown argument "${a}"\n${usage}`);
  }
  return o;
}
