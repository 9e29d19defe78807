import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

/**
 * The end of a download pipeline: writes each chunk to `dst` (the data connection), ends `dst` when
 * the source ends, and finishes when `dst` has sent everything; fails when `dst` fails or closes
 * first. `recycle` gets each chunk back once `dst` has written it, for a source that reads into it
 * again (RecyclingReadable).
 *
 * Destroyed (the source failed, an abort), it leaves `dst` whole: the transfer ends the data
 * connection after its reply (451, 426), not before. Cut first (pipeline destroys its last stream),
 * its end reached the client before the reply that says the transfer failed.
 */
export function connectionSink(dst: Writable, recycle: (chunk: Buffer) => void = () => {}): Writable {
  const sent = finished(dst, { readable: false });
  let onDrain: (() => void) | undefined;
  const sink = new Writable({
    highWaterMark: 0,
    write(chunk: Buffer, _encoding, cb) {
      // A write can fail through its callback alone, with no 'error' and no 'drain' to follow: a
      // socket whose peer ended it before (Node ended ours too: "ended by the other party").
      const more = dst.write(chunk, (err) => {
        if (err) sink.destroy(err);
        else recycle(chunk);
      });
      if (more) return cb();
      onDrain = () => ((onDrain = undefined), cb());
      dst.once('drain', onDrain);
    },
    final(cb) {
      dst.end();
      sent.then(() => cb(), cb);
    },
    destroy(err, cb) {
      if (onDrain) dst.off('drain', onDrain);
      cb(err);
    },
  });
  sent.catch((err: unknown) => sink.destroy(err instanceof Error ? err : new Error(String(err))));
  return sink;
}
