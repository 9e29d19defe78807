import { randomBytes } from 'node:crypto';
import { Code } from '../../protocol/codes.js';
import { isPositiveCompletion } from '../../protocol/reply.js';
import { joinRemote } from '../url.js';
import { ProbeState, brief, type ProbeConnection, type ProbeTarget } from './connection.js';
import { check, notApplicable, notCompleted, protectedSession } from './context.js';
import { describeOutcome, exchange, succeeded, type DataOutcome, type DataPlan } from './data.js';
import { HOLD_MIN_SIZE } from './features.js';
import { point, type ProbePoint } from './types.js';

/**
 * The checks that write (only with `--write DIR`): an upload cut with a bare TCP FIN, REST + STOR,
 * and an upload that replaces a file. Every file is named `ferry-probe-<random>-…` inside DIR and
 * deleted afterwards; `cleanup()` checks that none is left, `cleanUpWithin()` bounds it in time.
 */

const NEED_WRITE = 'needs --write DIR';

export interface WriteResults {
  readonly truncation: ProbePoint;
  readonly restStor: ProbePoint;
  readonly replace: ProbePoint;
}

export function writeNotApplicable(): WriteResults {
  return {
    truncation: notApplicable(
      'upload-truncation-detected',
      'Upload cut with a bare FIN (no close_notify) reported as failed',
      NEED_WRITE,
    ),
    restStor: notApplicable('rest-stor', 'REST + STOR (resumed upload)', NEED_WRITE),
    replace: notApplicable('replace', 'Upload replacing a file', NEED_WRITE),
  };
}

/**
 * Why an upload never reached the server: its data connection or the STOR itself was refused
 * before any data (e.g. 550 for a missing directory). Nothing was written, nothing can be judged.
 */
function refusedUpload(o: DataOutcome): string | undefined {
  if (o.uploadStarted) return undefined;
  if (o.endpointRefused) return `no data connection for the upload: ${brief(o.endpointRefused)}`;
  if (!o.preliminary && o.final && !isPositiveCompletion(o.final)) return `upload refused: ${brief(o.final)}`;
  return undefined;
}

export class WriteArea {
  private readonly prefix = `ferry-probe-${randomBytes(6).toString('hex')}`;
  /** What may be on the server: every upload not refused, until its DELE or a listing says it is gone. */
  private readonly created = new Set<string>();

  constructor(
    private readonly t: ProbeTarget,
    readonly dir: string,
  ) {}

  private name(what: string): string {
    return joinRemote(this.dir, `${this.prefix}-${what}`);
  }

  private tlsPlan(c: ProbeConnection): DataPlan['tls'] {
    return this.t.security === 'none' ? false : { session: c.control.dataSession() };
  }

  private async put(
    c: ProbeConnection,
    name: string,
    data: Buffer,
    end: 'close-notify' | 'bare-fin' = 'close-notify',
  ): Promise<DataOutcome> {
    // Recorded before it starts (an interruption may come while it runs, or the exchange may throw
    // having made it); forgotten only when refused before any data and not made before.
    const made = this.created.has(name);
    this.created.add(name);
    const o = await exchange(c, { command: `STOR ${name}`, tls: this.tlsPlan(c), upload: { data, end } });
    if (refusedUpload(o) !== undefined && !made) this.created.delete(name);
    return o;
  }

  private async get(c: ProbeConnection, name: string): Promise<Buffer | undefined> {
    const o = await exchange(c, { command: `RETR ${name}`, tls: this.tlsPlan(c) });
    return succeeded(o) ? o.data : undefined;
  }

  /** Why bigFile() made no file, when the server refused its upload (the ABOR and STAT points say it). */
  bigRefused: string | undefined;

  /** A large file for ABOR and STAT when the login directory has none. */
  async bigFile(): Promise<string | undefined> {
    // Refused (the ABOR and STAT points then say why) or failed: no big file.
    const c = await protectedSession(this.t).catch(() => undefined);
    if (!c) return undefined;
    try {
      const name = this.name('big.bin');
      const o = await this.put(c, name, randomBytes(2 * HOLD_MIN_SIZE));
      this.bigRefused = refusedUpload(o);
      return succeeded(o) ? name : undefined;
    } finally {
      await c.close();
    }
  }

  async run(): Promise<WriteResults> {
    return {
      truncation: await this.truncation(),
      restStor: await this.restStor(),
      replace: await this.replace(),
    };
  }

  private async truncation(): Promise<ProbePoint> {
    const id = 'upload-truncation-detected';
    const title = 'Upload cut with a bare FIN (no close_notify) reported as failed';
    const sent = 'STOR 256 KiB over TLS, then TCP FIN without close_notify';
    if (this.t.security === 'none') return notApplicable(id, title, 'needs TLS (ftps:// or ftpes://)');
    return check(this.t, id, title, sent, async () => {
      const c = await protectedSession(this.t);
      try {
        const name = this.name('cut.bin');
        const o = await this.put(c, name, randomBytes(256 * 1024), 'bare-fin');
        const reported = o.final !== undefined && isPositiveCompletion(o.final);
        // Judged only when it really was cut: a 1xx, then bytes sent (a 2xx after bytes fails all the same).
        if (!(o.uploadStarted && (o.preliminary || reported)))
          return notCompleted(
            id,
            title,
            sent,
            refusedUpload(o) ?? `the upload did not run (no 1xx, or no data sent): ${describeOutcome(o)}`,
          );
        if (!o.final)
          return point(
            id,
            title,
            sent,
            describeOutcome(o),
            'pass',
            `no reply within ${this.t.timeoutMs} ms: the server did not report success (it waits for a close_notify)`,
          );
        const size = await c.request(`SIZE ${name}`);
        const kept = size.code === Code.FileStatus ? `; SIZE ${brief(size).slice(4)}` : '';
        return point(
          id,
          title,
          sent,
          `${describeOutcome(o)}${kept}`,
          reported ? 'fail' : 'pass',
          reported
            ? 'silent truncation: a cut upload is reported as complete (RFC 4217 10.1 / TLS close_notify)'
            : undefined,
        );
      } finally {
        await c.close();
      }
    });
  }

  private async restStor(): Promise<ProbePoint> {
    const id = 'rest-stor';
    const title = 'REST + STOR (resumed upload)';
    const sent = 'STOR 1000 bytes; REST 500; STOR 500 bytes; RETR';
    return check(this.t, id, title, sent, async () => {
      const c = await protectedSession(this.t);
      try {
        const name = this.name('rest.bin');
        const a = randomBytes(1000);
        const b = randomBytes(500);
        const first = await this.put(c, name, a);
        const refused = refusedUpload(first);
        if (refused !== undefined) return notCompleted(id, title, sent, refused);
        if (!succeeded(first))
          return point(id, title, sent, describeOutcome(first), 'fail', 'the first upload failed');
        const rest = await c.request('REST 500');
        if (rest.code !== Code.PendingFurtherInfo)
          return point(id, title, sent, brief(rest), 'not-supported');
        const second = await this.put(c, name, b);
        if (!succeeded(second))
          return point(
            id,
            title,
            sent,
            `${brief(rest)}; ${describeOutcome(second)}`,
            'not-supported',
            'STOR after REST refused',
          );
        const got = await this.get(c, name);
        const ok = got !== undefined && got.equals(Buffer.concat([a.subarray(0, 500), b]));
        return point(
          id,
          title,
          sent,
          `${brief(rest)}; ${brief(second.final)}; ${got ? `${got.length} bytes read back` : 'RETR failed'}`,
          ok ? 'pass' : 'fail',
          ok ? undefined : 'the file is not the first 500 bytes followed by the second upload',
        );
      } finally {
        await c.close();
      }
    });
  }

  private async replace(): Promise<ProbePoint> {
    const id = 'replace';
    const title = 'Upload replacing a file';
    const sent = 'STOR 1000 bytes; STOR 300 other bytes to the same name; RETR';
    return check(this.t, id, title, sent, async () => {
      const c = await protectedSession(this.t);
      try {
        const name = this.name('replace.bin');
        const first = await this.put(c, name, randomBytes(1000));
        const refused = refusedUpload(first);
        if (refused !== undefined) return notCompleted(id, title, sent, refused);
        if (!succeeded(first))
          return point(id, title, sent, describeOutcome(first), 'fail', 'the first upload failed');
        const y = randomBytes(300);
        const second = await this.put(c, name, y);
        if (!succeeded(second))
          return point(id, title, sent, describeOutcome(second), 'not-supported', 'overwriting refused');
        const got = await this.get(c, name);
        const ok = got !== undefined && got.equals(y);
        return point(
          id,
          title,
          sent,
          `${brief(second.final)}; ${got ? `${got.length} bytes read back` : 'RETR failed'}`,
          ok ? 'pass' : 'fail',
          ok ? undefined : 'the file is not exactly the second upload',
        );
      } finally {
        await c.close();
      }
    });
  }

  /**
   * Deletes every file the probe made; true when none is left in DIR. It has a state of its own:
   * what was made must go even after the server refused the probe midway. `signal` aborts it.
   */
  async cleanup(signal = this.t.signal): Promise<boolean> {
    if (this.created.size === 0) return true; // every upload was refused: nothing to look for
    const t: ProbeTarget = { ...this.t, state: new ProbeState(), signal };
    const c = await protectedSession(t).catch(() => undefined);
    if (!c) return false; // refused: whether files are left cannot be known
    try {
      // Twice at most: an upload cut by an interruption may end on the server after its DELE.
      for (let round = 0; round < 2; round++) {
        for (const name of [...this.created])
          if (isPositiveCompletion(await c.request(`DELE ${name}`))) this.created.delete(name);
        const o = await exchange(c, { command: `NLST ${this.dir}`, tls: this.tlsPlan(c) });
        if (!succeeded(o)) return false;
        this.created.clear(); // what is left is what the listing shows
        for (const line of o.data.toString('utf8').split(/\r?\n/))
          if (line.includes(this.prefix))
            this.created.add(joinRemote(this.dir, line.slice(line.lastIndexOf('/') + 1)));
        if (this.created.size === 0) return true;
      }
      return false;
    } finally {
      await c.close();
    }
  }

  /**
   * cleanup() after an interruption, given at most `ms` (a server that does not answer must not keep
   * the user waiting): the names that may still be on the server.
   */
  async cleanUpWithin(ms: number): Promise<string[]> {
    const stop = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        stop.abort();
        resolve();
      }, ms);
    });
    try {
      await Promise.race([this.cleanup(stop.signal).catch(() => false), late]);
    } finally {
      clearTimeout(timer);
    }
    return this.left;
  }

  /** The files that may be on the server now: made and not yet known to be deleted. */
  get left(): string[] {
    return [...this.created];
  }
}
