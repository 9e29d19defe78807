// Where things are: the benchmark's directories, the root package's build, peer tools, loopback.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(BENCH_DIR, '..');
export const DIST_INDEX = path.join(ROOT, 'dist', 'src', 'index.js');
/** The client alone (the package's 'ferry/client' entry). */
// What 'ferry/client' resolves to (package.json exports): the client in one file.
export const DIST_CLIENT = path.join(ROOT, 'dist', 'src', 'client', 'bundle.js');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
export const CURL = '/usr/bin/curl';
export const OPENSSL = '/usr/bin/openssl';
export const HOST = '127.0.0.1';
