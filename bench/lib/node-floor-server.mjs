// The least a Node.js FTPS server keeps per idle logged-in session: the floor under any Node
// server's memory (scaling.mjs's `node-floor`). Explicit FTPS (AUTH TLS on the TCP socket, as
// Ferry's sessions in that bench), the harness's certificate, TLS defaults as `ferry serve` (1.2 and
// 1.3); after login it only answers NOOP and QUIT. No files, no data connections, no limits: it is a
// measuring stick, never a server to run.
// Arguments: PORT CERT KEY. Prints "listening PORT" once ready.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const [port, certFile, keyFile] = process.argv.slice(2);
const context = tls.createSecureContext({ cert: readFileSync(certFile), key: readFileSync(keyFile) });

/** Calls `onLine` for each CRLF-terminated line read from `sock`; returns how to stop. */
function lines(sock, onLine) {
  let pending = '';
  const onData = (d) => {
    pending += d.toString('latin1');
    for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
      const line = pending.slice(0, i).replace(/\r$/, '');
      pending = pending.slice(i + 1);
      onLine(line);
    }
  };
  sock.on('data', onData);
  return () => sock.off('data', onData);
}

const answer = {
  USER: '331 Password required.',
  PASS: '230 Logged in.',
  NOOP: '200 OK.',
  PBSZ: '200 PBSZ=0',
  PROT: '200 PROT P',
};

function secured(sock) {
  lines(sock, (line) => {
    const verb = line.split(' ')[0].toUpperCase();
    if (verb === 'QUIT') return sock.end('221 Bye.\r\n');
    sock.write(`${answer[verb] ?? '502 Not implemented.'}\r\n`);
  });
  sock.on('error', () => sock.destroy());
}

const server = net.createServer((raw) => {
  raw.on('error', () => raw.destroy());
  raw.write('220 node-floor\r\n');
  const stop = lines(raw, (line) => {
    if (!/^AUTH TLS$/i.test(line)) return raw.write('530 AUTH TLS first.\r\n');
    stop();
    raw.write('234 AUTH TLS OK.\r\n');
    secured(new tls.TLSSocket(raw, { isServer: true, secureContext: context }));
  });
});
server.listen(Number(port), '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.once('SIGTERM', () => process.exit(0));
