import type { Duplex } from 'node:stream';

/** How long an ended data connection waits for its peer to close its side before it is cut. */
export const LINGER_MS = 5_000;

/**
 * Ends `stream` without a reset: our end (close_notify, then FIN, under TLS) after what is queued,
 * and what the peer still sends read and dropped until it closes its side, or `ms` pass. Closed
 * with bytes unread (a ClientHello sent before a refused STOR), a socket makes the kernel send RST,
 * which a client can see before the reply that explains it (curl then read the 553 as a PASV's).
 * `owner`: what holds the TCP handle and is cut at the deadline (the raw socket under a TLS one). A
 * deadline, not an idle timeout: one reset by each read let a client trickling bytes keep it.
 */
export function endGracefully(stream: Duplex, owner: Duplex = stream): void {
  if (owner.destroyed) return;
  const timer = setTimeout(() => owner.destroy(), LINGER_MS);
  owner.once('close', () => clearTimeout(timer));
  endDropping(stream);
}

/** endGracefully without its deadline: for whoever holds the connection with its own (LingeringData). */
export function endDropping(stream: Duplex): void {
  stream.on('error', () => {});
  stream.resume();
  if (!stream.writableEnded) stream.end(); // a download's pipeline has ended it already
}

/**
 * Leaves a data connection not yet used (its TLS handshake unanswered) for its client to close,
 * once it has read the reply that refused its transfer; what it sends meanwhile is dropped. Ended
 * first, even without a reset, it made curl fail its handshake and take the refusal (553) for the
 * reply to the PASV it sent next (exit 13, not 25). Its caller cuts it if the client keeps it
 * (LingeringData).
 */
export function closeAfterPeer(stream: Duplex): void {
  if (stream.destroyed) return;
  stream.on('error', () => {});
  stream.once('end', () => stream.destroy());
  stream.resume();
}
