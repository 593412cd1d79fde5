/**
 * Client.listShares() against smbkit's in-process server: srvsvc NetrShareEnum level 1 over IPC$ for 2.0.2 and
 * 3.1.1, signed and encrypted, anonymous; a long list in many fragments read through BUFFER_OVERFLOW; the
 * RpcError mappings; and that the pipe and the IPC$ tree are given back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, SmbError, type Client, type DialectName } from '../../../src/index.js';
import type { ShareEntry } from '../../../src/client/client.js';
import { RpcError, rpcTuning } from '../../../src/client/rpc.js';
import { FaultStatus } from '../../../src/protocol/rpc/pdu.js';
import { Status } from '../../../src/protocol/nt-status.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { startTestServer, TEST_PASSWORD, TEST_USER, type TestServer } from '../../support/raw-client.js';

const EXPECTED: ShareEntry[] = [
  { name: 'IPC$', type: 'ipc', special: true, comment: 'IPC Service' },
  { name: 'docs', type: 'disk', special: false, comment: 'Team documents' },
  { name: 'media', type: 'disk', special: false, comment: 'Pictures & vidéos' },
];

const byName = (a: ShareEntry, b: ShareEntry): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

describe('listShares against smbkit', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({
      encryption: 'enabled',
      allowAnonymous: true,
      shares: [
        { name: 'docs', store: new MemoryStore(), comment: 'Team documents' },
        { name: 'media', store: new MemoryStore(), comment: 'Pictures & vidéos' },
      ],
    });
  });
  after(async () => {
    await srv?.stop();
  });

  const open = (d: DialectName, encryption: 'off' | 'required'): Promise<Client> =>
    connect(
      { host: '127.0.0.1', port: srv.port, user: TEST_USER, password: TEST_PASSWORD, share: 'docs' },
      { minDialect: d, maxDialect: d, signing: 'required', encryption },
    );

  for (const d of ['2.0.2', '3.1.1'] as DialectName[]) {
    for (const enc of d === '3.1.1' ? (['off', 'required'] as const) : (['off'] as const)) {
      test(`${d} ${enc === 'off' ? 'signed' : 'encrypted'}: IPC$ and both shares with comments`, async () => {
        const c = await open(d, enc);
        try {
          assert.equal(c.info.encryption || enc === 'off', true);
          const list = await c.listShares();
          assert.deepEqual([...list].sort(byName), EXPECTED);
          // Twice on one session, and the session still serves files: the pipe and IPC$ tree were released.
          assert.deepEqual((await c.listShares()).sort(byName), EXPECTED);
          await c.share().writeFile('x.txt', 'ok');
          assert.equal(await c.share().readFile('x.txt', 'utf8'), 'ok');
        } finally {
          await c.close();
        }
      });
    }
  }

  test('anonymous session (user "")', async () => {
    const c = await connect({ host: '127.0.0.1', port: srv.port, user: '' }, { signing: 'desired' });
    try {
      assert.deepEqual((await c.listShares()).sort(byName), EXPECTED);
    } finally {
      await c.close();
    }
  });
});

describe('listShares: long answers', () => {
  let srv: TestServer;
  const names = Array.from({ length: 120 }, (_, i) => `share${String(i).padStart(3, '0')}`);
  before(async () => {
    srv = await startTestServer({
      shares: names.map((name) => ({ name, store: new MemoryStore(), comment: `comment of ${name} `.repeat(4) })),
    });
  });
  after(async () => {
    await srv?.stop();
  });

  for (const transceiveSize of [4280, 512]) {
    test(`many fragments, transceive output ${transceiveSize} (BUFFER_OVERFLOW then READs)`, async () => {
      const saved = { ...rpcTuning };
      rpcTuning.transceiveSize = transceiveSize;
      rpcTuning.readSize = transceiveSize === 512 ? 700 : saved.readSize;
      const c = await connect({ host: '127.0.0.1', port: srv.port, user: TEST_USER, password: TEST_PASSWORD });
      try {
        const list = await c.listShares();
        assert.equal(list.length, names.length + 1);
        const disk = list.filter((s) => s.type === 'disk').map((s) => s.name).sort();
        assert.deepEqual(disk, names);
        for (const s of list.filter((x) => x.type === 'disk')) assert.equal(s.comment, `comment of ${s.name} `.repeat(4));
      } finally {
        Object.assign(rpcTuning, saved);
        await c.close();
      }
    });
  }
});

describe('RpcError', () => {
  test('faults and Win32 errors become SmbErrors with a clear message', () => {
    const f = RpcError.fault(FaultStatus.OP_RNG_ERROR, '\\\\h\\IPC$\\srvsvc (NetrShareEnum)');
    assert.ok(f instanceof SmbError);
    assert.equal(f.kind, 'fault');
    assert.equal(f.rpcStatus, FaultStatus.OP_RNG_ERROR);
    assert.match(f.message, /^RPC fault nca_s_op_rng_error .*: \\\\h\\IPC\$\\srvsvc \(NetrShareEnum\)$/);
    const denied = RpcError.fault(FaultStatus.ACCESS_DENIED, 'p');
    assert.equal(denied.code, 'EACCES');
    assert.equal(denied.status, Status.ACCESS_DENIED);
    const w = RpcError.werror(5, 'p');
    assert.equal(w.statusName, 'WERR_ACCESS_DENIED');
    assert.equal(w.code, 'EACCES');
    const unknown = RpcError.werror(0x1234, 'p');
    assert.equal(unknown.statusName, 'WERR 0x00001234');
    assert.equal(unknown.status, Status.UNSUCCESSFUL);
    const bad = RpcError.protocol('bytes after the last fragment', 'p');
    assert.equal(bad.code, 'EPROTO');
  });
});
