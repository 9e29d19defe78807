/**
 * `ferry put 'dir/*'` sends local files whose names are not UTF-8 (a Latin-1 `l\xe9tin.txt`) under
 * the same bytes, as `ferry mirror` does, to a server that takes such names (vsftpd): the pattern
 * read the directory as UTF-8 text, so the name became U+FFFD and the file was not found (ENOENT).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { startVsftpd, type FtpsPeer } from '../support/peers.js';
import { ferry } from './helpers.js';

const LATIN = Buffer.from('l\xe9tin.txt', 'latin1');

describe('put of a pattern: local names that are not UTF-8 (vsftpd)', { timeout: 120_000 }, () => {
  let peer: FtpsPeer;
  let home: string;

  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-put-raw-names-'));
    peer = await startVsftpd();
    await peer.putFile('lat/.keep', '');
  });
  after(async () => {
    await peer?.stop();
    await rm(home, { recursive: true, force: true });
  });

  it('sends them under their own bytes', async () => {
    const src = path.join(home, 'lat');
    await mkdir(src);
    await writeFile(Buffer.concat([Buffer.from(`${src}/`), LATIN]), 'latin-1 named\n');
    await writeFile(path.join(src, 'plain.txt'), 'plain\n');
    const env = {
      HOME: home,
      FERRY_PASSWORD: peer.password,
      FERRY_KNOWN_HOSTS: path.join(home, 'known_hosts'),
    };
    const url = `ftpes://${peer.user}@${peer.host}:${peer.port}/lat/`;
    const r = await ferry(['put', '--ca', peer.certificate.certFile, '--quiet', `${src}/*`, url], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    const names = await readdir(path.join(peer.root, 'lat'), { encoding: 'buffer' });
    assert.deepEqual(names.map((n) => n.toString('latin1')).sort(), [
      '.keep',
      LATIN.toString('latin1'),
      'plain.txt',
    ]);
    const sent = await readFile(Buffer.concat([Buffer.from(`${peer.root}/lat/`), LATIN]), 'utf8');
    assert.equal(sent, 'latin-1 named\n');
  });
});
