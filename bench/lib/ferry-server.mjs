// Child process: runs one Ferry server (the library, from the root's compiled dist/) so that its RSS,
// CPU and event loop are its own. Started by lib/ferry.mjs with one JSON argument; talks over IPC:
//   → {type:'ready', explicitPort, implicitPort}
//   ← {type:'mem', gc}      → {type:'mem', usage, sessions}
//   ← {type:'stop'}         → {type:'stopped', logs} and exit 0 (so --cpu-prof writes its profile)
import { randomBytes, scrypt } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const cfg = JSON.parse(process.argv[2]);
const ferry = await import(pathToFileURL(cfg.distIndex).href);
const { FerryServer, LocalStorage, UserTable, hashPassword } = ferry;

/** Counts log lines by level and message instead of printing each (printing would cost time). */
const logs = new Map();
const note =
  (level) =>
  (obj, msg = '') => {
    const key = `${level}: ${msg}`;
    const entry = logs.get(key) ?? { count: 0, example: undefined };
    entry.count++;
    entry.example ??= obj;
    logs.set(key, entry);
  };
const noop = () => {};
const logger = { debug: noop, info: noop, warn: note('warn'), error: note('error'), child: () => logger };

async function passwordHash() {
  if (!cfg.scryptN) return hashPassword(cfg.password); // Ferry's default cost
  // Same format as hashPassword, lower cost: to compare with vsftpd's SHA-512 crypt at equal cost.
  const salt = randomBytes(16);
  const key = await new Promise((resolve, reject) =>
    scrypt(
      cfg.password.normalize('NFC'),
      salt,
      32,
      { N: cfg.scryptN, r: 8, p: 1, maxmem: 256 * cfg.scryptN * 8 + (1 << 20) },
      (e, k) => (e ? reject(e) : resolve(k)),
    ),
  );
  return `scrypt$${cfg.scryptN}$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
}

// loginCacheMs: 0 turns off UserTable's memory of recent successful logins (builds without that
// option ignore the argument).
const users = new UserTable(
  [{ username: cfg.user, passwordHash: await passwordHash(), home: cfg.root }],
  ...(cfg.loginCacheMs === undefined ? [] : [{ loginCacheMs: cfg.loginCacheMs }]),
);
const server = new FerryServer({
  explicit: { host: '127.0.0.1', port: 0 },
  implicit: { host: '127.0.0.1', port: 0 },
  authenticator: users,
  storageFor: (p) => new LocalStorage({ root: p.home, readOnly: p.readOnly }),
  tls: {
    certificates: [{ certFile: cfg.certFile, keyFile: cfg.keyFile }],
    dataDir: cfg.dataDir,
    requireSessionReuse: true,
  },
  limits: { maxSessions: 5000, maxSessionsPerAddress: 5000 },
  timeouts: { idleMs: 600_000 },
  logger,
});
const addr = await server.listen();

const logSummary = () => [...logs].map(([key, v]) => ({ key, count: v.count, example: safe(v.example) }));
function safe(obj) {
  try {
    return JSON.parse(JSON.stringify(obj, (_k, v) => (v instanceof Error ? v.message : v)));
  } catch {
    return String(obj);
  }
}

process.on('message', async (m) => {
  if (m?.type === 'mem') {
    if (m.gc && typeof globalThis.gc === 'function') {
      globalThis.gc();
      await new Promise((r) => setImmediate(r));
      globalThis.gc();
    }
    process.send({ type: 'mem', usage: process.memoryUsage(), sessions: server.sessionCount });
  } else if (m?.type === 'logs') {
    process.send({ type: 'logs', logs: logSummary() });
  } else if (m?.type === 'stop') {
    const timer = setTimeout(() => server.destroy(), 3_000);
    await server.close().catch(() => {});
    clearTimeout(timer);
    process.send({ type: 'stopped', logs: logSummary() }, () => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0)); // the benchmark is gone

process.send({ type: 'ready', explicitPort: addr.explicit.port, implicitPort: addr.implicit.port });
