// vsftpd 3.0.3 (Debian package) for the benchmark, started by the test harness's startVsftpd
// (test/support/peers.ts, compiled to the root's dist/): TLS required on control and data,
// require_ssl_reuse=YES, TLS capped at 1.2 through OPENSSL_CONF (with TLS 1.3, vsftpd 3.0.3 fails
// about half of curl's uploads), local user `ferrytest` (PAM service ferry-vsftpd with pam_userdb, set
// up by scripts/setup-peers.sh) chrooted to the benchmark's root. Each instance runs under
// test/support/peer_supervisor.py (a child subreaper in its own process group).
import { existsSync, readFileSync } from 'node:fs';
import { readStat, descendants } from './procs.mjs';

export const VSFTPD = '/usr/sbin/vsftpd';
export const PYTHON = '/usr/bin/python3';
export const VSFTPD_LOGIN = {
  user: 'ferrytest',
  password: 'ferrytest-Pa55',
  pamFile: '/etc/pam.d/ferry-vsftpd',
};

/**
 * The benchmark's settings on top of startVsftpd's defaults: active mode off, longer timeouts and,
 * like Ferry with its default silent logger, no per-command or per-transfer logging.
 */
const BENCH_CONFIG = {
  port_enable: 'NO',
  idle_session_timeout: '600',
  data_connection_timeout: '300',
  xferlog_enable: 'NO',
  log_ftp_protocol: 'NO',
};

/** The compiled test support (loaded once dist/ is built: see preflight.mjs). */
export const loadPeers = () => import('../../dist/test/support/peers.js');

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

/**
 * Starts vsftpd on 127.0.0.1 (a free port), serving `root`, and resolves once it answers its greeting.
 * @param {{root:string, certificate:{certFile:string, keyFile:string, pemFile:string}, implicit:boolean, readyTimeoutMs?:number}} o
 */
export async function startVsftpd(o) {
  const { startVsftpd: start } = await loadPeers();
  const peer = await start({
    implicit: o.implicit,
    certificate: o.certificate,
    readyTimeoutMs: o.readyTimeoutMs,
    extraConfig: { ...BENCH_CONFIG, local_root: o.root },
  });
  // the server's parent: its supervisor (the process group leader), which adopts orphaned sessions
  const supervisorPid = readStat(peer.pid)?.ppid ?? peer.pid;
  return {
    name: 'vsftpd',
    mode: o.implicit ? 'implicit' : 'explicit',
    port: peer.port,
    pid: peer.pid,
    supervisorPid,
    /**
     * vsftpd's processes: the listener and its session processes (three per logged-in TLS session),
     * including any orphaned session process the supervisor adopted.
     */
    processes: () => descendants(supervisorPid).map((p) => p.pid),
    /**
     * True once every session process has exited and been reaped: its CPU time is then in the
     * cutime/cstime of its reaper (the listener, or the supervisor for an orphan).
     */
    idle: () => descendants(supervisorPid, true).length === 1,
    /** Root of the process tree whose CPU time counts as vsftpd's (the supervisor's own is negligible). */
    cpuRoot: supervisorPid,
    logs: () => peer.logs(),
    stop: () => peer.stop(),
  };
}
