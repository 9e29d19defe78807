import { constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { FerryError } from './errors.js';

/**
 * A file's text, its last component not followed (a link fails with ELOOP) and never blocking on a
 * FIFO; errors as fs gives them.
 */
export function readNoFollow(file: string): Promise<string> {
  return readFile(file, {
    encoding: 'utf8',
    flag: constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
  });
}

/**
 * Reads one of Ferry's own state files (bans, usage) as UTF-8 text; undefined when it does not
 * exist. A symbolic link is not followed: the server reads these as root before a --run-as drop,
 * from a directory the run-as user may write, and a link there could name any file (its first
 * bytes would then reach the log in a parse error).
 */
export async function readStateFile(file: string): Promise<string | undefined> {
  try {
    return await readNoFollow(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP')
      throw new FerryError('ERR_INVALID_OPTION', `${file}: a symbolic link, which Ferry does not follow.`);
    throw err;
  }
}

/** JSON.parse, its error without the excerpt of the text that V8 quotes (it could be a secret). */
export function parseStateJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new FerryError('ERR_INVALID_OPTION', `${file}: not valid JSON.`);
  }
}
