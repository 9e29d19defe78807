/**
 * The set-up of a describe() of client tests against a peer server: the peer started, a client
 * logged in to it with its dialogue kept, a temporary directory; all gone after the tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';

import type { FerryClient } from '../../src/client/client.js';
import { connectToPeer, DialogueLog, withPeerLog } from '../client/helpers.js';
import { startVsftpd, type FtpsPeer } from './peers.js';

export interface PeerSession {
  readonly peer: FtpsPeer;
  readonly client: FerryClient;
  /** A temporary directory of the describe()'s own. */
  readonly home: string;
  readonly log: DialogueLog;
  /** Runs `fn`; when it fails, prints the dialogue and the tail of the peer's logs first. */
  withLog<T>(fn: () => Promise<T>): Promise<T>;
}

/** Registers before() and after() in the describe() it is called in; vsftpd unless `start` says. */
export function peerSession(
  title = 'vsftpd',
  start: () => Promise<FtpsPeer> = () => startVsftpd(),
): PeerSession {
  let peer: FtpsPeer | undefined;
  let client: FerryClient | undefined;
  let home: string | undefined;
  const log = new DialogueLog();
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('peerSession: used before its before() ran');
    return value;
  };
  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-peer-session-'));
    peer = await start();
    client = await connectToPeer(peer, {}, log);
  });
  after(async () => {
    await client?.close();
    await peer?.stop();
    if (home !== undefined) await rm(home, { recursive: true, force: true });
  });
  return {
    get peer() {
      return started(peer);
    },
    get client() {
      return started(client);
    },
    get home() {
      return started(home);
    },
    log,
    withLog: (fn) => withPeerLog(title, started(peer), log, fn),
  };
}
