import { ReplyError } from '../errors.js';
import { abortedError } from './errors.js';
import { isDirectory, listDir } from './listing.js';
import { isPositiveCompletion, replyLine } from '../protocol/reply.js';
import { command, pathArg, type ClientSession } from './session.js';
import { joinRemote, remoteDirname } from './url.js';

/** Directory trees: creating a path with its parents, removing a directory with its contents. */

/** MKD; with `parents`, missing parents are created and an existing directory is fine. */
export async function makeDir(s: ClientSession, path: string, parents: boolean): Promise<void> {
  pathArg(path);
  const r = await s.control.request(`MKD ${path}`);
  if (isPositiveCompletion(r)) return;
  if (!parents) throw new ReplyError(r.code, replyLine(r), `MKD ${path}`);
  if (await isDirectory(s, path)) return;
  const parent = remoteDirname(path);
  if (parent === '' || parent === '/' || parent === path)
    throw new ReplyError(r.code, replyLine(r), `MKD ${path}`);
  await makeDir(s, parent, true);
  await command(s, `MKD ${path}`);
}

/** DELE a file; with `recursive`, a directory and everything in it. */
export async function removePath(
  s: ClientSession,
  path: string,
  recursive: boolean,
  signal?: AbortSignal,
): Promise<void> {
  pathArg(path);
  const r = await s.control.request(`DELE ${path}`);
  if (isPositiveCompletion(r)) return;
  if (!recursive || !(await isDirectory(s, path))) throw new ReplyError(r.code, replyLine(r), `DELE ${path}`);
  // Dot-files too (LIST -a): RMD fails on a directory that still holds one.
  for (const e of await listDir(s, path, { signal, all: true, directory: true })) {
    if (signal?.aborted) throw abortedError(signal, 'Aborted');
    const child = joinRemote(path, e.name);
    if (e.type === 'dir') await removePath(s, child, true, signal);
    else await command(s, `DELE ${child}`);
  }
  await command(s, `RMD ${path}`);
}
