/**
 * A mirror lists the remote tree over its --parallel connections, not one directory after the
 * other over its own: each listing is a few round trips (EPSV, MLSD, the data connection's TLS
 * handshake), 0.45 s each over an 80 ms link, 20 s for 51 directories. What it finds is the same
 * as one connection's walk, in the same order.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import { mirror } from '../../src/client/mirror.js';
import { useFerryFixture } from './ferry-fixture.js';
import { DialogueLog, optionsOf } from './helpers.js';

const DIRS = 12;
const HELPERS = 3;

const mlsds = (log: DialogueLog): number => log.lines.filter((l) => l.startsWith('> MLSD')).length;

describe('mirror lists the remote tree over its --parallel connections', () => {
  const f = useFerryFixture('ferry-mirror-list-');

  it('the listings spread over every connection; the tree and the plan are those of one', async () => {
    for (let i = 0; i < DIRS; i++) {
      const d = path.join(f.ts.root, 'site', `d${String(i).padStart(2, '0')}`);
      await mkdir(path.join(d, 'sub'), { recursive: true });
      await writeFile(path.join(d, 'f.txt'), `file ${i}`);
      await writeFile(path.join(d, 'sub', 'g.txt'), `deeper ${i}`);
    }
    const options = await optionsOf(f.ts);
    const open = async (log: DialogueLog): Promise<FerryClient> =>
      FerryClient.connect({ ...options, log: log.log });

    const oneLog = new DialogueLog();
    const one = await open(oneLog);
    const alone = await mirror(one, {
      direction: 'download',
      local: path.join(f.dir, 'one'),
      remote: 'site',
    });
    await one.close();

    // The mirror's own connection holds its second listing until each helper has started one (on
    // loopback it could otherwise list everything before the helpers' logins end): whether they
    // are asked is what is tested, not which connection is faster.
    const helperLogs: DialogueLog[] = [];
    const listing = new Set<FerryClient>();
    let helpersListing: () => void = () => {};
    const allListing = new Promise<void>((resolve) => (helpersListing = resolve));
    const connect = async (): Promise<FerryClient> => {
      const log = new DialogueLog();
      helperLogs.push(log);
      const c = await open(log);
      const list = c.list.bind(c);
      c.list = (...args) => {
        if (listing.add(c).size === HELPERS) helpersListing();
        return list(...args);
      };
      return c;
    };
    const ownLog = new DialogueLog();
    const own = await open(ownLog);
    const ownList = own.list.bind(own);
    let ownListings = 0;
    own.list = async (...args) => {
      // Helpers asked for (connect() runs as soon as they are): wait for them to take a directory.
      if (++ownListings === 2 && helperLogs.length > 0) await allListing;
      return ownList(...args);
    };
    const spread = await mirror(own, {
      direction: 'download',
      local: path.join(f.dir, 'spread'),
      remote: 'site',
      parallel: HELPERS + 1,
      connect,
    });
    await own.close();

    const perConnection = [mlsds(ownLog), ...helperLogs.map(mlsds)];
    assert.equal(helperLogs.length, HELPERS, `connections opened: ${helperLogs.length}`);
    assert.ok(
      perConnection.every((n) => n > 0),
      `MLSDs per connection: ${perConnection.join(', ')}`,
    );
    assert.equal(
      perConnection.reduce((a, b) => a + b, 0),
      mlsds(oneLog),
      `each directory listed once: ${perConnection.join(', ')}`,
    );
    assert.equal(mlsds(oneLog), 1 + 2 * DIRS);
    assert.deepEqual(spread.files, alone.files);
    assert.equal(spread.transferred, 2 * DIRS);
    assert.equal(spread.directoriesCreated, alone.directoriesCreated);
  });
});
