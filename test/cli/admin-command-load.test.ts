// An admin command (`ferry users`, `ferry hash-password`…) loads its own modules, not the server's
// start-up, the client and the probe: those cost ~0.35 s of CPU in each run of `ferry users`, which
// scripts and the tests run hundreds of times. Its modules, zod, yaml and commander come bundled
// (cli/admin-bundle.ts), a few files instead of ~550: ~0.16 s less. `ferry --help` still lists every
// command.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { bundledSources, unusedZod } from '../support/bundled-sources.js';
import { runFerry } from '../support/ferry-process.js';
import { REPO_ROOT } from '../support/peers.js';

const TRACE = pathToFileURL(path.join(REPO_ROOT, 'dist/test/support/import-trace.js')).href;
/** The modules of the other commands: the server's start-up, the client's and the probe's. */
const OTHERS = /dist\/src\/cli\/(serve|serve-bundle|client-bundle|probe-bundle)\.js$/m;
/** The packages the admin bundle holds: zod alone was 95 modules, yaml 72 through the CommonJS loader. */
const BUNDLED = /\/node_modules\/(zod|yaml|commander)\//m;

describe('what an admin command loads', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-admin-load-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** `ferry ARGS` under an import trace: its output and the modules it loaded. */
  async function traced(
    name: string,
    args: string[],
    input?: string,
  ): Promise<{ stdout: string; loaded: string }> {
    const trace = path.join(dir, name);
    const r = await runFerry(args, input, { NODE_OPTIONS: `--import=${TRACE}`, FERRY_IMPORT_TRACE: trace });
    assert.equal(r.code, 0, r.stderr);
    return { stdout: r.stdout, loaded: await readFile(trace, 'utf8') };
  }

  test('ferry users list: users.ts in the admin bundle, with zod, yaml and commander; none of the other commands', async () => {
    const { stdout, loaded } = await traced('users', ['users', 'list', '--data-dir', path.join(dir, 'data')]);
    assert.match(stdout, /no users/);
    assert.match(loaded, /dist\/src\/cli\/admin-bundle\.js$/m);
    const sources = await bundledSources(loaded, 'admin-bundle');
    assert.ok(sources.includes('src/cli/users.ts'), loaded);
    assert.doesNotMatch(loaded, /dist\/src\/cli\/users\.js$/m); // bundled, not loaded on its own
    assert.deepEqual(unusedZod(sources), []);
    assert.doesNotMatch(loaded, BUNDLED);
    assert.doesNotMatch(loaded, OTHERS);
  });

  test('ferry hash-password: its module alone', async () => {
    const { stdout, loaded } = await traced('hash', ['hash-password'], 'pw\n');
    assert.match(stdout, /^scrypt\$/);
    assert.doesNotMatch(loaded, OTHERS);
    const sources = await bundledSources(loaded, 'admin-bundle');
    assert.ok(sources.includes('src/cli/hash-password.ts'), loaded);
    assert.ok(!sources.includes('src/cli/users.ts'), loaded);
  });

  test('ferry --help still lists every command', async () => {
    const { code, stdout } = await runFerry(['--help']);
    assert.equal(code, 0);
    for (const name of ['serve', 'users', 'bans', 'who', 'kick', 'db', 'hash-password', 'probe', 'get'])
      assert.match(stdout, new RegExp(`^  ${name}\\b`, 'm'), name);
  });
});
