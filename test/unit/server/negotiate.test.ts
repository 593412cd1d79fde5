import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../../src/protocol/nt-status.js';
import { decodeNegotiateResponse } from '../../../src/protocol/smb2/commands/negotiate.js';
import { Dialect, HashAlgorithm, SigningAlgorithm } from '../../../src/protocol/smb2/constants.js';
import { RawClient, startTestServer, TEST_PASSWORD, TEST_SHARE, TEST_USER } from '../../support/raw-client.js';

const ALL = [0x0202, 0x0210, 0x0300, 0x0302, 0x0311];

test('NEGOTIATE picks the highest dialect both sides have, within the configured range', async () => {
  const full = await startTestServer();
  const capped = await startTestServer({ minDialect: 0x0210, maxDialect: 0x0302 });
  try {
    const cases: [typeof full, number[], number][] = [
      [full, ALL, Dialect.SMB311],
      [full, [0x0202, 0x0210, 0x0300], Dialect.SMB300],
      [full, [0x0300, 0x0202], Dialect.SMB300],
      [full, [0x0202], Dialect.SMB202],
      [capped, ALL, Dialect.SMB302],
      [capped, [0x0202, 0x0210], Dialect.SMB210],
    ];
    for (const [srv, offered, expected] of cases) {
      const c = await srv.connect();
      const res = await c.negotiate(offered);
      assert.equal(res.status, Status.SUCCESS, `offered ${offered.map((d) => d.toString(16))}`);
      assert.equal(c.dialect, expected, `offered ${offered.map((d) => d.toString(16))}`);
      c.destroy();
    }
  } finally {
    await full.stop();
    await capped.stop();
  }
});

test('NEGOTIATE with no dialect in common is refused with STATUS_NOT_SUPPORTED', async () => {
  const srv = await startTestServer({ minDialect: 0x0300 });
  try {
    const c = await srv.connect();
    const res = await c.negotiate([0x0202, 0x0210]);
    assert.equal(res.status, Status.NOT_SUPPORTED);
    // Unknown dialect codes only.
    const c2 = await srv.connect();
    assert.equal((await c2.negotiate([0x0201, 0x0222, 0x03ff])).status, Status.NOT_SUPPORTED);
  } finally {
    await srv.stop();
  }
});

test('a 3.1.1 NEGOTIATE without a preauth integrity context gets STATUS_INVALID_PARAMETER', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.connect();
    const res = await c.negotiate([0x0311], [{ kind: 'signing', signingAlgorithms: [SigningAlgorithm.AES_CMAC] }]);
    assert.equal(res.status, Status.INVALID_PARAMETER);
    const c2 = await srv.connect();
    assert.equal((await c2.negotiate([0x0311], [])).status, Status.INVALID_PARAMETER);
  } finally {
    await srv.stop();
  }
});

test('3.1.1 NEGOTIATE answers with a SHA-512 preauth context and a signing algorithm the client offered', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.connect();
    const res = await c.negotiate([0x0311], [
      { kind: 'preauthIntegrity', hashAlgorithms: [HashAlgorithm.SHA512], salt: Buffer.alloc(32, 7) },
      { kind: 'signing', signingAlgorithms: [SigningAlgorithm.AES_CMAC] },
    ]);
    assert.equal(res.status, Status.SUCCESS);
    const neg = decodeNegotiateResponse(res.body);
    const pre = neg.negotiateContexts.find((x) => x.kind === 'preauthIntegrity');
    assert.ok(pre && pre.kind === 'preauthIntegrity');
    assert.deepEqual(pre.hashAlgorithms, [HashAlgorithm.SHA512]);
    const sig = neg.negotiateContexts.find((x) => x.kind === 'signing');
    assert.ok(sig && sig.kind === 'signing');
    assert.deepEqual(sig.signingAlgorithms, [SigningAlgorithm.AES_CMAC]);
    // The session keys derived from this negotiation work: log in and connect.
    assert.equal((await c.sessionSetup(TEST_USER, TEST_PASSWORD)).status, Status.SUCCESS);
    assert.equal((await c.treeConnect(`\\\\127.0.0.1\\${TEST_SHARE}`)).status, Status.SUCCESS);
  } finally {
    await srv.stop();
  }
});

test('an SMB1 NEGOTIATE offering "SMB 2.???" gets an SMB2 NEGOTIATE response with dialect 0x02FF', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.connect();
    const res = await c.smb1Negotiate(['NT LM 0.12', 'SMB 2.002', 'SMB 2.???']);
    assert.equal(res.status, Status.SUCCESS);
    assert.equal(res.header.messageId, 0n);
    const neg = decodeNegotiateResponse(res.body);
    assert.equal(neg.dialectRevision, Dialect.WILDCARD);
    // The SMB2 NEGOTIATE that follows uses message id 1 (MS-SMB2 3.3.5.3.1) and completes normally.
    const res2 = await c.negotiate(ALL);
    assert.equal(res2.header.messageId, 1n);
    assert.equal(res2.status, Status.SUCCESS);
    assert.equal(c.dialect, Dialect.SMB311);
    assert.equal((await c.sessionSetup(TEST_USER, TEST_PASSWORD)).status, Status.SUCCESS);
  } finally {
    await srv.stop();
  }
});

test('an SMB1 NEGOTIATE offering only "NT LM 0.12" is closed', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.connect();
    await assert.rejects(c.smb1Negotiate(['NT LM 0.12']), { name: 'ConnectionClosedError' });
    assert.equal(await c.waitClosed(), true);
    assert.equal(c.received.length, 0);
  } finally {
    await srv.stop();
  }
});

test('a second NEGOTIATE on a connection disconnects it', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.connect();
    assert.equal((await c.negotiate(ALL)).status, Status.SUCCESS);
    await assert.rejects(c.negotiate(ALL));
    assert.equal(await c.waitClosed(), true);
  } finally {
    await srv.stop();
  }
});

test('a request other than NEGOTIATE on a fresh connection disconnects it', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.connect();
    await assert.rejects(c.echo());
    assert.equal(await c.waitClosed(), true);
    const c2: RawClient = await srv.connect();
    await assert.rejects(c2.sessionSetup(TEST_USER, TEST_PASSWORD));
  } finally {
    await srv.stop();
  }
});
