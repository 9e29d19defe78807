// The least a Node.js FTPS server does for each row of `npm run bench` (compare.mjs's `node-floor`
// column): implicit FTPS over node:tls with Ferry's TLS defaults, one process, the harness's data/
// as its root, and nothing Ferry adds: no path jail, no limits, no logs, no accounts file, no
// atomic replace, no truncation check (a bare FIN ends an upload as well as close_notify), no
// cluster. Each operation is done the cheapest plain way Node offers: files streamed in 1 MiB
// reads, uploads written and fdatasync'ed before the 226 (as Ferry), listings read with
// readdirSync + lstatSync (as Pure-FTPd does in C), data connections resuming the control
// connection's TLS session through the shared ticket keys. With WORKERS > 1 it runs as Ferry's
// default does: a node:cluster primary handing connections to WORKERS processes, each with its
// own passive listeners. It is a measuring stick, never a server to run.
// Arguments: PORT CERT KEY ROOT [WORKERS]. Prints "listening PORT" once ready.
import cluster from 'node:cluster';
import fs, { createReadStream, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import tls from 'node:tls';
import { promisify } from 'node:util';

const [port, certFile, keyFile, root, workersArg = '1'] = process.argv.slice(2);
const workers = Number(workersArg);
const context = tls.createSecureContext({
  cert: readFileSync(certFile),
  key: readFileSync(keyFile),
  minVersion: 'TLSv1.2',
});
const MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ');

/** Calls `onLine` for each CRLF-terminated line read from `sock`. */
function lines(sock, onLine) {
  let pending = '';
  sock.on('data', (d) => {
    pending += d.toString('utf8');
    for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
      const line = pending.slice(0, i).replace(/\r$/, '');
      pending = pending.slice(i + 1);
      onLine(line);
    }
  });
}

function lsLine(name, st) {
  const d = st.mtime;
  const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : '-';
  const perms = (st.mode & 0o777).toString(8);
  return `${type}${perms} 1 ftp ftp ${st.size} ${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()} ${d.getUTCFullYear()} ${name}\r\n`;
}

function mlsdLine(name, st) {
  const type = st.isDirectory() ? 'dir' : 'file';
  const t = st.mtime.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `type=${type};size=${st.size};modify=${t};unix.mode=0${(st.mode & 0o777).toString(8)}; ${name}\r\n`;
}

/** A listing as one string: readdirSync + lstatSync, the whole directory at once. */
function listing(dir, verb) {
  const names = readdirSync(dir);
  if (verb === 'NLST') return names.map((n) => `${n}\r\n`).join('');
  const format = verb === 'MLSD' ? mlsdLine : lsLine;
  let out = '';
  for (const n of names) out += format(n, lstatSync(path.join(dir, n)));
  return out;
}

function session(control) {
  let cwd = '/';
  let prot = 'C';
  let passive; // { server, socket: Promise<net.Socket> }
  const reply = (text) => control.write(`${text}\r\n`);
  const local = (arg) => path.join(root, path.posix.resolve(cwd, arg || '.'));

  function epsv() {
    passive?.server.close();
    const server = net.createServer({ pauseOnConnect: true, noDelay: true });
    const socket = new Promise((resolve) => server.once('connection', resolve));
    passive = { server, socket };
    // exclusive: a worker's own port, never one shared through the cluster primary.
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () =>
      reply(`229 Entering Extended Passive Mode (|||${server.address().port}|)`),
    );
  }

  /** Runs `work` on the next data connection (TLS under PROT P), then the 226. */
  async function transfer(work) {
    if (!passive) return reply('425 Use EPSV first.');
    const { server, socket } = passive;
    passive = undefined;
    reply('150 Opening data connection.');
    const raw = await socket;
    server.close();
    const data = prot === 'P' ? new tls.TLSSocket(raw, { isServer: true, secureContext: context }) : raw;
    raw.resume();
    try {
      await work(data);
      reply('226 Transfer complete.');
    } catch (err) {
      data.destroy();
      reply(`451 ${err.message}`);
    }
  }

  const send = (text) => (data) =>
    new Promise((resolve, reject) => {
      data.once('error', reject);
      data.end(text, resolve);
    });

  const commands = {
    USER: () => reply('331 Password required.'),
    PASS: () => reply('230 Logged in.'),
    PBSZ: () => reply('200 PBSZ=0'),
    PROT: (arg) => {
      prot = arg.toUpperCase() === 'C' ? 'C' : 'P';
      reply(`200 PROT ${prot}`);
    },
    TYPE: () => reply('200 Binary.'),
    PWD: () => reply(`257 "${cwd}"`),
    CWD: (arg) => {
      cwd = path.posix.resolve(cwd, arg);
      reply('250 OK.');
    },
    SIZE: (arg) => reply(`213 ${lstatSync(local(arg)).size}`),
    EPSV: epsv,
    NOOP: () => reply('200 OK.'),
    DELE: (arg) => unlink(local(arg)).then(() => reply('250 Deleted.')),
    NLST: (arg) => transfer(send(listing(local(arg), 'NLST'))),
    LIST: (arg) => transfer(send(listing(local(arg), 'LIST'))),
    MLSD: (arg) => transfer(send(listing(local(arg), 'MLSD'))),
    RETR: (arg) =>
      transfer((data) => pipeline(createReadStream(local(arg), { highWaterMark: 1 << 20 }), data)),
    STOR: (arg) =>
      transfer(async (data) => {
        // A numeric fd: a FileHandle given to a write stream never settles its datasync().
        const fd = await promisify(fs.open)(local(arg), 'w');
        await pipeline(data, fs.createWriteStream('', { fd, autoClose: false, highWaterMark: 1 << 20 }));
        await promisify(fs.fdatasync)(fd);
        await promisify(fs.close)(fd);
      }),
    QUIT: () => control.end('221 Bye.\r\n'),
  };
  reply('220 node-floor');
  // One command at a time, as a server must (the next waits for a transfer's 226).
  let queue = Promise.resolve();
  lines(control, (line) => {
    const sp = line.indexOf(' ');
    const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
    const arg = sp < 0 ? '' : line.slice(sp + 1);
    queue = queue.then(async () => {
      const run = commands[verb];
      if (!run) return reply('502 Not implemented.');
      try {
        await run(arg);
      } catch (err) {
        reply(`550 ${err.message}`);
      }
    });
  });
  control.on('close', () => passive?.server.close());
}

const server = net.createServer({ noDelay: true }, (raw) => {
  raw.on('error', () => raw.destroy());
  const control = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
  control.once('secure', () => session(control));
  control.on('error', () => control.destroy());
});
if (workers > 1 && cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().once('listening', () => {
      if (++ready === workers) console.log(`listening ${port}`);
    });
  }
  process.once('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  server.listen(Number(port), '127.0.0.1', () => {
    if (cluster.isPrimary) console.log(`listening ${server.address().port}`);
  });
  process.once('SIGTERM', () => process.exit(0));
}
