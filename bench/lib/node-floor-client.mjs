// The least a Node.js program does to download or upload a file over FTPS: the floor under any Node
// client's CPU (client.mjs's `floor` metric). One control connection, PASV, one data connection
// resuming the control's TLS session; a download writes each decrypted chunk with writeSync as it
// arrives, an upload reads 1 MiB at a time with readSync and writes it to the TLS socket, waiting
// for 'drain' when it asks to; then close_notify. No stream piping, no progress, no checks beyond
// the reply codes.
// Arguments: one JSON object { host, port, security: 'explicit'|'implicit', user, password, caFile,
// remote, local, upload?: boolean }. Prints one JSON line: { bytes, seconds } or { error }.
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';

const cfg = JSON.parse(process.argv[2]);
const ca = readFileSync(cfg.caFile);
// The bench certificate names no host: the chain is verified, the name is not.
const tlsOptions = { ca, checkServerIdentity: () => undefined };

/** Reads replies from `sock` (final lines only: `ddd text`); `next()` resolves with the next one. */
function replies(sock) {
  let pending = '';
  const ready = [];
  const waiting = [];
  const onData = (d) => {
    pending += d;
    for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
      const line = pending.slice(0, i + 1);
      pending = pending.slice(i + 1);
      if (!/^\d{3} /.test(line)) continue;
      if (waiting.length) waiting.shift().resolve(line);
      else ready.push(line);
    }
  };
  const onEnd = () => {
    for (const w of waiting.splice(0)) w.reject(new Error('control connection closed'));
  };
  sock.setEncoding('latin1');
  sock.on('data', onData).on('end', onEnd).on('error', onEnd);
  return {
    next: () =>
      ready.length
        ? Promise.resolve(ready.shift())
        : new Promise((resolve, reject) => waiting.push({ resolve, reject })),
    detach: () => sock.off('data', onData).off('end', onEnd).off('error', onEnd),
  };
}

async function expect(r, code) {
  const line = await r.next();
  if (!line.startsWith(code)) throw new Error(`expected ${code}, got ${line.trim()}`);
  return line;
}

async function download(data, send, r) {
  const fd = openSync(cfg.local, 'w');
  let bytes = 0;
  data.on('data', (chunk) => {
    bytes += chunk.length;
    writeSync(fd, chunk);
  });
  const ended = new Promise((resolve, reject) => data.on('end', resolve).on('error', reject));
  await send(`RETR ${cfg.remote}`, '150');
  await ended;
  closeSync(fd);
  await expect(r, '226');
  return bytes;
}

async function upload(data, send, r) {
  const fd = openSync(cfg.local, 'r');
  const closed = new Promise((resolve, reject) => data.on('close', resolve).on('error', reject));
  data.resume(); // the server's session tickets, then its close
  await send(`STOR ${cfg.remote}`, '150');
  let bytes = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(1 << 20);
    const n = readSync(fd, chunk);
    if (n === 0) break;
    bytes += n;
    if (!data.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await once(data, 'drain');
  }
  closeSync(fd);
  data.end();
  await closed;
  await expect(r, '226');
  return bytes;
}

async function main() {
  const t0 = performance.now();
  let ctrl;
  let r;
  if (cfg.security === 'implicit') {
    ctrl = tls.connect({ host: cfg.host, port: cfg.port, ...tlsOptions });
    r = replies(ctrl);
    await expect(r, '220');
  } else {
    const raw = net.connect({ host: cfg.host, port: cfg.port });
    const clear = replies(raw);
    await expect(clear, '220');
    raw.write('AUTH TLS\r\n');
    await expect(clear, '234');
    clear.detach();
    raw.setEncoding(null);
    ctrl = tls.connect({ socket: raw, ...tlsOptions });
    r = replies(ctrl);
  }
  const send = (line, code) => {
    ctrl.write(`${line}\r\n`);
    return expect(r, code);
  };
  await send(`USER ${cfg.user}`, '331');
  await send(`PASS ${cfg.password}`, '230');
  await send('PBSZ 0', '200');
  await send('PROT P', '200');
  await send('TYPE I', '200');
  const pasv = await send('PASV', '227');
  const n = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(pasv).slice(1).map(Number);
  const data = tls.connect({
    host: cfg.host,
    port: n[4] * 256 + n[5],
    session: ctrl.getSession(),
    ...tlsOptions,
  });
  const bytes = cfg.upload ? await upload(data, send, r) : await download(data, send, r);
  const seconds = (performance.now() - t0) / 1000;
  ctrl.end('QUIT\r\n');
  data.destroy();
  return { bytes, seconds };
}

main().then(
  (out) => console.log(JSON.stringify(out)),
  (err) => {
    console.log(JSON.stringify({ error: err.message }));
    process.exitCode = 1;
  },
);
