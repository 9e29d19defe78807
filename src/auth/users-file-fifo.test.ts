import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { FerryError } from '../errors.js';
import { readUsersFile } from './users-file.js';

// The bound only ends a hang of the old code (a read that never returned); the check is the error.
test(
  'a FIFO planted at the users file is refused at once, never read (a read would wait for good)',
  { timeout: 30_000 },
  async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-users-fifo-'));
    try {
      const file = path.join(dir, 'users.yaml');
      execFileSync('mkfifo', [file]);
      await assert.rejects(
        readUsersFile(file),
        (err: unknown) => err instanceof FerryError && err.message === `${file}: not a regular file.`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
