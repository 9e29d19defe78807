// The storage contract (test-contract.ts) over the local disk and memory backends.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { LocalStorage } from './local.js';
import { MemoryStorage } from './memory.js';
import { storageContract } from './test-contract.js';

storageContract('LocalStorage', async (t, seed = {}) => {
  const root = await mkdtemp(join(tmpdir(), 'ferry-contract-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  for (const [p, content] of Object.entries(seed.files ?? {})) {
    const host = join(root, ...p.split('/').filter(Boolean));
    await mkdir(dirname(host), { recursive: true });
    await writeFile(host, content);
  }
  return new LocalStorage({ root, readOnly: seed.readOnly ?? false });
});
storageContract('MemoryStorage', async (_t, seed = {}) => new MemoryStorage(seed));
