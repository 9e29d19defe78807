/**
 * Active mode to a link-local IPv6 client: EPRT cannot carry a zone, so the server must reach the
 * client through the control connection's interface (it failed at once: `425`, EINVAL). Needs a
 * network namespace of its own (root, iproute2): two veth ends in it, fe80::1 and fe80::2, and the
 * exchange run inside it (test/support/link-local-active.ts); skipped where none can be made.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';

const run = promisify(execFile);
const NS = `ferry-ll-${process.pid}`;
const ip = (...args: string[]): Promise<unknown> => run('ip', ['-n', NS, ...args]);

let made = false;
before(async () => {
  if (process.getuid?.() !== 0) return;
  try {
    await run('ip', ['netns', 'add', NS]);
    made = true;
    await ip('link', 'add', 'lla', 'type', 'veth', 'peer', 'name', 'llb');
    await ip('link', 'set', 'lla', 'up');
    await ip('link', 'set', 'llb', 'up');
    await ip('addr', 'add', 'fe80::1/64', 'dev', 'lla', 'nodad');
    await ip('addr', 'add', 'fe80::2/64', 'dev', 'llb', 'nodad');
  } catch {
    // No namespaces here (a container without CAP_SYS_ADMIN): the test is skipped.
  }
});
after(async () => {
  if (made) await run('ip', ['netns', 'del', NS]);
});

test("EPRT to a link-local address: the data connection goes out on the control connection's interface", async (t) => {
  if (!made) return t.skip('needs root and ip netns');
  const child = fileURLToPath(new URL('../support/link-local-active.js', import.meta.url));
  const { stdout } = await run('ip', [
    'netns',
    'exec',
    NS,
    process.execPath,
    child,
    'fe80::1%lla',
    'fe80::2',
    'llb',
  ]);
  assert.deepEqual(JSON.parse(stdout.trim().split('\n').pop() ?? '{}'), {
    eprt: 200,
    replies: ['150', '226 Transfer complete.'],
    // Sent from our end of the control connection (fe80::1), as the client on llb sees it.
    from: 'fe80::1%llb',
    body: 'over a link-local address\n',
  });
});
