import net from 'node:net';

/**
 * TLS session-ID resumption for one control connection and its data connections (TLS 1.2 clients
 * such as curl resume by session ID, not by ticket). Node offers a server-side session store only
 * through a server's 'newSession'/'resumeSession' events, so each control connection gets its own
 * never-listening net.Server as that hub: a data connection can only resume sessions made on its
 * own control connection. Tickets are bound the same way by per-connection ticket keys.
 */
export function createSessionCache(maxEntries = 64): net.Server {
  const sessions = new Map<string, Buffer>();
  const hub = new net.Server();
  hub.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
    sessions.set(id.toString('hex'), data);
    if (sessions.size > maxEntries) {
      const oldest = sessions.keys().next().value;
      if (oldest !== undefined) sessions.delete(oldest);
    }
    done();
  });
  hub.on('resumeSession', (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => {
    done(null, sessions.get(id.toString('hex')) ?? null);
  });
  return hub;
}
