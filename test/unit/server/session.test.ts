import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../../src/protocol/nt-status.js';
import { Command, CreateDisposition, Dialect, HeaderFlags } from '../../../src/protocol/smb2/constants.js';
import { encodeTreeConnectRequest } from '../../../src/protocol/smb2/commands/tree-connect.js';
import { encodeLogoffRequest } from '../../../src/protocol/smb2/commands/logoff.js';
import { defaultAccessPolicy } from '../../../src/config/server-config.js';
import { startTestServer, TEST_PASSWORD, TEST_SHARE, TEST_USER } from '../../support/raw-client.js';

const ALL = [0x0202, 0x0210, 0x0300, 0x0302, 0x0311];
const SHARE_PATH = `\\\\127.0.0.1\\${TEST_SHARE}`;

test('SESSION_SETUP with a wrong password gets STATUS_LOGON_FAILURE; an unknown user too', async () => {
  const srv = await startTestServer();
  try {
    for (const [user, password] of [
      [TEST_USER, 'wrong'],
      ['nobody', TEST_PASSWORD],
    ] as const) {
      const c = await srv.connect();
      await c.negotiate(ALL);
      const res = await c.sessionSetup(user, password);
      assert.equal(res.status, Status.LOGON_FAILURE, `${user}/${password}`);
      assert.equal(c.signingKey, undefined);
    }
  } finally {
    await srv.stop();
  }
});

test('a successful SESSION_SETUP is signed, on every dialect, and later responses verify', async () => {
  const srv = await startTestServer();
  try {
    for (const d of ALL) {
      const c = await srv.connect();
      await c.negotiate([d]);
      const res = await c.sessionSetup(TEST_USER, TEST_PASSWORD);
      assert.equal(res.status, Status.SUCCESS, `dialect ${d.toString(16)}`);
      assert.ok(res.header.flags & HeaderFlags.SIGNED, `final SESSION_SETUP response signed on ${d.toString(16)}`);
      assert.equal(res.signatureValid, true);
      const tc = await c.treeConnect(SHARE_PATH);
      assert.equal(tc.status, Status.SUCCESS);
      assert.equal(tc.signatureValid, true, `TREE_CONNECT response signature on ${d.toString(16)}`);
      c.destroy();
    }
  } finally {
    await srv.stop();
  }
});

test('on 3.x a request with a wrong signature closes the connection', async () => {
  const srv = await startTestServer();
  try {
    for (const d of [Dialect.SMB300, Dialect.SMB302, Dialect.SMB311]) {
      const c = await srv.connect();
      await c.negotiate([d]);
      assert.equal((await c.sessionSetup(TEST_USER, TEST_PASSWORD)).status, Status.SUCCESS);
      await assert.rejects(
        c.request(Command.TREE_CONNECT, (w) => encodeTreeConnectRequest(w, { flags: 0, path: SHARE_PATH }), { sign: 'bad' }),
        { name: 'ConnectionClosedError' },
      );
      assert.equal(await c.waitClosed(), true);
    }
  } finally {
    await srv.stop();
  }
});

test('on 3.1.1 an unsigned TREE_CONNECT of a user closes the connection (MS-SMB2 3.3.5.7); 3.0.2 takes it', async () => {
  for (const signingRequired of [true, false]) {
    const srv = await startTestServer({ signingRequired });
    try {
      const c = await srv.connect();
      await c.negotiate([Dialect.SMB311]);
      assert.equal((await c.sessionSetup(TEST_USER, TEST_PASSWORD)).status, Status.SUCCESS);
      const unsigned = c.request(Command.TREE_CONNECT, (w) => encodeTreeConnectRequest(w, { flags: 0, path: SHARE_PATH }), { sign: false });
      if (signingRequired) {
        // The signature check comes first (MS-SMB2 3.3.5.2.4): a session that requires signing refuses it.
        assert.equal((await unsigned).status, Status.ACCESS_DENIED);
        continue;
      }
      await assert.rejects(unsigned, { name: 'ConnectionClosedError' });
      const older = await srv.connect();
      await older.negotiate([Dialect.SMB302]);
      assert.equal((await older.sessionSetup(TEST_USER, TEST_PASSWORD)).status, Status.SUCCESS);
      const tc = await older.request(Command.TREE_CONNECT, (w) => encodeTreeConnectRequest(w, { flags: 0, path: SHARE_PATH }), { sign: false });
      assert.equal(tc.status, Status.SUCCESS);
    } finally {
      await srv.stop();
    }
  }
});

test('on 2.x a request with a wrong signature gets STATUS_ACCESS_DENIED and the connection stays', async () => {
  const srv = await startTestServer();
  try {
    for (const d of [Dialect.SMB202, Dialect.SMB210]) {
      const c = await srv.connect();
      await c.negotiate([d]);
      assert.equal((await c.sessionSetup(TEST_USER, TEST_PASSWORD)).status, Status.SUCCESS);
      const bad = await c.request(Command.TREE_CONNECT, (w) => encodeTreeConnectRequest(w, { flags: 0, path: SHARE_PATH }), {
        sign: 'bad',
      });
      assert.equal(bad.status, Status.ACCESS_DENIED);
      assert.equal((await c.treeConnect(SHARE_PATH)).status, Status.SUCCESS);
      c.destroy();
    }
  } finally {
    await srv.stop();
  }
});

test('unsigned requests on a signing-required session get STATUS_ACCESS_DENIED', async () => {
  const srv = await startTestServer();
  try {
    for (const d of [Dialect.SMB210, Dialect.SMB311]) {
      const c = await srv.connect();
      await c.negotiate([d]);
      assert.equal((await c.sessionSetup(TEST_USER, TEST_PASSWORD)).status, Status.SUCCESS);
      const res = await c.request(Command.TREE_CONNECT, (w) => encodeTreeConnectRequest(w, { flags: 0, path: SHARE_PATH }), {
        sign: false,
      });
      assert.equal(res.status, Status.ACCESS_DENIED, `dialect ${d.toString(16)}`);
      assert.equal((await c.treeConnect(SHARE_PATH)).status, Status.SUCCESS);
      const create = await c.create('x.txt', { opts: { sign: false } });
      assert.equal(create.status, Status.ACCESS_DENIED);
      c.destroy();
    }
  } finally {
    await srv.stop();
  }
});

test('after LOGOFF a signed request on the session gets USER_SESSION_DELETED, signed; an unsigned one gets it unsigned', async () => {
  // smbtorture smb2.connect under signing required: the client takes no unsigned answer to a signed request.
  const srv = await startTestServer();
  try {
    for (const d of [Dialect.SMB202, Dialect.SMB210, Dialect.SMB300, Dialect.SMB311]) {
      const c = await srv.connect();
      await c.negotiate([d]);
      assert.equal((await c.sessionSetup(TEST_USER, TEST_PASSWORD)).status, Status.SUCCESS);
      const logoff = await c.request(Command.LOGOFF, (w) => encodeLogoffRequest(w));
      assert.equal(logoff.status, Status.SUCCESS);
      assert.equal(logoff.signatureValid, true, `LOGOFF response signed on ${d.toString(16)}`);
      const again = await c.request(Command.LOGOFF, (w) => encodeLogoffRequest(w));
      assert.equal(again.status, Status.USER_SESSION_DELETED, `dialect ${d.toString(16)}`);
      assert.equal(again.signatureValid, true, `USER_SESSION_DELETED signed on ${d.toString(16)}`);
      const tc = await c.request(Command.TREE_CONNECT, (w) => encodeTreeConnectRequest(w, { flags: 0, path: SHARE_PATH }));
      assert.equal(tc.status, Status.USER_SESSION_DELETED);
      assert.equal(tc.signatureValid, true);
      const unsigned = await c.request(Command.LOGOFF, (w) => encodeLogoffRequest(w), { sign: false });
      assert.equal(unsigned.status, Status.USER_SESSION_DELETED);
      assert.equal(unsigned.header.flags & HeaderFlags.SIGNED, 0, 'no signature for a request its key did not sign');
      c.destroy();
    }
  } finally {
    await srv.stop();
  }
});

test('a signed request naming no session gets its USER_SESSION_DELETED signed with the key that signed it', async () => {
  // smbtorture smb2.compound.invalid2 sends session id all ones, signed with its session's key (Samba signs the answer).
  const srv = await startTestServer();
  try {
    const c = await srv.login([Dialect.SMB311]);
    const noSession = 0xffffffffffffffffn;
    c.signingKeys.set(noSession, c.signingKey!);
    const signed = await c.request(Command.LOGOFF, (w) => encodeLogoffRequest(w), { sessionId: noSession });
    assert.equal(signed.status, Status.USER_SESSION_DELETED);
    assert.equal(signed.signatureValid, true);
    c.signingKeys.set(noSession, Buffer.alloc(16, 7));
    const foreign = await c.request(Command.LOGOFF, (w) => encodeLogoffRequest(w), { sessionId: noSession });
    assert.equal(foreign.status, Status.USER_SESSION_DELETED);
    assert.equal(foreign.header.flags & HeaderFlags.SIGNED, 0, 'a key that is none of the connection\'s signs nothing');
    c.destroy();
  } finally {
    await srv.stop();
  }
});

test('a message id outside the credit window closes the connection', async () => {
  const srv = await startTestServer();
  try {
    // Far beyond what was granted.
    const c = await srv.login();
    await assert.rejects(c.echo({ messageId: c.nextMessageId + 100_000n }), { name: 'ConnectionClosedError' });
    assert.equal(await c.waitClosed(), true);

    // An id already used.
    const c2 = await srv.login();
    await assert.rejects(c2.echo({ messageId: 1n, keepCounter: true }), { name: 'ConnectionClosedError' });
    assert.equal(await c2.waitClosed(), true);

    // A multi-credit request whose charge runs past the window.
    const c3 = await srv.login();
    const granted = BigInt(c3.credits);
    await assert.rejects(c3.echo({ creditCharge: Number(granted) + 5 }), { name: 'ConnectionClosedError' });
    assert.equal(await c3.waitClosed(), true);
  } finally {
    await srv.stop();
  }
});

test('credits: message ids advance by CreditCharge and the server keeps granting', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    await c.ensureCredits(200);
    const before = c.nextMessageId;
    const res = await c.echo({ creditCharge: 3 });
    assert.equal(res.status, Status.SUCCESS);
    assert.equal(res.header.messageId, before);
    assert.equal(c.nextMessageId, before + 3n);
    assert.ok(res.header.credits >= 3);
    // A request using an id skipped by nobody (the window is contiguous) still works.
    assert.equal((await c.echo()).status, Status.SUCCESS);
  } finally {
    await srv.stop();
  }
});

test('an unknown command code closes the connection without an error response (MS-SMB2 3.3.5.2.6)', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const before = c.received.length;
    await assert.rejects(c.request(0x0013, (w) => w.u16(4).u16(0)), { name: 'ConnectionClosedError' });
    assert.equal(await c.waitClosed(), true);
    assert.equal(c.received.length, before);
  } finally {
    await srv.stop();
  }
});

test('failed logons on a logged-on connection leave no session behind (smbtorture smb2.secleak)', async () => {
  // Without the brute-force slowdown (tested in access.test), 50 failures would take three minutes of waiting.
  const srv = await startTestServer({ access: { ...defaultAccessPolicy(), bruteForce: { failures: 0, windowMs: 60_000, delayMs: 0, blockMs: 0 } } });
  try {
    const c = await srv.login();
    assert.equal(srv.server.sessions.size, 1);
    for (let i = 0; i < 50; i++) assert.equal((await c.sessionSetup('INVALID-USERNAME', 'INVALID-PASSWORD')).status, Status.LOGON_FAILURE);
    assert.equal(srv.server.sessions.size, 1);
    // The session that logged on first still works.
    const open = await c.create('after-failures', { createDisposition: CreateDisposition.CREATE });
    assert.equal(open.status, Status.SUCCESS);
  } finally {
    await srv.stop();
  }
});
