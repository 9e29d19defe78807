import { parentPort } from 'node:worker_threads';
import { verifyCrypt } from './crypt-hashes.js';

/** Runs crypt-hash checks for crypt-pool.ts: one `{ id, plain, encoded }` in, one `{ id, ok | error }` out. */
parentPort?.on('message', (m: { id: number; plain: string; encoded: string }) => {
  try {
    parentPort?.postMessage({ id: m.id, ok: verifyCrypt(m.plain, m.encoded) });
  } catch (err) {
    parentPort?.postMessage({ id: m.id, error: (err as Error).message });
  }
});
