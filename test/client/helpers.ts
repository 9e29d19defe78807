import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FerryClient, type ClientOptions } from '../../src/client/client.js';
import type { ProtocolEvent } from '../../src/client/control.js';
import type { FtpsPeer } from '../support/peers.js';
import { testCertificate, type TestServer } from '../support/ferry.js';

/** The `ferry` entry point with the client commands (test/client/support/ferry-cli.ts, compiled). */
export const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'ferry-cli.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the `ferry` client commands in a child process (only PATH and `env` in its environment). */
export function ferry(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** sha256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `size` random bytes to `file`. */
export async function randomFile(file: string, size: number): Promise<void> {
  const chunks: Buffer[] = [];
  for (let left = size; left > 0; left -= 1 << 20) chunks.push(randomBytes(Math.min(left, 1 << 20)));
  await writeFile(file, Buffer.concat(chunks));
}

/** A protocol log kept in memory; printed by a failing test through `dump()`. */
export class DialogueLog {
  readonly lines: string[] = [];
  private readonly times: string[] = [];
  readonly log = (e: ProtocolEvent): void => {
    if (e.kind === 'command') this.lines.push(`> ${e.text}`);
    else if (e.kind === 'reply') this.lines.push(`< ${e.reply.code} ${e.reply.lines.join(' | ')}`);
    else this.lines.push(`* ${e.text}`);
    this.times.push(new Date().toISOString().slice(11, 23));
    if (this.lines.length > 4000) {
      this.lines.splice(0, 1000);
      this.times.splice(0, 1000);
    }
  };
  /** The last lines, each with its time (UTC, as in the servers' logs). */
  dump(): string {
    const from = Math.max(0, this.lines.length - 80);
    return this.lines
      .slice(from)
      .map((l, i) => `${this.times[from + i] ?? ''} ${l}`)
      .join('\n');
  }
  includes(text: string): boolean {
    return this.lines.some((l) => l.includes(text));
  }
}

/** Connects to a test peer, verifying its certificate with the peer's own CA file. */
export async function connectToPeer(
  peer: FtpsPeer,
  extra: Partial<ClientOptions> = {},
  log?: DialogueLog,
): Promise<FerryClient> {
  return FerryClient.connect({
    host: peer.host,
    port: peer.port,
    security: peer.implicit ? 'implicit' : 'explicit',
    user: peer.user,
    password: peer.password,
    ca: await readFile(peer.certificate.certFile),
    replyTimeoutMs: 20_000,
    ...(log ? { log: log.log } : {}),
    ...extra,
  });
}

/** Runs `fn`; when it fails, prints the dialogue and the tail of the peer's logs first. */
export async function withPeerLog<T>(
  title: string,
  peer: FtpsPeer,
  log: DialogueLog,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const logs = await peer.logs().catch((e: unknown) => `(no server logs: ${String(e)})`);
    process.stderr.write(
      `--- dialogue (${title}) ---\n${log.dump()}\n` +
        `--- server logs (${title}), tail ---\n${logs.slice(-30_000)}\n`,
    );
    throw err;
  }
}

/** Options to log in to an in-process Ferry server (its test certificate trusted). */
export async function optionsOf(
  ts: TestServer,
  security: 'explicit' | 'implicit' = 'explicit',
): Promise<ClientOptions> {
  return {
    host: ts.host,
    port: security === 'implicit' ? ts.implicitPort : ts.explicitPort,
    security,
    user: ts.user,
    password: ts.password,
    ca: (await testCertificate()).cert,
  };
}

/** A client logged in to an in-process Ferry server (explicit FTPS, its test certificate trusted). */
export async function clientOf(ts: TestServer): Promise<FerryClient> {
  return FerryClient.connect(await optionsOf(ts));
}
