import { createRequire } from 'node:module';
import type cliProgress from 'cli-progress';
import { TransferRate } from './transfer-rate.js';

/**
 * cli-progress (and the string-width modules under it) is loaded by the first terminal reporter:
 * ~20 ms of CPU that a command whose stderr is no terminal (scripts, cron, pipes) would pay for
 * nothing. It is CommonJS, so the constructor can load it synchronously.
 */
const loadCliProgress = (): typeof cliProgress =>
  createRequire(import.meta.url)('cli-progress') as typeof cliProgress;

/**
 * Progress bars for transfers on stderr (bytes, rate, ETA), only when stderr is a terminal and
 * --quiet is off; otherwise transfers are silent and notes go to stderr as plain lines. A finished
 * transfer leaves its last line on screen (100 %, size, average rate, time), as curl and scp do;
 * the live bars below it go on.
 */

export interface TransferBar {
  update(bytes: number, total: number | undefined): void;
  /** Ends the bar (the transfer ended, well or not): its final line stays on screen. */
  done(): void;
}

export interface Reporter {
  /** A bar for one transfer (or a batch: a label computed at each redraw, e.g. `3/10 files`). */
  bar(label: string | (() => string), total: number | undefined): TransferBar;
  /** A line for the user (suppressed by --quiet). */
  note(text: string): void;
  /** Stops all bars (before printing an error or exiting). */
  stop(): void;
}

/** A terminal to draw on: stderr, or a stand-in in tests. */
export type TerminalStream = NodeJS.WritableStream & { readonly isTTY?: boolean };

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

export function humanSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor(t / 60) % 60).padStart(2, '0')}m`;
}

function shorten(label: string, max = 32): string {
  return label.length <= max ? label.padEnd(max) : `…${label.slice(-(max - 1))}`;
}

const BAR_WIDTH = 24;

/** What a transfer's line shows. */
export interface TransferState {
  readonly label: string;
  readonly bytes: number;
  readonly total: number | undefined;
  readonly elapsedMs: number;
  /** Seconds left (live lines only). */
  readonly etaSeconds?: number;
  /**
   * The rate now (live lines only: transfer-rate.ts), undefined until known. The bytes over the
   * time since the bar appeared counted the handshakes before the first byte (5.75 KiB/s shown
   * of 122 KiB/s over a long link); the last line shows that average, as curl does.
   */
  readonly bytesPerSecond?: number;
  readonly finished: boolean;
}

/**
 * One transfer's line: `name [████░░░░] 50% | 1.00 MiB/2.00 MiB | 4.00 MiB/s | ETA 1s` while it
 * runs; the last one shows the elapsed time instead of the ETA.
 */
export function transferLine(t: TransferState): string {
  const secs = Math.max(t.elapsedMs / 1000, 0.001);
  const now = t.bytesPerSecond === undefined ? '? B' : humanBytes(Math.round(t.bytesPerSecond));
  const speed = t.finished ? `${humanBytes(Math.round(t.bytes / secs))}/s` : `${now}/s`;
  const tail = t.finished ? humanSeconds(t.elapsedMs / 1000) : `ETA ${humanSeconds(t.etaSeconds ?? NaN)}`;
  if (t.total === undefined || t.total <= 0) {
    return `${shorten(t.label)} ${humanBytes(t.bytes)} | ${speed}${t.finished ? ` | ${tail}` : ''}`;
  }
  const progress = Math.min(Math.max(t.bytes / t.total, 0), 1);
  const full = Math.round(progress * BAR_WIDTH);
  const bar = '\u2588'.repeat(full) + '\u2591'.repeat(BAR_WIDTH - full);
  const pct = String(Math.floor(progress * 100)).padStart(3);
  return `${shorten(t.label)} [${bar}] ${pct}% | ${humanBytes(t.bytes)}/${humanBytes(t.total)} | ${speed} | ${tail}`;
}

interface BarPayload {
  state: () => TransferState;
}

export class TerminalReporter implements Reporter {
  private readonly multi: cliProgress.MultiBar;
  /** Whether the multi-bar is drawing (it starts with the first bar and writes notes in between). */
  private drawing = false;

  constructor(private readonly stream: TerminalStream) {
    this.multi = new (loadCliProgress().MultiBar)({
      stream,
      hideCursor: true,
      clearOnComplete: true,
      fps: 8,
      autopadding: true,
      // The ETA is the bar's own (transfer-rate.ts), not cli-progress's per-update one.
      format: (_options, _params, payload: BarPayload) => transferLine(payload.state()),
    });
  }

  bar(label: string | (() => string), total: number | undefined): TransferBar {
    const started = Date.now();
    let bytes = 0;
    let size = total;
    let finished = false;
    const rate = new TransferRate();
    const state = (): TransferState => ({
      label: typeof label === 'string' ? label : label(),
      bytes,
      total: size,
      elapsedMs: Date.now() - started,
      etaSeconds: rate.etaSeconds(size),
      bytesPerSecond: rate.rate(),
      finished,
    });
    const known = (t: number | undefined): t is number => t !== undefined && t > 0;
    const payload: BarPayload = { state };
    const b = this.multi.create(known(total) ? total : 1, 0, payload);
    this.drawing = true;
    return {
      update: (n, t) => {
        if (finished) return;
        bytes = n;
        rate.add(Date.now(), n);
        if (known(t) && t !== size) {
          size = t;
          b.setTotal(t);
        }
        b.update(known(size) ? n : 0, payload);
      },
      done: () => {
        if (finished) return;
        finished = true;
        b.stop();
        // The final line goes above the live bars, for good; remove() redraws and writes it.
        this.multi.log(`${transferLine(state())}\n`);
        this.multi.remove(b);
      },
    };
  }

  note(text: string): void {
    // The multi-bar writes its log on its next redraw, which only comes while it is drawing.
    if (this.drawing) this.multi.log(`${text}\n`);
    else this.stream.write(`${text}\n`);
  }

  stop(): void {
    if (!this.drawing) return;
    this.drawing = false;
    this.multi.update(); // writes pending notes
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
  return !opts.quiet && process.stderr.isTTY
    ? new TerminalReporter(process.stderr)
    : new PlainReporter(opts.quiet);
}
