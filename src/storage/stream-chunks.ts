// A byte stream's chunks as they arrive, for a consumer that copies them on (the S3 part buffer).
// A Readable's own async iterator calls read(), which joins everything buffered into one new Buffer:
// one more copy of every byte and more garbage. Here each 'data' chunk is handed on as it is.
import type { Readable } from 'node:stream';

/**
 * Yields `src`'s chunks; pauses it while `ahead` bytes wait. Ends only at 'end': an error, or a
 * 'close' without 'end' (a stream destroyed early), rejects, so a cut stream never looks complete.
 * Returning early (the consumer failed) destroys `src`.
 */
export async function* chunksOf(src: Readable, ahead = 128 * 1024): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (chunk: Buffer): void => {
    queue.push(chunk);
    queued += chunk.length;
    if (queued >= ahead) src.pause();
    poke();
  };
  const onEnd = (): void => {
    ended = true;
    poke();
  };
  const onError = (err: Error): void => {
    failure ??= err;
    poke();
  };
  const onClose = (): void => {
    if (!ended) failure ??= prematureClose();
    poke();
  };
  src.on('data', onData);
  src.on('end', onEnd);
  src.on('error', onError);
  src.on('close', onClose);
  try {
    if (src.errored) throw src.errored;
    if (src.readableEnded) return;
    if (src.destroyed) throw prematureClose();
    src.resume();
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        queued -= chunk.length;
        if (queued < ahead && src.isPaused() && !ended) src.resume();
        yield chunk;
        continue;
      }
      if (failure) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    src.off('data', onData);
    src.off('end', onEnd);
    src.off('error', onError);
    src.off('close', onClose);
    if (!ended) {
      src.on('error', () => undefined); // its failure was reported (or the consumer's is): none later
      src.destroy();
    }
  }
}

const prematureClose = (): Error =>
  Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
