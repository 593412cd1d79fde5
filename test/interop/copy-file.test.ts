/**
 * share.copyFile (server-side copy with FSCTL_SRV_COPYCHUNK) against Samba (127.0.0.102) and smbkit (127.0.0.103):
 * files from empty to past one request's 16 MiB, checked against the bytes on each server's disk, and
 * COPYFILE_EXCL refusing an existing destination.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type Client } from '../../src/index.js';
import { MiB } from './harness/files.js';
import { startSamba, type SambaServer } from './harness/samba.js';
import { startSmbkit, type SmbkitServer } from './harness/smbkit.js';

const USER = 'copy_user';
const PASSWORD = 'C0py pass!';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function copyFileSuite(name: string, host: string, start: () => Promise<{ dataDir: string; stop: () => Promise<void> }>): void {
  describe(`share.copyFile against ${name}`, { timeout: 180_000 }, () => {
    let server: { dataDir: string; stop: () => Promise<void> } | undefined;
    let client: Client | undefined;
    before(async () => {
      server = await start();
      client = await connect({ host, share: 'data', user: USER, password: PASSWORD, signing: 'required', timeoutMs: 60_000 });
    });
    after(async () => {
      await client?.close();
      await server?.stop();
    });

    for (const size of [0, 1, 65_537, 16 * MiB, 40 * MiB + 5]) {
      test(`${size} bytes copy on the server and land intact`, async () => {
        const s = client!.share();
        const data = randomBytes(size);
        await s.writeFile(`src-${size}.bin`, data);
        assert.equal(await s.copyFile(`src-${size}.bin`, `dst-${size}.bin`), size);
        assert.equal(sha(await s.readFile(`dst-${size}.bin`)), sha(data));
        assert.equal(sha(await readFile(join(server!.dataDir, `dst-${size}.bin`))), sha(data));
      });
    }

    test('a copy replaces an existing destination; COPYFILE_EXCL refuses it', async () => {
      const s = client!.share();
      await s.writeFile('a.txt', 'new contents');
      await s.writeFile('b.txt', 'an older and longer content');
      await s.copyFile('a.txt', 'b.txt');
      assert.equal(await s.readFile('b.txt', 'utf8'), 'new contents');
      await assert.rejects(s.copyFile('a.txt', 'b.txt', 1), { code: 'EEXIST' });
      await assert.rejects(s.copyFile('missing.txt', 'c.txt'), { code: 'ENOENT' });
    });
  });
}

copyFileSuite('Samba', '127.0.0.102', async () => {
  const samba: SambaServer = await startSamba({
    address: '127.0.0.102',
    ports: [445],
    users: [{ name: USER, password: PASSWORD }],
    shares: [{ name: 'data' }],
  });
  return { dataDir: samba.sharePaths.get('data')!, stop: () => samba.stop() };
});

copyFileSuite('smbkit', '127.0.0.103', async () => {
  const s: SmbkitServer = await startSmbkit({
    address: '127.0.0.103',
    port: 445,
    users: [{ name: USER, password: PASSWORD }],
    shares: [{ name: 'data' }],
  });
  return { dataDir: s.sharePaths.get('data')!, stop: () => s.stop() };
});
