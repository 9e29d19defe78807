import cliProgress from 'cli-progress';

/**
 * Progress bars for transfers on stderr (bytes, rate, ETA), only when stderr is a terminal and
 * --quiet is off; otherwise transfers are silent and notes go to stderr as plain lines.
 */

export interface TransferBar {
  update(bytes: number, total: number | undefined): void;
  /** Removes the bar (the transfer ended, well or not). */
  done(): void;
}

export interface Reporter {
  /** A bar for one transfer. */
  bar(label: string, total: number | undefined): TransferBar;
  /** A line for the user (suppressed by --quiet). */
  note(text: string): void;
  /** Stops all bars (before printing an error or exiting). */
  stop(): void;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function humanBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} ${UNITS[0]}` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[u]}`;
}

function shorten(label: string, max = 32): string {
  return label.length <= max ? label.padEnd(max) : `…${label.slice(-(max - 1))}`;
}

class TerminalReporter implements Reporter {
  private readonly multi = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      fps: 8,
      barsize: 24,
      autopadding: true,
    },
    cliProgress.Presets.shades_classic,
  );

  bar(label: string, total: number | undefined): TransferBar {
    const started = Date.now();
    const known = total !== undefined && total > 0;
    const format = known
      ? '{name} [{bar}] {percentage}% | {done}/{size} | {speed} | ETA {eta_formatted}'
      : '{name} {done} | {speed}';
    const payload = (bytes: number, t: number | undefined): Record<string, string> => {
      const secs = Math.max((Date.now() - started) / 1000, 0.001);
      return {
        name: shorten(label),
        done: humanBytes(bytes),
        size: t !== undefined ? humanBytes(t) : '?',
        speed: `${humanBytes(Math.round(bytes / secs))}/s`,
      };
    };
    const b = this.multi.create(known ? total : 1, 0, payload(0, total), { format });
    let finished = false;
    return {
      update: (bytes, t) => {
        if (finished) return;
        if (t !== undefined && t > 0 && t !== b.getTotal()) b.setTotal(t);
        b.update(known ? bytes : 0, payload(bytes, t));
      },
      done: () => {
        if (finished) return;
        finished = true;
        b.stop();
        this.multi.remove(b);
      },
    };
  }

  note(text: string): void {
    this.multi.log(`${text}\n`);
  }

  stop(): void {
    this.multi.stop();
  }
}

class PlainReporter implements Reporter {
  constructor(private readonly quiet: boolean) {}
  bar(): TransferBar {
    return { update: () => {}, done: () => {} };
  }
  note(text: string): void {
    if (!this.quiet) process.stderr.write(`${text}\n`);
  }
  stop(): void {}
}

export function createReporter(opts: { quiet: boolean }): Reporter {
  return !opts.quiet && process.stderr.isTTY ? new TerminalReporter() : new PlainReporter(opts.quiet);
}
