import { stat, utimes } from 'node:fs/promises';
import type { FerryClient } from '../client/client.js';
import { describeError } from './error-text.js';
import { printableName } from './printable.js';

/**
 * `ferry get -R` and `ferry put -R` (curl's `--remote-time`; lftp keeps times too): the copy gets
 * its source's modification time. The file itself has arrived by then, so a time that cannot be
 * read or set is a note, never a failure (as with curl), and the copy keeps its own time.
 */

/** The server's time of a file: MDTM (to the second), else MLST's modify fact; undefined if neither. */
async function remoteTime(client: FerryClient, remote: string): Promise<Date | undefined> {
  if (client.features.has('MDTM')) {
    const t = await client.modified(remote);
    if (t) return t;
  }
  const entry = await client.stat(remote).catch(() => undefined);
  return entry && entry.modified.getTime() !== 0 ? entry.modified : undefined;
}

/** Gives a downloaded file the remote file's time; else says why not. */
export async function keepRemoteTime(
  client: FerryClient,
  remote: string,
  local: string,
): Promise<string | undefined> {
  try {
    const t = await remoteTime(client, remote);
    if (!t) return notKept(remote, 'the server tells none (MDTM, MLST)');
    await utimes(local, t, t);
    return undefined;
  } catch (err) {
    return notKept(remote, describeError(err));
  }
}

/** Gives an uploaded file the local file's time (MFMT, or MDTM with a time); else says why not. */
export async function keepLocalTime(
  client: FerryClient,
  local: string,
  remote: string,
): Promise<string | undefined> {
  try {
    const { mtime } = await stat(local);
    if (await client.setModified(remote, mtime)) return undefined;
    return notKept(remote, 'the server would not set it (MFMT)');
  } catch (err) {
    return notKept(remote, describeError(err));
  }
}

function notKept(file: string, why: string): string {
  return `${printableName(file)}: modification time not kept: ${why}.`;
}
