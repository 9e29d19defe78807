/**
 * A key that is no option (a typo TypeScript did not see: the object was built in a variable, or
 * the caller is plain JavaScript) is refused with ERR_INVALID_OPTION naming it and the option it is
 * likely a misspelling of, before anything is sent. It was ignored: `securty: 'implicit'` tried
 * explicit FTPS against an implicit port and failed 10 s later with ERR_CLOSED, `singal` left a
 * transfer that could not be aborted.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { FerryClient, type ClientOptions } from '../../src/client/client.js';
import { mirror, type MirrorOptions } from '../../src/client/mirror.js';
import { FerryError } from '../../src/errors.js';
import { FakeFtp } from './support/fake-ftp.js';

/** Rejects with ERR_INVALID_OPTION whose message is `message`. */
const refused = (message: string) => (err: unknown) => {
  assert.ok(err instanceof FerryError, String(err));
  assert.equal(err.code, 'ERR_INVALID_OPTION', err.message);
  assert.equal(err.message, message);
  return true;
};

describe('options with unknown keys', () => {
  let fake: FakeFtp;
  let client: FerryClient;
  let dir: string;
  before(async () => {
    fake = await FakeFtp.start();
    client = await fake.connect();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-options-'));
  });
  after(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('connect() refuses them at once, naming the option meant', async () => {
    const base = { host: '127.0.0.1', port: fake.port, user: 'u', password: 'p' };
    // Built in a variable, as the tester's app did: TypeScript checks no excess keys then.
    const typos = { ...base, securty: 'implicit', conectTimeoutMs: 1000 };
    await assert.rejects(
      FerryClient.connect(typos as ClientOptions),
      refused('options.securty: unknown option (did you mean security?).'),
    );
    const late = { conectTimeoutMs: 1000 };
    await assert.rejects(
      FerryClient.connect({ ...base, security: 'none', allowPlain: true }, late as Partial<ClientOptions>),
      refused('options.conectTimeoutMs: unknown option (did you mean connectTimeoutMs?).'),
    );
    await assert.rejects(
      FerryClient.connect(`ftp://u:p@127.0.0.1:${fake.port}/`, { allowPlain: true, ...late }),
      refused('options.conectTimeoutMs: unknown option (did you mean connectTimeoutMs?).'),
    );
    // Nothing like any option: named alone.
    const odd = { ...base, security: 'none', allowPlain: true, colour: 'blue' };
    await assert.rejects(
      FerryClient.connect(odd as ClientOptions),
      refused('options.colour: unknown option.'),
    );
    // credentials (where a URL's password comes from) is one of connect()'s options.
    const c = await FerryClient.connect(`ftp://u@127.0.0.1:${fake.port}/`, {
      allowPlain: true,
      credentials: { env: { FERRY_PASSWORD: 'p' }, netrcFile: false },
    });
    assert.equal(await c.pwd(), '/');
    await c.close();
  });

  it('the calls refuse them before sending anything', async () => {
    const sent = fake.commands.length;
    const signal = new AbortController().signal;
    const get = { singal: signal } as Parameters<FerryClient['get']>[2];
    await assert.rejects(
      client.get('f', path.join(dir, 'f'), get),
      refused('get() options.singal: unknown option (did you mean signal?).'),
    );
    const put = { resum: true } as Parameters<FerryClient['put']>[2];
    await assert.rejects(
      client.put(path.join(dir, 'f'), 'f', put),
      refused('put() options.resum: unknown option (did you mean resume?).'),
    );
    const list = { al: true } as Parameters<FerryClient['list']>[1];
    await assert.rejects(
      client.list('', list),
      refused('list() options.al: unknown option (did you mean all?).'),
    );
    const raw = { all: true } as Parameters<FerryClient['listRaw']>[2];
    await assert.rejects(client.listRaw('', 'LIST', raw), refused('listRaw() options.all: unknown option.'));
    const mkdir = { parent: true } as Parameters<FerryClient['mkdir']>[1];
    await assert.rejects(
      client.mkdir('d', mkdir),
      refused('mkdir() options.parent: unknown option (did you mean parents?).'),
    );
    const remove = { recursively: true } as Parameters<FerryClient['remove']>[1];
    await assert.rejects(
      client.remove('d', remove),
      refused('remove() options.recursively: unknown option (did you mean recursive?).'),
    );
    const sum = { sise: 3 } as Parameters<FerryClient['checksum']>[1];
    await assert.rejects(
      client.checksum('f', sum),
      refused('checksum() options.sise: unknown option (did you mean size?).'),
    );
    const m = { direction: 'download', local: dir, remote: '', dryrun: true } as unknown as MirrorOptions;
    await assert.rejects(
      mirror(client, m),
      refused('mirror() options.dryrun: unknown option (did you mean dryRun?).'),
    );
    assert.deepEqual(fake.commands.slice(sent), []);
    // The client is still usable.
    assert.equal(await client.pwd(), '/');
  });
});
