// A minimal implicit-FTPS control client (node:tls + a small reply reader), used against both servers
// so that client overhead is identical: connect, greeting, USER/PASS, QUIT. No data connections.
import tls from 'node:tls';

/** Incremental RFC 959 reply reader: multi-line `ddd-` … `ddd ` replies, chunk-tolerant. */
export class ReplyReader {
  #partial = '';
  #code = undefined;
  #lines = [];

  /** Feeds text; returns the replies completed by it ({ code, text }). */
  push(text) {
    const out = [];
    const parts = (this.#partial + text).split('\n');
    this.#partial = parts.pop() ?? '';
    for (let line of parts) {
      if (line.endsWith('\r')) line = line.slice(0, -1);
      this.#lines.push(line);
      const m = /^(\d{3})([ -]|$)/.exec(line);
      if (this.#code === undefined) {
        if (!m) {
          this.#lines = [];
          continue; // noise outside a reply
        }
        if (m[2] === '-') {
          this.#code = m[1];
          continue;
        }
      } else if (!(m && m[1] === this.#code && m[2] !== '-')) {
        continue;
      }
      out.push({ code: Number(m[1]), text: this.#lines.join('\n') });
      this.#lines = [];
      this.#code = undefined;
    }
    return out;
  }
}

export class FtpError extends Error {}

/** One implicit FTPS control connection. Every wait is bounded by `timeoutMs`. */
export class ImplicitSession {
  #socket;
  #reader = new ReplyReader();
  #replies = [];
  #waiters = [];
  #closed;
  #error;
  timeoutMs;

  constructor(socket, timeoutMs) {
    this.#socket = socket;
    this.timeoutMs = timeoutMs;
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      for (const r of this.#reader.push(chunk)) {
        const w = this.#waiters.shift();
        if (w) w.resolve(r);
        else this.#replies.push(r);
      }
    });
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', (err) => {
      this.#error ??= err;
    });
    socket.once('close', () => {
      const err = new FtpError(`connection closed${this.#error ? ': ' + this.#error.message : ''}`);
      for (const w of this.#waiters.splice(0)) w.reject(err);
    });
  }

  /** TLS from the first byte, then the 220 greeting. */
  static async connect({ host, port, tlsOptions = {}, timeoutMs = 15_000 }) {
    const socket = tls.connect({ host, port, rejectUnauthorized: false, ...tlsOptions });
    const session = new ImplicitSession(socket, timeoutMs);
    try {
      await session.#bounded(
        new Promise((resolve, reject) => {
          socket.once('secureConnect', resolve);
          socket.once('error', reject);
          socket.once('close', () => reject(new FtpError('closed during the TLS handshake')));
        }),
        'TLS handshake',
      );
      const greeting = await session.#next('greeting');
      if (greeting.code !== 220) throw new FtpError(`greeting: ${greeting.text}`);
      return session;
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  get tlsInfo() {
    return { protocol: this.#socket.getProtocol(), cipher: this.#socket.getCipher()?.name };
  }

  #bounded(promise, what) {
    let timer;
    return Promise.race([
      promise,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new FtpError(`${what}: no answer within ${this.timeoutMs} ms`)),
          this.timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  #next(what) {
    const ready = this.#replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#socket.destroyed) return Promise.reject(new FtpError(`${what}: connection closed`));
    let waiter;
    const p = new Promise((resolve, reject) => {
      waiter = { resolve, reject };
      this.#waiters.push(waiter);
    });
    return this.#bounded(p, what).catch((err) => {
      // a timed-out waiter must not swallow a later reply
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      throw err;
    });
  }

  async command(line, expect) {
    this.#socket.write(line + '\r\n');
    const verb = line.split(' ')[0];
    const r = await this.#next(verb);
    if (expect !== undefined && r.code !== expect) {
      throw new FtpError(`${verb}: expected ${expect}, got ${r.text.replace(/\n/g, ' | ')}`);
    }
    return r;
  }

  async login(user, password) {
    const r = await this.command(`USER ${user}`);
    if (r.code === 230) return;
    if (r.code !== 331) throw new FtpError(`USER: ${r.text}`);
    await this.command(`PASS ${password}`, 230);
  }

  /** QUIT, 221, then close our side and wait (bounded) until the connection is closed. */
  async quit() {
    await this.command('QUIT', 221);
    this.#socket.end();
    await this.#bounded(this.#closed, 'close after QUIT');
  }

  destroy() {
    this.#socket.destroy();
  }
}
