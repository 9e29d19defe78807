// vsftpd 3.0.3 (Debian package) for the benchmark: TLS required on control and data,
// require_ssl_reuse=YES, TLS capped at 1.2 through OPENSSL_CONF (as test/support/peers.ts does: with
// TLS 1.3, vsftpd 3.0.3 fails about half of curl's uploads), local user `ferrytest` (PAM service
// ferry-vsftpd with pam_userdb, set up by scripts/setup-peers.sh) chrooted to the benchmark's root.
// Each instance runs under lib/reaper.py (a child subreaper in its own process group).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { descendants, readStat, signal, stillSame, waitGone } from './procs.mjs';

export const VSFTPD = '/usr/sbin/vsftpd';
export const PYTHON = '/usr/bin/python3';
export const VSFTPD_LOGIN = {
  user: 'ferrytest',
  password: 'ferrytest-Pa55',
  pamFile: '/etc/pam.d/ferry-vsftpd',
};
const REAPER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'reaper.py');
const HOST = '127.0.0.1';

export function vsftpdOwner() {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === VSFTPD_LOGIN.user) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

/** Why vsftpd cannot run here, or undefined. */
export function vsftpdMissing() {
  if (process.getuid?.() !== 0) return 'the benchmark must run as root (vsftpd switches users)';
  if (!existsSync(VSFTPD)) return `${VSFTPD} not found`;
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  if (!existsSync(VSFTPD_LOGIN.pamFile)) return `PAM service ${VSFTPD_LOGIN.pamFile} not found`;
  if (!vsftpdOwner()) return `system user ${VSFTPD_LOGIN.user} not found`;
  return undefined;
}

export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves with the 220 greeting (implicit: after the TLS handshake); rejects otherwise. */
export function readGreeting(port, implicit, timeoutMs) {
  return new Promise((resolve, reject) => {
    let text = '';
    let done = false;
    const socket = implicit
      ? tls.connect({ host: HOST, port, rejectUnauthorized: false })
      : net.connect({ host: HOST, port });
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(text);
    };
    const timer = setTimeout(() => finish(new Error(`no greeting within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('latin1');
    socket.on('error', finish);
    socket.on('end', () => finish(new Error(`closed before a greeting (${JSON.stringify(text)})`)));
    socket.on('data', (chunk) => {
      text += chunk;
      const m = /(?:^|\n)(\d{3}) [^\n]*\n/.exec(text);
      if (!m) return;
      if (m[1] === '220') {
        socket.write('QUIT\r\n');
        finish();
      } else finish(new Error(`greeting is not 220: ${text.trim()}`));
    });
  });
}

async function writeTls12OpensslConf(file) {
  await writeFile(
    file,
    [
      'openssl_conf = bench_conf',
      '[bench_conf]',
      'ssl_conf = bench_ssl',
      '[bench_ssl]',
      'system_default = bench_tls',
      '[bench_tls]',
      'MaxProtocol = TLSv1.2',
      '',
    ].join('\n'),
  );
}

/**
 * Starts vsftpd on 127.0.0.1 (a free port) and resolves once it answers its greeting.
 * @param {{dir:string, root:string, certFile:string, keyFile:string, implicit:boolean, readyTimeoutMs?:number}} o
 */
export async function startVsftpd(o) {
  const mode = o.implicit ? 'implicit' : 'explicit';
  const emptyDir = path.join(o.dir, 'empty');
  await mkdir(emptyDir, { recursive: true, mode: 0o555 });
  const sslConf = path.join(o.dir, 'openssl-tls12.cnf');
  await writeTls12OpensslConf(sslConf);
  let lastError;
  for (let attempt = 1; attempt <= 4; attempt++) {
    const port = await freePort();
    const token = `ferry-bench-vsftpd-${randomBytes(6).toString('hex')}`;
    const configFile = path.join(o.dir, `vsftpd-${mode}.conf`);
    const settings = {
      listen: 'YES',
      listen_ipv6: 'NO',
      listen_address: HOST,
      listen_port: String(port),
      background: 'NO',
      ftpd_banner: token,
      anonymous_enable: 'NO',
      local_enable: 'YES',
      write_enable: 'YES',
      local_umask: '022',
      pam_service_name: 'ferry-vsftpd',
      userlist_enable: 'NO',
      local_root: o.root,
      chroot_local_user: 'YES',
      allow_writeable_chroot: 'YES',
      secure_chroot_dir: emptyDir,
      seccomp_sandbox: 'NO',
      isolate: 'NO',
      isolate_network: 'NO',
      ssl_enable: 'YES',
      implicit_ssl: o.implicit ? 'YES' : 'NO',
      force_local_logins_ssl: 'YES',
      force_local_data_ssl: 'YES',
      require_ssl_reuse: 'YES',
      ssl_sslv2: 'NO',
      ssl_sslv3: 'NO',
      ssl_tlsv1: 'NO',
      rsa_cert_file: o.certFile,
      rsa_private_key_file: o.keyFile,
      pasv_enable: 'YES',
      port_enable: 'NO',
      connect_from_port_20: 'NO',
      hide_ids: 'NO',
      idle_session_timeout: '600',
      data_connection_timeout: '300',
      max_clients: '0',
      max_per_ip: '0',
      // like Ferry with its default silent logger: no per-command or per-transfer logging
      syslog_enable: 'NO',
      xferlog_enable: 'NO',
      log_ftp_protocol: 'NO',
    };
    await writeFile(
      configFile,
      Object.entries(settings)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n',
      { mode: 0o600 },
    );
    const child = spawn(PYTHON, [REAPER, VSFTPD, configFile], {
      cwd: o.dir,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', OPENSSL_CONF: sslConf },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    let exited = false;
    child.stdout.setEncoding('utf8').on('data', (d) => (output = (output + d).slice(-65536)));
    child.stderr.setEncoding('utf8').on('data', (d) => (output = (output + d).slice(-65536)));
    child.stdin.on('error', () => {});
    const exitPromise = new Promise((resolve) =>
      child.once('exit', () => {
        exited = true;
        resolve();
      }),
    );
    await new Promise((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    const reaperPid = child.pid;
    const serverPid = () => {
      const m = /^\[reaper\] server pid (\d+)$/m.exec(output);
      return m ? Number(m[1]) : undefined;
    };
    let stopping;
    const stop = () =>
      (stopping ??= (async () => {
        child.stdin.destroy(); // EOF: the reaper terminates vsftpd and every session process
        const members = [readStat(reaperPid), ...descendants(reaperPid)].filter(Boolean);
        await Promise.race([exitPromise, delay(12_000)]);
        if (!exited || members.some(stillSame)) {
          for (const p of [...descendants(reaperPid), ...members]) if (stillSame(p)) signal(p.pid, 'SIGKILL');
          await Promise.race([exitPromise, delay(3_000)]);
          await waitGone(members, 3_000);
        }
      })());
    const deadline = Date.now() + (o.readyTimeoutMs ?? 20_000);
    let greeting;
    while (!exited && Date.now() < deadline) {
      try {
        greeting = await readGreeting(port, o.implicit, 3_000);
        break;
      } catch (err) {
        lastError = err;
        await delay(50);
      }
    }
    while (greeting !== undefined && serverPid() === undefined && Date.now() < deadline) await delay(10);
    if (greeting !== undefined && greeting.includes(token) && serverPid() !== undefined) {
      const pid = serverPid();
      return {
        name: 'vsftpd',
        mode,
        port,
        pid,
        reaperPid,
        /**
         * vsftpd's processes: the listener and its session processes (three per logged-in TLS
         * session), including any orphaned session process the reaper adopted.
         */
        processes: () => descendants(reaperPid).map((p) => p.pid),
        /**
         * True once every session process has exited and been reaped: its CPU time is then in the
         * cutime/cstime of its reaper (the listener, or lib/reaper.py for an orphan).
         */
        idle: () => descendants(reaperPid, true).length === 1,
        /** Root of the process tree whose CPU time counts as vsftpd's (the reaper's own is negligible). */
        cpuRoot: reaperPid,
        output: () => output,
        stop,
      };
    }
    await stop();
    lastError = new Error(
      `vsftpd (${mode}) did not start on port ${port}: ${greeting !== undefined ? 'another process answered' : (lastError?.message ?? 'exited')}\n${output.slice(-2000)}`,
    );
    if (!/address already in use|could not bind|another process/i.test(lastError.message)) break;
  }
  throw lastError;
}
