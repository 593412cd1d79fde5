/**
 * Guest shares and clients without a password, with the real smbclient against the smbkit CLI in its default
 * settings (signing required, anonymous = false) on 127.0.0.112 (SMBKIT_GUEST_HOST picks another loopback address):
 * `smbclient -N` (the local user's name, no password) and `smbclient -N -U%` (a null session) use a guest share,
 * read and write, and are refused on any other share and on IPC$ (the share list).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, type RunResult } from './harness/proc.js';
import { writeAuthFile } from './harness/smbclient.js';
import { startSmbkit, type SmbkitServer } from './harness/smbkit.js';

const HOST = process.env['SMBKIT_GUEST_HOST'] || '127.0.0.112';
const USER = 'guest_t';
const PASSWORD = 'Gu3st test!';
const haveSmbclient = existsSync('/usr/bin/smbclient');

function show(r: RunResult): string {
  return `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

describe('guest shares and null sessions with smbclient (smbkit CLI, default settings)', { skip: !haveSmbclient && 'smbclient missing' }, () => {
  let server: SmbkitServer;

  before(async () => {
    server = await startSmbkit({
      address: HOST,
      users: [{ name: USER, password: PASSWORD }],
      shares: [{ name: 'public', guest: true }, { name: 'private' }],
    });
    await writeFile(join(server.sharePaths.get('public')!, 'welcome.txt'), 'hello guests\n');
  });

  after(async () => {
    await server?.stop();
  });

  const smbclient = (target: string[], credentials: string[], protocol = 'SMB3_11') =>
    run('/usr/bin/smbclient', [
      ...target,
      '--configfile=/dev/null',
      ...credentials,
      `--option=client max protocol=${protocol}`,
      '--option=client min protocol=SMB2_02',
    ], { timeoutMs: 30_000, cwd: server.dir });

  for (const [what, credentials] of [
    ['smbclient -N (a name, no password)', ['-N']],
    ['smbclient -N -U% (a null session)', ['-N', '-U%']],
  ] as const) {
    for (const protocol of ['SMB2_02', 'SMB3_11']) {
      it(`${what} lists and writes the guest share (${protocol})`, async () => {
        const name = `from-${credentials.length}-${protocol}.txt`;
        await writeFile(join(server.dir, name), 'written by a guest\n');
        const put = await smbclient([`//${HOST}/public`, '-c', `put ${name}; ls`], [...credentials], protocol);
        assert.equal(put.code, 0, show(put));
        assert.match(put.stdout, /welcome\.txt/, show(put));
        assert.equal(await readFile(join(server.sharePaths.get('public')!, name), 'utf8'), 'written by a guest\n');
      });
    }

    it(`${what} is refused on a share that is not a guest share`, async () => {
      const r = await smbclient([`//${HOST}/private`, '-c', 'ls'], [...credentials]);
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stdout + r.stderr, /NT_STATUS_ACCESS_DENIED/, show(r));
    });

    it(`${what} cannot list the shares: anonymous = false keeps it off IPC$`, async () => {
      const r = await smbclient(['-L', `//${HOST}`], [...credentials]);
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stdout + r.stderr, /NT_STATUS_ACCESS_DENIED/, show(r));
      assert.doesNotMatch(r.stdout, /\tpublic\s+Disk/, show(r));
    });
  }

  it('a user with a password still lists the shares, with signing required', async () => {
    const auth = await writeAuthFile(USER, PASSWORD);
    try {
      const r = await smbclient(['-L', `//${HOST}`], ['-A', auth.path, '--client-protection=sign']);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /\tprivate\s+Disk/, show(r));
    } finally {
      await auth.cleanup();
    }
  });
});
