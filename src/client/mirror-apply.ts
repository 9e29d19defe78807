/**
 * Doing what a mirror planned (mirror.ts): the directories made, the files transferred (with their
 * times and modes), the destination's extras deleted.
 */
import { chmod, mkdir, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { FerryError, ReplyError } from '../errors.js';
import type { FerryClient, Progress } from './client.js';
import { localChecksum } from './checksum.js';
import { isTransient } from './errors.js';
import { fsPath } from './local-file.js';
import { mayAskMdtm } from './mirror-compare.js';
import type { MirrorModes } from './mirror-modes.js';
import type { Job, Plan } from './mirror-plan.js';
import type { MirrorRun } from './mirror-run.js';
import { depth, isUnder, type Item } from './mirror-trees.js';
import { runPool } from './pool.js';
import { CHANGED_ON_SERVER, RetriedDownloads } from './retried-download.js';

/** The source's directories the destination lacks, shallow first. */
export async function makeDirectories(run: MirrorRun): Promise<void> {
  for (const [rel] of [...run.src]
    .filter(([, i]) => i.type === 'dir')
    .sort((a, b) => depth(a[0]) - depth(b[0]))) {
    run.aborted();
    if (isUnder(rel, run.skippedTrees)) continue;
    const existing = run.dst.get(rel);
    if (existing?.type === 'dir') continue;
    if (existing) {
      if (!run.o.delete) {
        run.conflict(rel, existing, 'directory');
        continue;
      }
      await run.removeDst(rel, existing);
    }
    run.emit({ kind: 'mkdir', path: rel });
    if (!run.o.dryRun) {
      try {
        if (run.upload) await (await run.conn.live()).mkdir(run.remotePath(rel));
        else await mkdir(fsPath(run.localPath(rel)), { recursive: true });
      } catch (err) {
        // One directory refused (a name the server will not take, a path too long here) fails
        // that directory with what is under it, as a file's failure fails that file (lftp).
        if (!refusedDirectory(run.upload, err)) throw err;
        run.directoryFailed(rel, err);
        continue;
      }
    }
    run.directoriesCreated++;
  }
}

/**
 * The destination's refusal of one directory: the server's reply (not a transient one, which the
 * connection's retries are for), or the local system's error (ENAMETOOLONG, EACCES, EILSEQ…).
 */
function refusedDirectory(upload: boolean, err: unknown): boolean {
  if (upload) return err instanceof ReplyError && !isTransient(err);
  return err instanceof Error && 'syscall' in err && typeof (err as NodeJS.ErrnoException).code === 'string';
}

/**
 * The planned files, over `parallel` connections (a dry run only tells them); each file's
 * failure is told, and the first one thrown once all were tried.
 */
export async function transferFiles(
  run: MirrorRun,
  modes: MirrorModes,
  plan: Plan,
): Promise<{ transferred: number; bytes: number }> {
  const { jobs, checksum } = plan;
  let transferred = 0;
  let bytes = 0;
  // A continued file must now be the source's size, and with verify have its checksum: bytes the
  // destination held that were not the source's would otherwise stay unnoticed.
  const checkContinued = async (worker: FerryClient, rel: string, item: Item): Promise<void> => {
    const size = run.upload
      ? (await worker.stat(run.remotePath(rel))).size
      : (await stat(fsPath(run.localPath(rel)))).size;
    const what = `${rel} was continued (-c)`;
    if (size !== item.size)
      throw new FerryError(
        'ERR_REMOTE',
        `${what}, but has ${size} bytes, not the ${item.size} of the source.`,
      );
    if (checksum === undefined) return;
    // Counted as compared, so that the summary does not say no file was.
    run.verified++;
    const remote = await worker
      .checksum(run.remotePath(rel), { size: item.size ?? undefined })
      .catch(run.refusedChecksum(rel));
    if (remote) run.verifiedBy = remote.algorithm;
    if (remote && remote.hex !== (await localChecksum(run.localPath(rel), remote.algorithm)))
      throw new FerryError(
        'ERR_REMOTE',
        `${what}, but its ${remote.algorithm} differs from the source's: what it held was not the source's start; mirror it again without -c.`,
      );
  };
  const downloads = new RetriedDownloads<string>(run.o.retries ?? 0, (rel) =>
    run.emit({ kind: 'note', path: rel, message: CHANGED_ON_SERVER }),
  );
  // Each file's bytes that moved, for one that then fails: they were sent all the same.
  const moved = new Map<string, number>();
  const runJob = async (worker: FerryClient, job: Job, attempt: number): Promise<void> => {
    run.aborted();
    const { rel, item, partial } = job;
    if (attempt === 0) run.emit({ kind: 'start', path: rel, size: item.size ?? undefined });
    const onProgress = (p: Progress): void => {
      moved.set(rel, p.bytes);
      run.emit({ kind: 'progress', path: rel, bytes: p.bytes, total: p.total });
    };
    let n: number;
    if (run.upload) {
      await modes.openRemoteFile(worker, rel);
      n = (
        await worker.put(run.localPath(rel), run.remotePath(rel), {
          signal: run.o.signal,
          onProgress,
          resume: partial,
        })
      ).bytes;
      moved.set(rel, n);
      if (partial) await checkContinued(worker, rel, item);
      await worker.setModified(run.remotePath(rel), new Date(item.mtime)).catch(() => false);
      if (modes.keepPerms && item.mode !== undefined) await modes.chmodRemote(worker, rel, item.mode);
    } else {
      const mode = modes.localMode(item);
      const old = run.dst.get(rel);
      // A file rewritten in place is never more open than the listing says while it is written
      // (only its owner may read and write it, to write it: a read-only one too); a new one is
      // created with the mode.
      if (mode !== undefined && old?.type === 'file' && old.mode !== undefined)
        await chmod(fsPath(run.localPath(rel)), (old.mode & mode) | 0o600);
      // The listing's size stands for SIZE (one command less per file).
      n = await downloads.get(worker, rel, run.remotePath(rel), run.localPath(rel), {
        signal: run.o.signal,
        onProgress,
        size: item.size ?? undefined,
        mode,
        resume: partial,
      });
      moved.set(rel, n);
      if (partial) await checkContinued(worker, rel, item);
      if (mode !== undefined) await chmod(fsPath(run.localPath(rel)), mode);
      // LIST shows minutes, or only the day of an older file (vsftpd): MDTM tells the second.
      const exact =
        item.precision > 1000 && mayAskMdtm(worker.features)
          ? await worker.modified(run.remotePath(rel))
          : undefined;
      const t =
        exact ?? (Number.isFinite(item.precision) && item.mtime > 0 ? new Date(item.mtime) : undefined);
      if (t) await utimes(fsPath(run.localPath(rel)), t, t);
    }
    transferred++;
    bytes += n;
    run.emit({ kind: 'done', path: rel, bytes: n });
  };

  run.emit({ kind: 'planned', path: '', files: jobs.length });
  if (!run.o.dryRun && jobs.length > 0) {
    // A file that fails (a name the server refuses, no permission) does not stop the others, as in
    // lftp and rsync; the mirror then fails with the first failure, deleting nothing.
    const { failures, unsent } = await runPool(
      await run.conn.live(),
      jobs,
      {
        parallel: run.o.parallel,
        connect: run.o.connect,
        // Those the plan opened (its time queries), when it did.
        opened: await run.openedConnections(),
        signal: run.o.signal,
        keepGoing: true,
        retries: run.o.retries ?? 0,
        transient: isTransient,
        onRetry: (job, retry, error) =>
          run.emit({ kind: 'retry', path: job.rel, retry, retries: run.o.retries ?? 0, error }),
        onReconnect: (r) => run.emit({ kind: 'reconnect', path: '', ...r }),
      },
      runJob,
    );
    for (const f of failures)
      run.emit({ kind: 'failed', path: f.job.rel, error: f.error, bytes: moved.get(f.job.rel) ?? 0 });
    if (unsent) run.emit({ kind: 'lost', path: '', files: unsent.jobs.length, error: unsent.error });
    if (failures[0]) throw failures[0].error;
    if (unsent) throw unsent.error;
  } else if (run.o.dryRun) {
    for (const j of jobs) run.emit({ kind: 'start', path: j.rel, size: j.item.size ?? undefined });
    transferred = jobs.length;
    bytes = jobs.reduce((sum, j) => sum + (j.item.size ?? 0), 0);
  }

  return { transferred, bytes };
}

/**
 * With `delete`, the destination's entries the source lacks, shallow first (a removed directory
 * takes its contents along). `listsDotFiles`: whether the remote listing shows dot-files.
 */
export async function deleteExtras(run: MirrorRun, listsDotFiles: boolean | undefined): Promise<void> {
  if (run.o.delete) {
    // A remote listing without dot-files (the server refused LIST -a) cannot tell a local dot-file
    // the server lacks from one it hides: such a file is kept.
    const hidesDotFiles = !run.upload && listsDotFiles !== true;
    const extras = [...run.dst]
      .filter(([rel]) => !run.src.has(rel))
      .sort((a, b) => depth(a[0]) - depth(b[0]));
    for (const [rel, item] of extras) {
      run.aborted();
      if (isUnder(rel, run.gone) || run.skippedTrees.has(rel) || isUnder(rel, run.skippedTrees)) continue;
      // Its directory's listing had such lines (what is under an extra kept is kept with it).
      if (!run.upload && run.partlyListed.has(path.posix.dirname(rel).replace(/^\.$/, ''))) {
        run.skip(rel, "not deleted: the server's listing has lines the client cannot read (it may be one)");
        continue;
      }
      if (hidesDotFiles && path.posix.basename(rel).startsWith('.')) {
        run.skip(rel, "not deleted: the server's listing does not show dot-files (it refused LIST -a)");
        continue;
      }
      if (item.type === 'dir' && run.holdsLeftOut(rel)) {
        // What else is in it goes (its own extras); the directory stays with what was left out.
        run.skipped++;
        run.emit({ kind: 'skip', path: rel, reason: 'not deleted: it holds excluded entries' });
        continue;
      }
      await run.removeDst(rel, item);
    }
  }
}
