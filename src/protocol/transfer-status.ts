/**
 * What STAT answers (211) while a transfer or a long command (HASH) is in flight: one line, written
 * by the server and read by the client, which asks it of a HASH that outlasts its time (a HASH
 * waiting for its turn is no HASH stuck; see client/checksum-reply.ts).
 */

export type TransferStatus =
  | { readonly command: string; readonly queued: true }
  | { readonly command: string; readonly queued: false; readonly bytes: number };

export function formatTransferStatus(s: TransferStatus): string {
  return s.queued
    ? `${s.command} waiting for its turn.`
    : `${s.command} in progress: ${s.bytes} bytes transferred.`;
}

/** The status a STAT line reports, or undefined for any other text (another server's status). */
export function parseTransferStatus(line: string): TransferStatus | undefined {
  const queued = /^(\S+) waiting for its turn\.$/.exec(line);
  if (queued) return { command: queued[1] as string, queued: true };
  const running = /^(\S+) in progress: (\d+) bytes transferred\.$/.exec(line);
  if (running) return { command: running[1] as string, queued: false, bytes: Number(running[2]) };
  return undefined;
}
