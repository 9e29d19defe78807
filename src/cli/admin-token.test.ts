import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from './config.js';

let dir: string;
before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-admin-token-'))));
after(() => rm(dir, { recursive: true, force: true }));

const SECRET = 'k3Yq9vT2xLmP8wRz';

async function loaded(token: string): Promise<string | undefined> {
  const file = path.join(dir, 'ferry.yaml');
  await writeFile(file, `admin:\n  listen: 127.0.0.1:0\n  token: ${token}\n`);
  return (await loadConfig(file)).admin?.token;
}

/** The error loading refuses `token` with: names the key, never the token. */
async function refusal(token: string): Promise<string> {
  const err = (await loaded(token).then(
    () => assert.fail(`accepted ${token}`),
    (e: unknown) => e,
  )) as { code: string; message: string };
  assert.equal(err.code, 'ERR_INVALID_OPTION');
  assert.ok(!err.message.includes(SECRET.slice(0, 8)), err.message);
  assert.match(err.message, /: admin\.token: /);
  return err.message;
}

test('admin.token with a space or newline at an end is refused at load, naming the setting', async () => {
  // Every request would get 401: a client's Authorization header never carries them.
  assert.match(await refusal(`"${SECRET} "`), /spaces or a newline at its start or end/);
  assert.match(await refusal(`" ${SECRET}"`), /spaces or a newline at its start or end/);
  assert.match(await refusal(`|\n    ${SECRET}\n`), /YAML \| block: use \|-/);
  assert.equal(await loaded(`|-\n    ${SECRET}\n`), SECRET);
});

test('admin.token empty, only spaces, with a space inside, or too short is refused; a good one loads', async () => {
  assert.match(await refusal('""'), /empty/);
  assert.match(await refusal('"                    "'), /empty/);
  assert.match(
    await refusal(`"${SECRET.slice(0, 8)} ${SECRET.slice(8)}"`),
    /one line of printable characters without spaces/,
  );
  assert.match(await refusal(SECRET.slice(0, 15)), /at least 16 characters/);
  assert.equal(await loaded(SECRET), SECRET);
});
