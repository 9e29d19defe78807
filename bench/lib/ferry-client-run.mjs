// Child process: runs Ferry's FTPS client (the library, from the root's compiled dist/) for one
// measurement, so that its CPU time is its own (the parent reads it through lib/rusage.py).
// One JSON argument: { distIndex, op: 'retr'|'stor'|'small', host, port, user, password, caFile, … }.
// Prints one JSON line on stdout: the timings, bytes/files and the negotiated TLS, or { error }.
//   retr:  get(remote, local)            → { seconds, transferSeconds, bytes }
//   stor:  put(local, remote)            → same (the put resolves at the 226)
//   small: get(dir/name, outDir/name) for each name, sequentially on ONE connection, until capMs
//          → { files, bytes, loopSeconds } (loop timed from after login to the last 226)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const cfg = JSON.parse(process.argv[2]);
// The client alone ('ferry/client'): the server's modules are not loaded, as in an application
// that only transfers files.
const { FerryClient } = await import(pathToFileURL(cfg.distIndex).href);

const dialogue = []; // the last protocol lines, for the error report
const log = (e) => {
  const line =
    e.kind === 'reply'
      ? `< ${e.reply.code} ${e.reply.lines.join(' | ')}`
      : `${e.kind === 'command' ? '>' : '*'} ${e.text}`;
  dialogue.push(line);
  if (dialogue.length > 30) dialogue.shift();
};

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const now = () => performance.now() / 1000;

let client;
const out = { op: cfg.op };
try {
  const cpu0 = cpu();
  const t0 = now();
  client = await FerryClient.connect({
    host: cfg.host,
    port: cfg.port,
    security: cfg.security ?? 'explicit',
    user: cfg.user,
    password: cfg.password,
    ...(cfg.caFile ? { ca: readFileSync(cfg.caFile) } : { insecure: true }),
    ...(cfg.maxTlsVersion ? { maxTlsVersion: cfg.maxTlsVersion } : {}),
    dataTimeoutMs: 120_000,
    log,
  });
  const t1 = now();
  out.connectSeconds = t1 - t0;
  out.tls = `${client.tlsSocket?.getProtocol()} ${client.tlsSocket?.getCipher()?.name}`;
  out.dataProtection = client.dataProtection;
  if (cfg.op === 'retr' || cfg.op === 'stor') {
    const r =
      cfg.op === 'retr' ? await client.get(cfg.remote, cfg.local) : await client.put(cfg.local, cfg.remote);
    const t2 = now();
    out.bytes = r.bytes;
    out.reply = `${r.reply.code} ${r.reply.lines.join(' ')}`;
    out.seconds = t2 - t0; // connect + TLS + login + transfer, like curl's time_total
    out.transferSeconds = t2 - t1;
  } else if (cfg.op === 'small') {
    let files = 0;
    let bytes = 0;
    const end = t1 + cfg.capMs / 1000;
    for (const name of cfg.names) {
      if (now() >= end) break;
      const r = await client.get(`${cfg.dir}/${name}`, path.join(cfg.outDir, name));
      bytes += r.bytes;
      files++;
    }
    out.files = files;
    out.bytes = bytes;
    out.loopSeconds = now() - t1;
    out.capped = files < cfg.names.length;
  } else {
    throw new Error(`unknown op ${cfg.op}`);
  }
  out.cpuInProcessS = cpu() - cpu0; // from connect to the last 226 (Node startup excluded)
  await client.close();
  process.stdout.write(JSON.stringify(out) + '\n');
} catch (err) {
  client?.destroy();
  out.error = `${err?.name ?? 'Error'}${err?.code ? ` ${err.code}` : ''}: ${err?.message ?? String(err)}`;
  out.stack = err?.stack;
  out.dialogue = dialogue;
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exitCode = 1;
}
