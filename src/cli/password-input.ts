import { randomBytes } from 'node:crypto';
import { FerryError } from '../errors.js';

/** All of standard input, without one trailing newline (for --password-stdin and hash-password). */
export async function passwordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (password.length === 0) throw new FerryError('ERR_USAGE', 'no password on standard input');
  return password;
}

/** Reads a line from the terminal (standard input must be one) without echoing it. */
export function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  // Echo off before the prompt shows: whatever is typed once it is visible is never echoed.
  input.setRawMode(true);
  process.stderr.write(question);
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
    };
    const onData = (d: Buffer): void => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          return resolve(typed);
        }
        if (ch === '\u0003') {
          finish();
          return reject(new FerryError('ERR_ABORTED', 'Interrupted.')); // exit 130, as Ctrl-C elsewhere
        }
        typed = ch === '\u007f' || ch === '\b' ? [...typed].slice(0, -1).join('') : typed + ch;
      }
    };
    input.on('data', onData);
  });
}

/**
 * The new password for `name`: from standard input (--password-stdin); typed twice on a terminal
 * without echo; or, with no terminal, generated (`generated` is then set: print it once).
 */
export async function newPassword(
  name: string,
  fromStdin: boolean,
): Promise<{ password: string; generated: boolean }> {
  if (fromStdin) return { password: await passwordFromStdin(), generated: false };
  if (!process.stdin.isTTY) return { password: randomBytes(12).toString('base64url'), generated: true };
  const password = await promptHidden(`New password for ${name}: `);
  if (password.length === 0) throw new FerryError('ERR_USAGE', 'empty password');
  if ((await promptHidden('Again: ')) !== password) throw new FerryError('ERR_USAGE', 'the passwords differ');
  return { password, generated: false };
}
