/**
 * Null sessions (smbclient -N, mount -t cifs -o guest) and guest shares: a guest share admits them; IPC$ only when
 * anonymous access is on; no other share ever. They have no key, so signing required does not apply to them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../../src/protocol/nt-status.js';
import { HeaderFlags, SessionFlags } from '../../../src/protocol/smb2/constants.js';
import { decodeSessionSetupResponse } from '../../../src/protocol/smb2/commands/session-setup.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { startTestServer, TEST_SHARE, type RawClient } from '../../support/raw-client.js';

const ALL = [0x0202, 0x0210, 0x0300, 0x0302, 0x0311];
const unc = (share: string): string => `\\\\127.0.0.1\\${share}`;

async function nullSession(c: RawClient, dialects = ALL): Promise<{ status: number; flags: number; signed: boolean }> {
  await c.negotiate(dialects);
  const res = await c.sessionSetup('', '');
  const flags = res.status === Status.SUCCESS ? decodeSessionSetupResponse(res.body).sessionFlags : 0;
  return { status: res.status, flags, signed: (res.header.flags & HeaderFlags.SIGNED) !== 0 };
}

test('with a guest share and anonymous off, a null session reaches the guest share only, unsigned under signing required', async () => {
  const srv = await startTestServer({
    allowGuest: true,
    allowAnonymous: false,
    signingRequired: true,
    shares: [
      { name: TEST_SHARE, store: new MemoryStore() },
      { name: 'public', store: new MemoryStore(), guest: true },
    ],
  });
  try {
    for (const d of ALL) {
      const c = await srv.connect();
      const s = await nullSession(c, [d]);
      assert.equal(s.status, Status.SUCCESS, `dialect ${d.toString(16)}`);
      assert.equal(s.flags & SessionFlags.IS_NULL, SessionFlags.IS_NULL, 'MS-SMB2 3.3.5.5.3: IS_NULL for an anonymous session');
      assert.equal(s.signed, false, 'no key: the final SESSION_SETUP response is not signed');
      assert.equal((await c.treeConnect(unc('public'))).status, Status.SUCCESS);
      const created = await c.create(`from-null-${d.toString(16)}.txt`);
      assert.equal(created.status, Status.SUCCESS, 'unsigned requests of a keyless session are served');
      assert.equal((await c.close(created.fileId)).status, Status.SUCCESS);
      assert.equal((await c.treeConnect(unc(TEST_SHARE))).status, Status.ACCESS_DENIED, 'not a guest share');
      assert.equal((await c.treeConnect(unc('IPC$'))).status, Status.ACCESS_DENIED, 'anonymous = false keeps it off IPC$');
      c.destroy();
    }
  } finally {
    await srv.stop();
  }
});

test('anonymous on, no guest share: a null session reaches IPC$ only', async () => {
  const srv = await startTestServer({ allowGuest: false, allowAnonymous: true });
  try {
    const c = await srv.connect();
    assert.equal((await nullSession(c)).status, Status.SUCCESS);
    assert.equal((await c.treeConnect(unc('IPC$'))).status, Status.SUCCESS);
    assert.equal((await c.treeConnect(unc(TEST_SHARE))).status, Status.ACCESS_DENIED);
    c.destroy();
  } finally {
    await srv.stop();
  }
});

test('no guest share and anonymous off (the defaults): a null session is refused at logon', async () => {
  const srv = await startTestServer({ allowGuest: false, allowAnonymous: false });
  try {
    const c = await srv.connect();
    assert.equal((await nullSession(c)).status, Status.LOGON_FAILURE);
    c.destroy();
  } finally {
    await srv.stop();
  }
});
