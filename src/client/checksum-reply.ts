import { Code } from '../protocol/codes.js';
import { isPreliminary, replyLine, type Reply } from '../protocol/reply.js';
import { parseTransferStatus } from '../protocol/transfer-status.js';
import type { ClientControlConnection } from './control.js';
import { ConnectionError } from './errors.js';

/**
 * The reply to a checksum command (HASH, XSHA256…), which reads the whole file before it says
 * anything. `budgetMs(bytesLeft)` is the time a read of that many bytes may take. A server with a
 * read budget (Ferry's maxHashes) may first make the command wait its turn behind other sessions'
 * HASHes, of any size, and says nothing meanwhile either: when the budget is spent, STAT asks (Ferry
 * answers it at once, `211 HASH waiting for its turn.` or `211 HASH in progress: N bytes
 * transferred.`). Waiting: the budget starts again (it counts from the read's start); reading and
 * moving: the budget of what is left. No answer, another answer, or a read that has not moved: the
 * connection is given up, as after any reply timeout. A server that queues the STAT behind the
 * command answers it after the command's reply: that answer is read and dropped.
 */
export async function checksumReply(
  c: ClientControlConnection,
  line: string,
  budgetMs: (bytesLeft: number | undefined) => number,
  size: number | undefined,
): Promise<Reply> {
  const verb = line.split(' ', 1)[0] ?? line;
  c.write(line);
  let pending = nextReply(c);
  let limitMs = budgetMs(size);
  let asked = false;
  let readSoFar = -1;
  for (;;) {
    const r = await within(pending, limitMs);
    if (r === undefined) {
      if (asked) throw giveUp(c, verb, limitMs);
      c.write('STAT');
      asked = true;
      limitMs = c.replyTimeoutMs;
      continue;
    }
    if (isPreliminary(r)) {
      pending = nextReply(c);
      continue;
    }
    if (asked && r.code === Code.SystemStatus) {
      asked = false;
      const status = parseTransferStatus(replyLine(r));
      if (status?.command !== verb) throw giveUp(c, verb, limitMs);
      if (status.queued) limitMs = budgetMs(size);
      else if (status.bytes > readSoFar) {
        readSoFar = status.bytes;
        limitMs = budgetMs(size === undefined ? undefined : Math.max(0, size - status.bytes));
      } else throw giveUp(c, verb, limitMs);
      pending = nextReply(c);
      continue;
    }
    if (asked) await c.read().catch(() => undefined); // the queued STAT's answer
    return r;
  }
}

/** The next reply, without a limit (the caller keeps time); its failure is the caller's to see. */
function nextReply(c: ClientControlConnection): Promise<Reply> {
  const p = c.read(false);
  p.catch(() => {}); // seen by the caller's await, unless it gave up first (giveUp closed it)
  return p;
}

/** `p`'s value, or undefined once `ms` have passed first (p is left pending). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The connection closed for a reply that did not come (replies can no longer be matched). */
function giveUp(c: ClientControlConnection, verb: string, ms: number): ConnectionError {
  const err = new ConnectionError(
    `No reply to ${verb} from ${c.host} within ${ms} ms, and the server does not say it is still reading; connection closed.`,
    { code: 'ERR_TIMEOUT' },
  );
  c.destroy(err);
  return err;
}
