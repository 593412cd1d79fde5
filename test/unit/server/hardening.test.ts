/**
 * The server's protections, over real TCP connections to an in-process server: host lists checked before any byte,
 * connection and session limits, the handshake deadline, brute-force blocking that expires, and the audit log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Status } from '../../../src/protocol/nt-status.js';
import { Command, InfoType } from '../../../src/protocol/smb2/constants.js';
import { encodeSetInfoRequest } from '../../../src/protocol/smb2/commands/set-info.js';
import { encodeSetFileInfo, FileInfoClass, type SetFileInfo } from '../../../src/protocol/smb2/fscc/file-info.js';
import { Writer } from '../../../src/util/writer.js';
import { defaultAccessPolicy } from '../../../src/config/server-config.js';
import { parseCidr } from '../../../src/util/cidr.js';
import { MemoryStore } from '../../../src/store/memory.js';
import type { AccessPolicy } from '../../../src/server/access.js';
import { RawClient, startTestServer, TEST_PASSWORD, TEST_SHARE, TEST_USER } from '../../support/raw-client.js';

function setInfoBuffer(info: SetFileInfo): Buffer {
  const w = new Writer(128);
  encodeSetFileInfo(w, info);
  return Buffer.from(w.finish());
}

function policy(over: Partial<AccessPolicy>): AccessPolicy {
  return { ...defaultAccessPolicy(), ...over };
}

test('hosts_allow/hosts_deny refuse an address before negotiate', async () => {
  const t = await startTestServer({ access: policy({ hostsAllow: [parseCidr('127.0.0.0/8')], hostsDeny: [parseCidr('127.0.0.99')] }) });
  try {
    const denied = await RawClient.connect('127.0.0.1', t.port, '127.0.0.99');
    assert.equal(await denied.waitClosed(5000), true, 'a denied address is closed at once');
    const ok = await RawClient.connect('127.0.0.1', t.port, '127.0.0.98');
    const r = await ok.negotiate();
    assert.equal(r.header.status, Status.SUCCESS);
    ok.destroy();
  } finally {
    await t.stop();
  }
});

test('connections per client are limited; others are still served', async () => {
  const t = await startTestServer({ access: policy({ maxConnectionsPerClient: 3 }) });
  try {
    const held: RawClient[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await RawClient.connect('127.0.0.1', t.port, '127.0.0.50');
      assert.equal((await c.negotiate()).header.status, Status.SUCCESS);
      held.push(c);
    }
    const extra = await RawClient.connect('127.0.0.1', t.port, '127.0.0.50');
    assert.equal(await extra.waitClosed(5000), true, 'the fourth connection from one address is refused');
    const other = await RawClient.connect('127.0.0.1', t.port, '127.0.0.51');
    assert.equal((await other.negotiate()).header.status, Status.SUCCESS);
    other.destroy();
    held[0]!.destroy();
    await held[0]!.waitClosed(5000);
    // Once one closes, a new one is accepted again (the server counts the close asynchronously).
    let accepted = false;
    for (let i = 0; i < 20 && !accepted; i++) {
      const again = await RawClient.connect('127.0.0.1', t.port, '127.0.0.50');
      try {
        accepted = (await again.negotiate(undefined, undefined, { timeoutMs: 2000 }).catch(() => undefined)) !== undefined;
      } finally {
        again.destroy();
      }
      if (!accepted) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(accepted);
    for (const c of held) c.destroy();
  } finally {
    await t.stop();
  }
});

test('a total connection limit holds with many real connections', async () => {
  const t = await startTestServer({ access: policy({ maxConnections: 10, maxConnectionsPerClient: 100 }) });
  try {
    const clients = await Promise.all(Array.from({ length: 16 }, () => RawClient.connect('127.0.0.1', t.port)));
    const results = await Promise.all(
      clients.map((c) => c.negotiate(undefined, undefined, { timeoutMs: 5000 }).then(() => 'served', () => 'refused')),
    );
    assert.equal(results.filter((r) => r === 'served').length, 10);
    assert.equal(t.server.connections.size, 10);
    for (const c of clients) c.destroy();
  } finally {
    await t.stop();
  }
});

test('a silent or trickling client is dropped at the handshake deadline', async () => {
  const t = await startTestServer({ access: policy({ handshakeTimeoutMs: 300 }) });
  try {
    const silent = await t.connect();
    assert.equal(await silent.waitClosed(10_000), true, 'silent client closed');
    const slow = await t.connect();
    const frame = Buffer.from([0, 0, 0, 100, 0xfe, 0x53, 0x4d, 0x42]);
    let i = 0;
    const drip = setInterval(() => {
      if (i < frame.length) slow.sendRaw(frame.subarray(i, ++i));
    }, 100);
    const closed = await slow.waitClosed(10_000);
    clearInterval(drip);
    assert.equal(closed, true, 'one byte at a time does not extend the deadline');
    // A client that logs on in time keeps its connection past the deadline.
    const good = await t.login();
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((await good.echo()).header.status, Status.SUCCESS);
    good.destroy();
  } finally {
    await t.stop();
  }
});

test('sessions per connection are limited', async () => {
  const t = await startTestServer({ access: policy({ maxSessionsPerConnection: 2 }) });
  try {
    const c = await t.connect();
    await c.negotiate();
    assert.equal((await c.sessionSetup(TEST_USER, TEST_PASSWORD)).header.status, Status.SUCCESS);
    c.sessionId = 0n;
    assert.equal((await c.sessionSetup(TEST_USER, TEST_PASSWORD)).header.status, Status.SUCCESS);
    c.sessionId = 0n;
    assert.equal((await c.sessionSetup(TEST_USER, TEST_PASSWORD)).header.status, Status.REQUEST_NOT_ACCEPTED);
    c.destroy();
  } finally {
    await t.stop();
  }
});

test('20 wrong passwords block the address, the block expires, and the audit log records it all', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'smbkit-audit-'));
  const audit = join(dir, 'audit.jsonl');
  const t = await startTestServer({
    access: policy({ bruteForce: { failures: 20, windowMs: 60_000, delayMs: 1, blockMs: 1500 } }),
    auditLog: audit,
  });
  try {
    const src = '127.0.0.77';
    let c = await RawClient.connect('127.0.0.1', t.port, src);
    await c.negotiate();
    for (let i = 1; i <= 20; i++) {
      if (c.closed) {
        c = await RawClient.connect('127.0.0.1', t.port, src);
        await c.negotiate();
      }
      c.sessionId = 0n;
      const r = await c.sessionSetup(TEST_USER, `wrong${i}`);
      assert.equal(r.header.status, Status.LOGON_FAILURE);
    }
    assert.equal(await c.waitClosed(5000), true, 'the 20th failure closes the connection');
    const refused = await RawClient.connect('127.0.0.1', t.port, src);
    assert.equal(await refused.waitClosed(5000), true, 'a blocked address is refused at connect');
    // Other addresses are unaffected.
    const other = await RawClient.connect('127.0.0.1', t.port, '127.0.0.78');
    await other.login(TEST_USER, TEST_PASSWORD, TEST_SHARE);
    const f = await other.create('audited.txt', { createDisposition: 2, desiredAccess: 0x00130197 });
    assert.equal(f.status, Status.SUCCESS);
    const rename = await other.request(Command.SET_INFO, (w) =>
      encodeSetInfoRequest(w, {
        infoType: InfoType.FILE,
        fileInfoClass: FileInfoClass.FileRenameInformation,
        additionalInformation: 0,
        fileId: f.fileId,
        buffer: setInfoBuffer({ kind: 'rename', replaceIfExists: false, rootDirectory: 0n, fileName: 'renamed.txt' }),
      }),
    );
    assert.equal(rename.header.status, Status.SUCCESS);
    const dispose = await other.request(Command.SET_INFO, (w) =>
      encodeSetInfoRequest(w, {
        infoType: InfoType.FILE,
        fileInfoClass: FileInfoClass.FileDispositionInformation,
        additionalInformation: 0,
        fileId: f.fileId,
        buffer: setInfoBuffer({ kind: 'disposition', deletePending: true }),
      }),
    );
    assert.equal(dispose.header.status, Status.SUCCESS);
    await other.close(f.fileId);
    other.destroy();
    await new Promise((r) => setTimeout(r, 1700));
    const after = await RawClient.connect('127.0.0.1', t.port, src);
    await after.login(TEST_USER, TEST_PASSWORD, TEST_SHARE);
    after.destroy();
    await after.waitClosed(5000);
    await new Promise((r) => setTimeout(r, 100));
    const lines = (await readFile(audit, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { event: string; remote?: string });
    const events = new Set(lines.map((l) => l.event));
    for (const e of ['connect', 'refused', 'auth-failure', 'blocked', 'auth-success', 'tree-connect', 'create', 'rename', 'delete', 'disconnect']) {
      assert.ok(events.has(e), `audit log has a ${e} event`);
    }
    assert.equal(lines.filter((l) => l.event === 'auth-failure' && l.remote === src).length, 20);
  } finally {
    await t.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a share\'s own host lists refuse the tree connect; other shares still work', async () => {
  const t = await startTestServer({
    shares: [
      { name: TEST_SHARE, store: new MemoryStore() },
      { name: 'lab', store: new MemoryStore(), hostsAllow: [parseCidr('127.0.0.200')] },
    ],
  });
  try {
    const c = await RawClient.connect('127.0.0.1', t.port, '127.0.0.60');
    await c.negotiate();
    assert.equal((await c.sessionSetup(TEST_USER, TEST_PASSWORD)).header.status, Status.SUCCESS);
    assert.equal((await c.treeConnect('\\\\127.0.0.1\\lab')).header.status, Status.ACCESS_DENIED);
    assert.equal((await c.treeConnect(`\\\\127.0.0.1\\${TEST_SHARE}`)).header.status, Status.SUCCESS);
    c.destroy();
    const allowed = await RawClient.connect('127.0.0.1', t.port, '127.0.0.200');
    await allowed.negotiate();
    await allowed.sessionSetup(TEST_USER, TEST_PASSWORD);
    assert.equal((await allowed.treeConnect('\\\\127.0.0.1\\lab')).header.status, Status.SUCCESS);
    allowed.destroy();
  } finally {
    await t.stop();
  }
});
