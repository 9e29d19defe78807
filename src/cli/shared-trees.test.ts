import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { VPath } from '../storage/types.js';
import { SharedTrees, type NamedTree } from './shared-trees.js';

/** Trees over /srv, and a listener to tell of changes. */
function treesOf(accounts: NamedTree[]): { trees: SharedTrees; accounts: NamedTree[]; change(): void } {
  let listener = (): void => {};
  const trees = new SharedTrees();
  trees.follow({
    current: () => Promise.resolve(accounts),
    onChange: (l) => ((listener = l), () => (listener = () => {})),
  });
  return { trees, accounts, change: () => listener() };
}

const others = async (t: SharedTrees, user: string, p: string): Promise<Record<string, number>> =>
  Object.fromEntries(await t.others(user, p as VPath));

test('the accounts whose trees show a file, once per mount that shows it', async () => {
  const { trees } = treesOf([
    { username: 'ann', home: '/srv/ann', folders: { '/team': '/srv/team' } },
    { username: 'bob', home: '/srv/bob', folders: { '/t': '/srv/team', '/sub': '/srv/team/sub' } },
    // All of /srv but the team folder's sub, which his own folder hides.
    { username: 'root', home: '/srv', folders: { '/team/sub': '/srv/other' } },
    { username: 'ann', home: '/elsewhere' }, // shadowed by the first ann
    { username: 'eve', home: 's3://bucket/eve/', folders: { '/team': '/srv/x' } },
  ]);
  assert.deepEqual(await others(trees, 'ann', '/team/f'), { bob: 1, root: 1 });
  assert.deepEqual(await others(trees, 'ann', '/team/sub/f'), { bob: 2 });
  assert.deepEqual(await others(trees, 'ann', '/own'), { root: 1 });
  assert.deepEqual(await others(trees, 'bob', '/sub/f'), { ann: 1 });
  assert.deepEqual(await others(trees, 'root', '/ann/f'), { ann: 1 });
  assert.deepEqual(await others(trees, 'eve', '/team/f'), { root: 1 });
  assert.deepEqual(await others(trees, 'nobody', '/f'), {});
});

test('nothing for an account that shares nothing; a change to the accounts is followed', async () => {
  const { trees, accounts, change } = treesOf([
    { username: 'ann', home: '/srv/ann', folders: { '/team': '/srv/team' } },
    { username: 'bob', home: '/srv/bob' },
  ]);
  assert.deepEqual(await others(trees, 'ann', '/team/f'), {});
  accounts.push({ username: 'cid', home: '/srv/cid', folders: { '/team': '/srv/team' } });
  assert.deepEqual(await others(trees, 'ann', '/team/f'), {}); // not told yet
  change();
  assert.deepEqual(await others(trees, 'ann', '/team/f'), { cid: 1 });
  trees.close();
  assert.deepEqual(await others(trees, 'ann', '/team/f'), {});
});

// T1: during an outage every upload of a user sharing no folder warned that the accounts sharing
// a folder were unknown (and advised a rescan): the accounts as last read answer instead.
test('the store away: the accounts as last read answer; nothing ever read: it fails', async () => {
  let away = false;
  let listener = (): void => {};
  const accounts: NamedTree[] = [
    { username: 'ann', home: '/srv/ann', folders: { '/team': '/srv/team' } },
    { username: 'bob', home: '/srv/bob', folders: { '/team': '/srv/team' } },
  ];
  const source = {
    current: () => (away ? Promise.reject(new Error('database unavailable')) : Promise.resolve(accounts)),
    onChange: (l: () => void) => ((listener = l), () => (listener = () => {})),
  };
  const trees = new SharedTrees();
  trees.follow(source);
  assert.deepEqual(await others(trees, 'ann', '/team/f'), { bob: 1 });
  away = true;
  listener(); // the database's recovery or a change: the index is read again, and cannot be
  assert.deepEqual(await others(trees, 'ann', '/team/f'), { bob: 1 });
  assert.deepEqual(await others(trees, 'bob', '/own'), {});
  const fresh = new SharedTrees();
  fresh.follow(source);
  await assert.rejects(fresh.others('ann', '/team/f' as VPath), /database unavailable/);
});
