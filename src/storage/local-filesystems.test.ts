// Reading /proc/self/mountinfo and judging whether a storage tree lies on local filesystems only
// (where the synchronous fast path cannot hang on a remote party).
import assert from 'node:assert/strict';
import { readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import {
  isLocalTree,
  MountTable,
  MOUNTS_FRESH_MS,
  onLocalFilesystems,
  parseMountInfo,
  remoteMount,
  remoteMountOf,
  type MountEntry,
} from './local-filesystems.js';

/** Real lines (a container with bindfs mounts made for this, a host with NFS and optional fields). */
const MOUNTINFO = [
  '22 27 0:21 / /proc rw,relatime - proc proc rw',
  '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534',
  '45 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw,discard',
  '46 27 0:40 / /srv/home/my\\040docs rw,nosuid,nodev,relatime - fuse /srv/src rw,user_id=0,group_id=0,default_permissions,allow_other',
  '47 27 0:41 / /srv/home/tab\\011x rw,nosuid,nodev,relatime - fuse /srv/src rw,user_id=0,group_id=0,default_permissions,allow_other',
  '48 27 0:42 / /srv/home/back\\134slash rw,nosuid,nodev,relatime - fuse /srv/src rw,user_id=0,group_id=0,default_permissions,allow_other',
  '49 48 0:43 / /srv/home/back\\134slash rw,relatime - tmpfs tmpfs rw',
  '60 27 8:17 / /data rw,noatime shared:30 master:2 - xfs /dev/sdb1 rw,attr2,inode64,noquota',
  '61 60 0:50 / /data/nfs rw,relatime shared:31 - nfs4 fs1:/export rw,vers=4.2,rsize=1048576,hard,proto=tcp',
  '62 60 0:51 / /data/tmp rw,nosuid,nodev shared:32 - tmpfs tmpfs rw,size=1048576k',
  '63 27 0:52 / /mnt/bind rw,nosuid,nodev,relatime shared:40 - fuse.bindfs bindfs rw,user_id=0,group_id=0',
  '',
].join('\n');

describe('parseMountInfo', () => {
  it('reads mount points (octal escapes undone) and types, past the optional fields', () => {
    const mounts = parseMountInfo(MOUNTINFO);
    assert.ok(mounts);
    const byPoint = (p: string): string[] => mounts.filter((m) => m.mountPoint === p).map((m) => m.fsType);
    assert.equal(mounts.length, 11);
    assert.deepEqual(byPoint('/'), ['ext4']);
    assert.deepEqual(byPoint('/srv/home/my docs'), ['fuse']);
    assert.deepEqual(byPoint('/srv/home/tab\tx'), ['fuse']);
    assert.deepEqual(byPoint('/srv/home/back\\slash'), ['fuse', 'tmpfs']);
    assert.deepEqual(byPoint('/data'), ['xfs'], 'two optional fields');
    assert.deepEqual(byPoint('/data/nfs'), ['nfs4']);
    assert.deepEqual(byPoint('/mnt/bind'), ['fuse.bindfs']);
  });

  it('cannot read a line without the " - " separator: no answer rather than a wrong one', () => {
    assert.equal(parseMountInfo('27 1 254:0 / / rw,relatime ext4 /dev/vda rw\n'), undefined);
    assert.equal(parseMountInfo('27 1 254:0 / / rw,relatime -\n'), undefined);
  });
});

describe('onLocalFilesystems', () => {
  const mounts = parseMountInfo(MOUNTINFO) as MountEntry[];
  for (const [root, local, why] of [
    ['/srv/ftp/alice', true, 'on ext4, nothing mounted below'],
    ['/', false, 'proc and fuse mounted below'],
    ['/srv/home', false, 'FUSE mounts below the root'],
    ['/srv/home/other', true, 'beside the FUSE mounts, not below'],
    ['/srv/home/my docs', false, 'on FUSE (a mount point with a space)'],
    ['/srv/home/my docs/sub', false, 'inside a FUSE mount'],
    ['/srv/home/my', true, 'a name that only begins like a mount point'],
    ['/srv/home/back\\slash', false, 'tmpfs stacked on FUSE: which is on top is not judged'],
    ['/data', false, 'NFS below the root'],
    ['/data/tmp/x', true, 'tmpfs'],
    ['/data/nfs', false, 'on NFS'],
    ['/data/nfsx', true, 'on xfs beside the NFS mount'],
    ['/mnt/bind/alice', false, 'fuse.bindfs'],
  ] as const) {
    it(`${root}: ${local ? 'local' : 'not local'} (${why})`, () => {
      assert.equal(onLocalFilesystems(root, mounts), local);
    });
  }

  it('an unknown type, or no mount holding the root, is not local', () => {
    assert.equal(onLocalFilesystems('/x', [{ mountPoint: '/', fsType: 'ceph' }]), false);
    assert.equal(onLocalFilesystems('/x', [{ mountPoint: '/y', fsType: 'ext4' }]), false);
  });

  it("this machine's temp directory, read from /proc/self/mountinfo, is judged as its mounts say", () => {
    const tmp = realpathSync(tmpdir());
    const mounts = parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'));
    assert.ok(mounts, 'this machine mountinfo reads');
    assert.equal(isLocalTree(tmp), onLocalFilesystems(tmp, mounts));
  });
});

describe('remoteMountOf: the mount a tree not all local is counted under in the pool budget', () => {
  const mounts = parseMountInfo(MOUNTINFO) as MountEntry[];
  for (const [root, mount, why] of [
    ['/srv/ftp/alice', undefined, 'local: no slot taken'],
    ['/srv/home/my docs/sub', '/srv/home/my docs', 'the FUSE mount holding it'],
    ['/srv/home/back\\slash', '/srv/home/back\\slash', 'tmpfs stacked on FUSE'],
    ['/data', '/data/nfs', 'on xfs, NFS below: the NFS mount'],
    ['/data/nfs', '/data/nfs', 'on NFS'],
    ['/mnt/bind/alice', '/mnt/bind', 'fuse.bindfs'],
  ] as const) {
    it(`${root}: ${mount ?? 'none'} (${why})`, () => {
      assert.equal(remoteMountOf(root, mounts), mount);
    });
  }

  it('no mount holding the root: the root itself', () => {
    assert.equal(remoteMountOf('/x', [{ mountPoint: '/y', fsType: 'ext4' }]), '/x');
  });
});

describe('MountTable', () => {
  it("judges each path as remoteMount does, by this machine's mounts, asked again and again", () => {
    const table = new MountTable();
    const paths = [realpathSync(tmpdir()), '/', '/proc', '/proc/self', '/nowhere/at/all'];
    for (let round = 0; round < 3; round++)
      for (const p of paths) assert.equal(table.remoteMount(p), remoteMount(p), `${p}, round ${round}`);
  });

  it('reads the mounts again once its reading is MOUNTS_FRESH_MS old, and judges by the new ones', () => {
    let now = 1_000;
    let reads = 0;
    let text = '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw';
    const table = new MountTable(
      () => now,
      () => {
        reads++;
        return text;
      },
    );
    assert.equal(table.remoteMount('/srv/ftp'), undefined);
    // A FUSE mount under the root: a login flood reads the mounts once per period, not per login.
    text += '\n46 27 0:40 / /srv/ftp/remote rw - fuse.sshfs host:/ rw';
    now += MOUNTS_FRESH_MS - 1;
    assert.equal(table.remoteMount('/srv/ftp'), undefined);
    assert.equal(reads, 1);
    now += 1;
    assert.equal(table.remoteMount('/srv/ftp'), '/srv/ftp/remote');
    assert.equal(reads, 2);
  });

  it('mounts it cannot read: the root is judged not local, and read again at the next call', () => {
    let reads = 0;
    const table = new MountTable(
      () => 0,
      () => {
        reads++;
        return undefined;
      },
    );
    assert.equal(table.remoteMount('/srv/ftp'), '/srv/ftp');
    assert.equal(table.remoteMount('/srv/ftp'), '/srv/ftp');
    assert.equal(reads, 2);
  });
});
