/**
 * Free ports for the servers the tests start. A port is only known free when it was chosen: each
 * helper holds all it picks at once, so that one call never returns the same port twice.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';

const HOST = '127.0.0.1';

/** A port that was free a moment ago (bind to port 0, read it, release it). */
export async function freePort(): Promise<number> {
  const [port] = (await freePorts(1)) as [number];
  return port;
}

/**
 * `n` different ports free on 127.0.0.1 a moment ago: all held at once while they are chosen, as a
 * port just closed can be the kernel's next choice (a monitor given the same port twice failed to start).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => net.createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.once('error', reject);
            server.listen(0, HOST, () => {
              const address = server.address();
              if (address === null || typeof address === 'string')
                reject(new Error('freePorts: no TCP address'));
              else resolve(address.port);
            });
          }),
      ),
    );
  } finally {
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())),
      ),
    );
  }
}

/** A port free on every one of `hosts` (checked by binding it), for a frontend. */
export async function freePortOn(hosts: readonly string[]): Promise<number> {
  return (await freeRangeOn(1, hosts)).min;
}

/**
 * `n` consecutive ports free on every one of `hosts`, checked by binding them in a child process:
 * a closed listener stays among this process's active resources until it is garbage-collected,
 * which would upset the e2e leak checks. Chosen below the kernel's ephemeral range (ip_local_port_range, 32768–60999 here):
 * between this probe and the server's bind, any listen(0) or outgoing connection of the tests
 * running beside could otherwise take one (HAProxy once failed to start so).
 */
export async function freeRangeOn(
  n: number,
  hosts: readonly string[],
): Promise<{ min: number; max: number }> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', PROBE, String(n), ...hosts]);
  return JSON.parse(stdout) as { min: number; max: number };
}

const run = promisify(execFile);

const PROBE = `
const [n, ...hosts] = process.argv.slice(1);
let ephemeralLow = 32768;
try {
  ephemeralLow = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/[^0-9]+/)[0]) || ephemeralLow;
} catch {}
const bind = (host, port) => new Promise((resolve, reject) => {
  const s = net.createServer();
  s.once('error', reject);
  s.listen({ host, port, exclusive: true }, () => resolve(s));
});
for (let attempt = 0; attempt < 50; attempt++) {
  const min = 10000 + Math.floor(Math.random() * (ephemeralLow - 10000 - Number(n)));
  const servers = [];
  try {
    for (let p = min; p < min + Number(n); p++) for (const h of hosts) servers.push(await bind(h, p));
    console.log(JSON.stringify({ min, max: min + Number(n) - 1 }));
    process.exit(0);
  } catch {
    for (const s of servers) s.close();
  }
}
process.exit(1);
`;
