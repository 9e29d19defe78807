/**
 * The set-up many client tests share: an in-process Ferry server, a client logged in to it and a
 * local temp dir, made before the describe() that asks for them and ended after it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import type { FerryClient } from '../../src/client/client.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { clientOf } from './helpers.js';

export interface FerryFixture {
  readonly ts: TestServer;
  /** Logged in over explicit FTPS. */
  readonly c: FerryClient;
  /** A local temp dir, removed after. */
  readonly dir: string;
}

/**
 * Call it at the top of a describe(): hooks run in the order they are made, so the describe's own
 * before() hooks find the server, client and dir there.
 */
export function useFerryFixture(tmpPrefix: string): FerryFixture {
  let made: { ts?: TestServer; c?: FerryClient; dir?: string } = {};
  before(async () => {
    const ts = await startFerry();
    made = { ts };
    made.c = await clientOf(ts);
    made.dir = await mkdtemp(path.join(os.tmpdir(), tmpPrefix));
  });
  after(async () => {
    made.c?.destroy();
    await made.ts?.close();
    if (made.dir !== undefined) await rm(made.dir, { recursive: true, force: true });
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useFerryFixture: used before its before() hook ran');
    return value;
  };
  return {
    get ts() {
      return ready(made.ts);
    },
    get c() {
      return ready(made.c);
    },
    get dir() {
      return ready(made.dir);
    },
  };
}
