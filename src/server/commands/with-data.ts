import { replyForError } from '../../errors.js';
import { Code } from '../../protocol/codes.js';
import { reply, type Reply } from '../../protocol/reply.js';
import type { DataSocket } from '../data-connection.js';
import type { CommandContext, TransferState } from './types.js';

/**
 * The shape of every transfer: 150, open the data connection (425/522 if it fails), move the bytes,
 * then 226 only once `work` confirms they are delivered or durable; 426 when aborted or cut.
 */
export function withData(
  ctx: CommandContext,
  command: string,
  opening: string,
  work: (sock: DataSocket, t: TransferState) => Promise<void>,
): Promise<Reply> {
  const endpoint = ctx.session.data;
  if (!endpoint) return Promise.resolve(reply(Code.CantOpenData, 'Use PORT, EPRT, PASV or EPSV first.'));
  ctx.session.data = undefined; // one transfer per PASV/PORT
  return ctx.transfer(command, async (t) => {
    await endpoint.started();
    ctx.preliminary(reply(Code.FileStatusOkOpeningData, opening));
    let sock: DataSocket;
    try {
      sock = await endpoint.open(t.signal);
    } catch (err) {
      endpoint.close();
      if (t.signal.aborted) return reply(Code.TransferAborted, 'Transfer aborted.');
      return replyForError(err).reply; // 425, or 522 saying why TLS was refused
    }
    try {
      await work(sock, t);
      return reply(Code.ClosingDataSuccess, 'Transfer complete.');
    } catch (err) {
      sock.destroy();
      if (t.signal.aborted) return reply(Code.TransferAborted, 'Transfer aborted.');
      const { reply: r, unknown } = replyForError(err);
      if (!unknown) return r;
      // Stream errors (reset, timeout) mean the data connection broke.
      ctx.logger.warn({ err: (err as Error).message, command }, 'transfer failed');
      return reply(Code.TransferAborted, 'Data connection closed; transfer aborted.');
    } finally {
      endpoint.close();
    }
  });
}

/** Counts bytes as they pass, for STAT and the transfer log, without touching the data path. */
export function countInto(t: TransferState): (chunk: Buffer) => void {
  return (chunk) => {
    t.bytes += chunk.length;
  };
}
