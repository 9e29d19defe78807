import { randomBytes } from 'node:crypto';
import { Code } from '../../protocol/codes.js';
import { isPositiveCompletion } from '../../protocol/reply.js';
import { joinRemote } from '../url.js';
import { brief, type ProbeConnection } from './connection.js';
import { check, notApplicable, notCompleted, protectedSession, type ProbeContext } from './context.js';
import { describeOutcome, exchange, succeeded, type DataOutcome, type DataPlan } from './data.js';
import { HOLD_MIN_SIZE } from './features.js';
import { point, type ProbePoint } from './types.js';

/**
 * The checks that write (only with `--write DIR`): an upload cut with a bare TCP FIN, REST + STOR,
 * and an upload that replaces a file. Every file is named `ferry-probe-<random>-…` inside DIR and
 * deleted afterwards; `cleanup()` checks that none is left.
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
  private readonly created = new Set<string>();

  constructor(
    private readonly ctx: ProbeContext,
    readonly dir: string,
  ) {}

  private name(what: string): string {
    return joinRemote(this.dir, `${this.prefix}-${what}`);
  }

  private tlsPlan(c: ProbeConnection): DataPlan['tls'] {
    return this.ctx.t.security === 'none' ? false : { session: c.control.dataSession() };
  }

  private async put(
    c: ProbeConnection,
    name: string,
    data: Buffer,
    end: 'close-notify' | 'bare-fin' = 'close-notify',
  ): Promise<DataOutcome> {
    let o: DataOutcome | undefined;
    try {
      o = await exchange(c, { command: `STOR ${name}`, tls: this.tlsPlan(c), upload: { data, end } });
      return o;
    } finally {
      // Only what may exist is deleted and looked for afterwards (a thrown exchange may have made it).
      if (!o || refusedUpload(o) === undefined) this.created.add(name);
    }
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
    const c = await protectedSession(this.ctx.t).catch(() => undefined);
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
    if (this.ctx.t.security === 'none') return notApplicable(id, title, 'needs TLS (ftps:// or ftpes://)');
    return check(this.ctx.t, id, title, sent, async () => {
      const c = await protectedSession(this.ctx.t);
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
            `no reply within ${this.ctx.t.timeoutMs} ms: the server did not report success (it waits for a close_notify)`,
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
    return check(this.ctx.t, id, title, sent, async () => {
      const c = await protectedSession(this.ctx.t);
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
    return check(this.ctx.t, id, title, sent, async () => {
      const c = await protectedSession(this.ctx.t);
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

  /** Deletes every file the probe made; true when none is left in DIR. */
  async cleanup(): Promise<boolean> {
    if (this.created.size === 0) return true; // every upload was refused: nothing to look for
    const c = await protectedSession(this.ctx.t).catch(() => undefined);
    if (!c) return false; // refused: whether files are left cannot be known
    try {
      for (const name of this.created) await c.request(`DELE ${name}`);
      const o = await exchange(c, { command: `NLST ${this.dir}`, tls: this.tlsPlan(c) });
      if (!succeeded(o)) return false;
      return !o.data.toString('utf8').includes(this.prefix);
    } finally {
      await c.close();
    }
  }
}
