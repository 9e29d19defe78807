/**
 * Run inside a network namespace whose two veth ends, A and B, have link-local addresses (see
 * test/e2e/link-local.test.ts): Ferry listens on A's address, a client on B logs in and asks for
 * an active-mode RETR to its own link-local address, which EPRT cannot give a zone. Prints one
 * JSON line: the replies, and where the data connection came from.
 * argv: serverAddress%ifA clientAddress ifB
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { secureLogin } from './ftps-session.js';
import { startFerry } from './ferry.js';

const [serverAt = '', client = '', ifB = ''] = process.argv.slice(2);
const server = serverAt.slice(0, serverAt.indexOf('%'));
const ts = await startFerry({ explicit: { host: serverAt, port: 0 }, implicit: false });
const out: { eprt?: number; replies: string[]; from?: string; body?: string } = { replies: [] };
try {
  await writeFile(path.join(ts.root, 'file.txt'), 'over a link-local address\n');
  const ftp = await secureLogin({
    host: `${server}%${ifB}`,
    port: ts.explicitPort,
    implicit: false,
    user: ts.user,
    password: ts.password,
    from: `${client}%${ifB}`,
  });
  try {
    const listener = await ftp.listenActive({ tls: true, on: `${client}%${ifB}` });
    out.eprt = (await ftp.cmd(`EPRT |2|${client}|${listener.port}|`)).code;
    ftp.send('RETR file.txt');
    const first = await ftp.expect();
    out.replies.push(`${first.code}`);
    if (first.code === 150) {
      const accepted = listener.accept().then(async (conn) => {
        out.from = conn.raw.remoteAddress;
        out.body = (await ftp.readAll(conn)).toString();
      });
      accepted.catch(() => {}); // no connection comes when the transfer fails
      const last = await ftp.expect();
      out.replies.push(`${last.code} ${last.lines.join(' ')}`);
      if (last.code === 226) await accepted;
    }
    await listener.close();
  } finally {
    await ftp.close();
  }
} finally {
  await ts.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
