import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fromNetworkAscii, toNetworkAscii } from '../../protocol/ascii.js';
import { Code } from '../../protocol/codes.js';
import { reply, type Reply } from '../../protocol/reply.js';
import { StorageError, type VPath } from '../../storage/types.js';
import { baseName } from '../../storage/virtual-path.js';
import { command, type AnyCommandSpec, type CommandContext } from './types.js';
import { countInto, withData } from './with-data.js';

const modeName = (ctx: CommandContext): string => (ctx.session.type === 'A' ? 'ASCII' : 'BINARY');

async function upload(
  ctx: CommandContext,
  p: VPath,
  append: boolean,
  command: string,
  opening: string,
): Promise<Reply> {
  const offset = ctx.oneShot.restOffset;
  const storage = ctx.storage();
  return withData(ctx, command, opening, async (sock, t) => {
    sock.stream.on('data', countInto(t));
    sock.stream.pause(); // counting must not start the flow before storage reads
    // A truncated upload (no close_notify) makes sock.stream fail: the old file stays.
    const body = ctx.session.type === 'A' ? chain(sock.stream, fromNetworkAscii()) : sock.stream;
    await storage.write(p, body, { offset, append }, ctx.storageContext(t.signal));
  });
}

/** Pipes the stages together; an error anywhere destroys the last one, which storage reads. */
function chain(src: Readable, ...transforms: [...Transform[], Transform]): Transform {
  const last = transforms[transforms.length - 1] as Transform;
  pipeline([src, ...transforms]).catch((err: unknown) =>
    last.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  return last;
}

export const transferCommands: AnyCommandSpec[] = [
  command({
    verb: 'RETR',
    permission: 'download',
    access: 'logged-in',
    concurrency: 'serial',
    data: true,
    help: 'RETR <sp> path',
    async handle({ path }, ctx) {
      const p = ctx.resolve(path);
      const storage = ctx.storage();
      const st = await storage.stat(p, ctx.storageContext());
      if (st.type === 'dir') throw new StorageError('is-directory', 'Is a directory.');
      const offset = ctx.oneShot.restOffset;
      const src = await storage.openRead(p, { offset }, ctx.storageContext());
      const opening = `Opening ${modeName(ctx)} mode data connection for ${baseName(p)} (${st.size} bytes).`;
      const r = await withData(ctx, 'RETR', opening, async (sock, t) => {
        src.on('data', countInto(t));
        if (ctx.session.type === 'A')
          await pipeline(src, toNetworkAscii(), sock.stream, { signal: t.signal });
        else await pipeline(src, sock.stream, { signal: t.signal });
      });
      src.destroy();
      return r;
    },
  }),
  command({
    verb: 'STOR',
    permission: 'upload',
    access: 'logged-in',
    concurrency: 'serial',
    data: true,
    help: 'STOR <sp> path',
    async handle({ path }, ctx) {
      return upload(ctx, ctx.resolve(path), false, 'STOR', `Ok to send data (${modeName(ctx)} mode).`);
    },
  }),
  command({
    verb: 'APPE',
    permission: 'upload',
    access: 'logged-in',
    concurrency: 'serial',
    data: true,
    help: 'APPE <sp> path',
    async handle({ path }, ctx) {
      return upload(ctx, ctx.resolve(path), true, 'APPE', `Ok to append data (${modeName(ctx)} mode).`);
    },
  }),
  command({
    verb: 'STOU',
    permission: 'upload',
    access: 'logged-in',
    concurrency: 'serial',
    data: true,
    help: 'STOU',
    async handle(_cmd, ctx) {
      const storage = ctx.storage();
      if (!storage.uniqueName) throw new StorageError('unsupported', 'STOU not supported.');
      const p = await storage.uniqueName(ctx.session.cwd, ctx.storageContext());
      // RFC 1123 4.1.2.9: the 150 reply names the file.
      return upload(ctx, p, false, 'STOU', `FILE: ${baseName(p)}`);
    },
  }),
  command({
    verb: 'ABOR',
    access: 'logged-in',
    concurrency: 'out-of-band',
    help: 'ABOR',
    async handle(_cmd, ctx) {
      const t = ctx.activeTransfer;
      if (!t) {
        ctx.session.setData(undefined);
        return reply(Code.DataOpenNoTransfer, 'No transfer to abort.');
      }
      t.abort();
      await t.done; // its 426 goes out first
      return reply(Code.ClosingDataSuccess, 'Abort successful.');
    },
  }),
];
