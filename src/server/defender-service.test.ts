import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { UserTable } from '../auth/users.js';
import { silentLogger } from '../logger.js';
import { MemoryStorage } from '../storage/memory.js';
import { DefenderService } from './defender-service.js';
import { resolveOptions } from './options.js';
import { WarningLimiter } from './warning-limiter.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ferry-defender-service-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function service(stateFile: string): DefenderService {
  const options = resolveOptions({
    authenticator: new UserTable([]),
    storageFor: () => new MemoryStorage(),
    defender: { stateFile, threshold: 2 },
  });
  return new DefenderService(options, silentLogger, new WarningLimiter(silentLogger));
}

test('the bans file is written when a ban changes and that write is complete at close; a service that saw no change writes nothing', async () => {
  const file = path.join(dir, 'bans.json');
  const quiet = service(file);
  await quiet.start();
  await quiet.close(); // e.g. a server whose listen failed (its port taken by a running one)
  assert.deepEqual(await readdir(dir), [], 'no file, no temp file');

  const busy = service(file);
  await busy.start();
  busy.record('192.0.2.7', 'tls-failure'); // 2 points: banned
  assert.ok(busy.banned('192.0.2.7'));
  await busy.close();
  assert.match(await readFile(file, 'utf8'), /192\.0\.2\.7/);
  assert.deepEqual(await readdir(dir), ['bans.json']);
});

test('with the defender off, an address on allow still counts alone, the rest of its /64 as one (a reload too)', async () => {
  const options = resolveOptions({
    authenticator: new UserTable([]),
    storageFor: () => new MemoryStorage(),
    defender: { enabled: false, allow: ['2001:db8:1::a/128'] },
  });
  const off = new DefenderService(options, silentLogger, new WarningLimiter(silentLogger));
  assert.equal(off.key('2001:db8:1::a'), '2001:db8:1::a');
  assert.equal(off.key('2001:db8:1::b'), '2001:db8:1::/64');
  off.setAllow(['2001:db8:1::b']);
  assert.equal(off.key('2001:db8:1::a'), '2001:db8:1::/64');
  assert.equal(off.key('2001:db8:1::b'), '2001:db8:1::b');
  await off.close();
});

test('a cluster worker refuses the addresses of a network ban its primary announced (ferry bans add), until lifted', async () => {
  const worker = service(path.join(dir, 'unused.json'));
  worker.forwardTo(() => {});
  worker.mirrorBan('192.0.2.0/24', Date.now() + 60_000);
  worker.mirrorBan('2001:db8::/32', Date.now() + 60_000);
  assert.equal(worker.banned('192.0.2.9'), true);
  assert.equal(worker.banned('192.0.3.9'), false);
  assert.equal(worker.banned('2001:db8:5::1'), true, 'an IPv6 network of another length than /64');
  worker.mirrorBan('192.0.2.0/24', 0);
  assert.equal(worker.banned('192.0.2.9'), false);
  await worker.close();
});
