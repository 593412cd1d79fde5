import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryUserStore } from '../../../src/auth/users.js';
import { Status } from '../../../src/protocol/nt-status.js';
import { Command, Dialect, GlobalCapabilities, HashAlgorithm, HeaderFlags, OplockLevel, SigningAlgorithm } from '../../../src/protocol/smb2/constants.js';
import { encodeSessionSetupRequest } from '../../../src/protocol/smb2/commands/session-setup.js';
import type { NegotiateContext } from '../../../src/protocol/smb2/contexts/negotiate-contexts.js';
import { randomBytes } from 'node:crypto';
import { RawClient, startTestServer, TEST_PASSWORD, TEST_SHARE, TEST_USER, type TestServer } from '../../support/raw-client.js';

const SHARE_PATH = `\\\\127.0.0.1\\${TEST_SHARE}`;
const OTHER_USER = 'u2';
const OTHER_PASSWORD = 'An0ther pass';

const start = (overrides: Parameters<typeof startTestServer>[0] = {}) =>
  startTestServer({ multichannel: true, users: new MemoryUserStore().add(TEST_USER, TEST_PASSWORD).add(OTHER_USER, OTHER_PASSWORD), ...overrides });

/** 3.1.1 negotiate contexts offering one signing algorithm. */
function signingContexts(algorithm: number): NegotiateContext[] {
  return [
    { kind: 'preauthIntegrity', hashAlgorithms: [HashAlgorithm.SHA512], salt: randomBytes(32) },
    { kind: 'signing', signingAlgorithms: [algorithm] },
  ];
}

/** A logged-in client on `dialect` with a tree connect, and a second connection negotiated the same way. */
async function twoConnections(srv: TestServer, dialect: number, contexts?: NegotiateContext[]): Promise<[RawClient, RawClient]> {
  const a = await srv.connect();
  assert.equal((await a.negotiate([dialect], contexts)).status, Status.SUCCESS);
  assert.equal((await a.sessionSetup(TEST_USER, TEST_PASSWORD)).status, Status.SUCCESS);
  assert.equal((await a.treeConnect(SHARE_PATH)).status, Status.SUCCESS);
  const b = await srv.connect();
  assert.equal((await b.negotiate([dialect], contexts)).status, Status.SUCCESS);
  return [a, b];
}

test('SMB2_GLOBAL_CAP_MULTI_CHANNEL is advertised on 3.x only, and only when multichannel is on', async () => {
  for (const multichannel of [true, false]) {
    const srv = await start({ multichannel });
    try {
      for (const d of [Dialect.SMB202, Dialect.SMB210, Dialect.SMB300, Dialect.SMB302, Dialect.SMB311]) {
        const c = await srv.connect();
        assert.equal((await c.negotiate([d])).status, Status.SUCCESS);
        const advertised = (c.negotiateResponse!.capabilities & GlobalCapabilities.MULTI_CHANNEL) !== 0;
        assert.equal(advertised, multichannel && d >= Dialect.SMB300, `dialect ${d.toString(16)}, multichannel ${multichannel}`);
        c.destroy();
      }
    } finally {
      await srv.stop();
    }
  }
});

test('a bound connection serves the session: its trees and opens, signed with the channel key (3.0, 3.0.2, 3.1.1)', async () => {
  const srv = await start();
  try {
    for (const d of [Dialect.SMB300, Dialect.SMB302, Dialect.SMB311]) {
      const [a, b] = await twoConnections(srv, d);
      const f = await a.create(`mc-${d.toString(16)}.txt`);
      assert.equal(f.status, Status.SUCCESS);
      assert.equal((await a.write(f.fileId, 0, Buffer.from('over two channels'))).status, Status.SUCCESS);
      const session = a.sessionKeyOf()!;
      const bound = await b.bindSession(TEST_USER, TEST_PASSWORD, session);
      assert.equal(bound.status, Status.SUCCESS, `bind on ${d.toString(16)}`);
      assert.equal(bound.header.sessionId, session.id);
      assert.equal(bound.signatureValid, true, 'the final binding response is signed with the channel key');
      assert.notDeepEqual(b.signingKey, session.key, 'the channel has a key of its own');
      b.treeId = a.treeId;
      const read = await b.read(f.fileId, 0, 100);
      assert.equal(read.status, Status.SUCCESS);
      assert.equal(read.data.toString(), 'over two channels');
      assert.equal(read.response.signatureValid, true);
      // The first channel still works with the session's key.
      assert.equal((await a.read(f.fileId, 0, 4)).status, Status.SUCCESS);
      // On the bound connection the session's own key is not the signing key: 3.x disconnects.
      b.signingKeys.set(session.id, session.key);
      await assert.rejects(b.treeConnect(SHARE_PATH), { name: 'ConnectionClosedError' });
      a.destroy();
      b.destroy();
    }
  } finally {
    await srv.stop();
  }
});

test('a lost channel drops only itself; the session and its opens go with the last channel', async () => {
  const srv = await start();
  try {
    const [a, b] = await twoConnections(srv, Dialect.SMB311);
    const f = await a.create('survivor.txt');
    assert.equal(f.status, Status.SUCCESS);
    const session = a.sessionKeyOf()!;
    assert.equal((await b.bindSession(TEST_USER, TEST_PASSWORD, session)).status, Status.SUCCESS);
    b.treeId = a.treeId;
    a.destroy();
    await a.waitClosed();
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(srv.server.sessions.has(session.id), 'the session outlives its first connection');
    assert.equal((await b.write(f.fileId, 0, Buffer.from('still here'))).status, Status.SUCCESS);
    assert.equal((await b.close(f.fileId)).status, Status.SUCCESS);
    const g = await b.create('survivor.txt');
    assert.equal(g.status, Status.SUCCESS);
    b.destroy();
    await b.waitClosed();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(srv.server.sessions.has(session.id), false, 'the last channel takes the session');
    const c = await srv.login([Dialect.SMB311]);
    const again = await c.create('survivor.txt', { shareAccess: 0 });
    assert.equal(again.status, Status.SUCCESS, 'no open of the ended session is left');
    c.destroy();
  } finally {
    await srv.stop();
  }
});

test('an oplock break goes to a live channel once the connection that opened the file is gone', async () => {
  const srv = await start();
  try {
    const [a, b] = await twoConnections(srv, Dialect.SMB311);
    const f = await a.create('batch.txt', { oplockLevel: OplockLevel.BATCH });
    assert.equal(f.create?.oplockLevel, OplockLevel.BATCH);
    assert.equal((await b.bindSession(TEST_USER, TEST_PASSWORD, a.sessionKeyOf()!)).status, Status.SUCCESS);
    b.treeId = a.treeId;
    a.destroy();
    await a.waitClosed();
    await new Promise((r) => setTimeout(r, 100));
    const other = await srv.login([Dialect.SMB311]);
    const pending = other.create('batch.txt');
    const brk = await b.nextBreak();
    assert.ok(brk, 'the break reached the remaining channel');
    assert.equal((await b.ackOplock(f.fileId, OplockLevel.II)).status, Status.SUCCESS);
    assert.equal((await pending).status, Status.SUCCESS);
    other.destroy();
    b.destroy();
  } finally {
    await srv.stop();
  }
});

test('binding refusals: unknown session, unsigned, other dialect, 2.x, multichannel off, signing algorithms', async () => {
  const srv = await start();
  try {
    const [a, b] = await twoConnections(srv, Dialect.SMB311, signingContexts(SigningAlgorithm.AES_CMAC));
    const session = a.sessionKeyOf()!;
    assert.equal((await b.bindSession(TEST_USER, TEST_PASSWORD, { ...session, id: session.id ^ 0x55n })).status, Status.USER_SESSION_DELETED);
    assert.equal((await b.bindSession(TEST_USER, TEST_PASSWORD, session, { sign: false })).status, Status.INVALID_PARAMETER);
    const c302 = await srv.connect();
    await c302.negotiate([Dialect.SMB302]);
    const wrongDialect = await c302.bindSession(TEST_USER, TEST_PASSWORD, session);
    assert.equal(wrongDialect.status, Status.INVALID_PARAMETER);
    assert.ok(wrongDialect.header.flags & HeaderFlags.SIGNED);
    assert.equal(wrongDialect.signatureValid, true, 'a refusal is signed with the session key');
    const c21 = await srv.connect();
    await c21.negotiate([Dialect.SMB210]);
    const on21 = await c21.bindSession(TEST_USER, TEST_PASSWORD, session);
    assert.equal(on21.status, Status.REQUEST_NOT_ACCEPTED);
    assert.equal(on21.signatureValid, true);
    // AES-GMAC on one side only (Windows' statuses, smbtorture smb2.session.bind_negative_smb3sign*).
    const gmac = await srv.connect();
    await gmac.negotiate([Dialect.SMB311], signingContexts(SigningAlgorithm.AES_GMAC));
    assert.equal((await gmac.bindSession(TEST_USER, TEST_PASSWORD, session)).status, Status.NOT_SUPPORTED);
    const [g1, g2] = await twoConnections(srv, Dialect.SMB311, signingContexts(SigningAlgorithm.AES_GMAC));
    const cmac = await srv.connect();
    await cmac.negotiate([Dialect.SMB311], signingContexts(SigningAlgorithm.AES_CMAC));
    assert.equal((await cmac.bindSession(TEST_USER, TEST_PASSWORD, g1.sessionKeyOf()!)).status, Status.REQUEST_OUT_OF_SEQUENCE);
    // GMAC to GMAC binds, and HMAC-SHA256 may differ from the session's AES-CMAC.
    assert.equal((await g2.bindSession(TEST_USER, TEST_PASSWORD, g1.sessionKeyOf()!)).status, Status.SUCCESS);
    const hmac = await srv.connect();
    await hmac.negotiate([Dialect.SMB311], signingContexts(SigningAlgorithm.HMAC_SHA256));
    assert.equal((await hmac.bindSession(TEST_USER, TEST_PASSWORD, session)).status, Status.SUCCESS);
    hmac.treeId = a.treeId;
    assert.equal((await hmac.create('hmac-channel.txt')).response.signatureValid, true);
    // The session is untouched by the refusals.
    assert.equal((await a.create('still.txt')).status, Status.SUCCESS);
  } finally {
    await srv.stop();
  }
  const off = await start({ multichannel: false });
  try {
    const [a, b] = await twoConnections(off, Dialect.SMB311);
    assert.equal((await b.bindSession(TEST_USER, TEST_PASSWORD, a.sessionKeyOf()!)).status, Status.REQUEST_NOT_ACCEPTED);
  } finally {
    await off.stop();
  }
});

test('binding as another user, with a wrong password, or a guest session fails and leaves the session as it was', async () => {
  const srv = await start({ allowGuest: true });
  try {
    const [a, b] = await twoConnections(srv, Dialect.SMB311);
    const session = a.sessionKeyOf()!;
    const other = await b.bindSession(OTHER_USER, OTHER_PASSWORD, session);
    assert.equal(other.status, Status.ACCESS_DENIED);
    const wrong = await b.bindSession(TEST_USER, 'wrong password', session);
    assert.equal(wrong.status, Status.LOGON_FAILURE);
    assert.ok(wrong.header.flags & HeaderFlags.SIGNED);
    assert.equal((await a.create('after-refusals.txt')).status, Status.SUCCESS, 'the session survives');
    // Not a channel: the session's requests on b are refused.
    b.signingKeys.set(session.id, session.key);
    b.sessionId = session.id;
    assert.equal((await b.treeConnect(SHARE_PATH)).status, Status.USER_SESSION_DELETED);
    b.signingKeys.delete(session.id);
    // Now the right user binds on the same connection.
    assert.equal((await b.bindSession(TEST_USER, TEST_PASSWORD, session)).status, Status.SUCCESS);
    assert.equal((await b.treeConnect(SHARE_PATH)).status, Status.SUCCESS);
    // A bound channel is not bound again (the request, signed with the session key, fails the channel's check).
    assert.equal((await b.bindSession(TEST_USER, TEST_PASSWORD, session)).status, Status.ACCESS_DENIED);
    // A guest session cannot be bound.
    const g = await srv.connect();
    await g.negotiate([Dialect.SMB311]);
    const guest = await g.sessionSetup('nobody', 'whatever');
    assert.equal(guest.status, Status.SUCCESS);
    const c = await srv.connect();
    await c.negotiate([Dialect.SMB311]);
    const bindGuest = await c.bindSession('nobody', 'whatever', { id: guest.header.sessionId, key: session.key, algorithm: SigningAlgorithm.AES_CMAC });
    assert.equal(bindGuest.status, Status.NOT_SUPPORTED);
  } finally {
    await srv.stop();
  }
});

test('a SESSION_SETUP without the binding flag for a session of another connection gets a signed USER_SESSION_DELETED', async () => {
  const srv = await start();
  try {
    const [a, b] = await twoConnections(srv, Dialect.SMB311);
    const session = a.sessionKeyOf()!;
    const res = await b.bindSession(TEST_USER, TEST_PASSWORD, session, { flags: 0 });
    assert.equal(res.status, Status.USER_SESSION_DELETED);
    assert.ok(res.header.flags & HeaderFlags.SIGNED);
    // And a SESSION_SETUP that is not even signed is refused the same way.
    const raw = await b.request(
      Command.SESSION_SETUP,
      (w) => encodeSessionSetupRequest(w, { flags: 0, securityMode: 1, capabilities: 0, channel: 0, previousSessionId: 0n, securityBuffer: Buffer.alloc(0) }),
      { sessionId: session.id, sign: false },
    );
    assert.equal(raw.status, Status.USER_SESSION_DELETED);
    // Signed by the session's holder, a request of another connection hears USER_SESSION_DELETED signed; signed
    // with any other key, the answer is not signed (no one else gets messages signed with the session's key).
    b.signingKeys.set(session.id, session.key);
    b.signingAlgorithm = session.algorithm;
    b.sessionId = session.id;
    const holder = await b.treeConnect(SHARE_PATH);
    assert.equal(holder.status, Status.USER_SESSION_DELETED);
    assert.ok(holder.header.flags & HeaderFlags.SIGNED);
    assert.equal(holder.signatureValid, true);
    b.signingKeys.set(session.id, Buffer.alloc(16, 7));
    const stranger = await b.treeConnect(SHARE_PATH);
    assert.equal(stranger.status, Status.USER_SESSION_DELETED);
    assert.equal(stranger.header.flags & HeaderFlags.SIGNED, 0);
  } finally {
    await srv.stop();
  }
});

test('a session takes at most 32 channels', async () => {
  const srv = await start();
  try {
    const [a, first] = await twoConnections(srv, Dialect.SMB311);
    const session = a.sessionKeyOf()!;
    const clients = [first];
    for (let i = 0; i < 31; i++) {
      const c = i === 0 ? first : await srv.connect();
      if (i > 0) {
        await c.negotiate([Dialect.SMB311]);
        clients.push(c);
      }
      assert.equal((await c.bindSession(TEST_USER, TEST_PASSWORD, session)).status, Status.SUCCESS, `channel ${i + 2}`);
    }
    const extra = await srv.connect();
    await extra.negotiate([Dialect.SMB311]);
    assert.equal((await extra.bindSession(TEST_USER, TEST_PASSWORD, session)).status, Status.INSUFFICIENT_RESOURCES);
    // One channel fewer makes room again.
    clients[5]!.destroy();
    await clients[5]!.waitClosed();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await extra.bindSession(TEST_USER, TEST_PASSWORD, session)).status, Status.SUCCESS);
  } finally {
    await srv.stop();
  }
});
