/**
 * Client.listShares() against a real Samba on 127.0.0.19:445: srvsvc NetrShareEnum level 1 over IPC$ for 2.0.2
 * and 3.1.1 signed, 3.1.1 encrypted, and an anonymous session; the shares, their comments, IPC$ as a special IPC
 * share; and the session still serving files afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect, type Client, type DialectName } from '../../src/index.js';
import type { ShareEntry } from '../../src/client/client.js';
import { startSamba, type SambaServer } from './harness/samba.js';

const HOST = '127.0.0.19';
const USER = 'ls_user';
const PASSWORD = 'L1st shares!';

function check(list: ShareEntry[]): void {
  const m = new Map(list.map((s) => [s.name, s]));
  assert.deepEqual(m.get('data'), { name: 'data', type: 'disk', special: false, comment: 'Project data' }, JSON.stringify(list));
  assert.deepEqual(m.get('docs'), { name: 'docs', type: 'disk', special: false, comment: 'Shared documents, with spaces' });
  const ipc = m.get('IPC$');
  assert.ok(ipc, JSON.stringify(list));
  assert.equal(ipc.type, 'ipc');
  assert.equal(ipc.special, true);
  assert.match(ipc.comment, /IPC Service/);
}

describe('listShares against Samba', { skip: !existsSync('/usr/sbin/smbd') && 'smbd missing' }, () => {
  let samba: SambaServer;
  before(async () => {
    samba = await startSamba({
      address: HOST,
      ports: [445],
      users: [{ name: USER, password: PASSWORD }],
      shares: [
        { name: 'data', extra: { comment: 'Project data' } },
        { name: 'docs', extra: { comment: 'Shared documents, with spaces' } },
      ],
      global: { 'server min protocol': 'SMB2_02', 'server smb encrypt': 'if_required' },
    });
  });
  after(async () => {
    await samba?.stop();
  });

  const cases: { d: DialectName; encryption: 'off' | 'required' }[] = [
    { d: '2.0.2', encryption: 'off' },
    { d: '3.1.1', encryption: 'off' },
    { d: '3.1.1', encryption: 'required' },
  ];
  for (const { d, encryption } of cases) {
    test(`${d} ${encryption === 'off' ? 'signed' : 'encrypted'}`, async () => {
      let c: Client | undefined;
      try {
        c = await connect(
          { host: HOST, user: USER, password: PASSWORD, share: 'data', timeoutMs: 30_000 },
          { minDialect: d, maxDialect: d, signing: 'required', encryption },
        );
        assert.equal(c.info.signing || c.info.encryption, true);
        if (encryption === 'required') assert.equal(c.info.encryption, true);
        check(await c.listShares());
        check(await c.listShares());
        await c.share().writeFile(`after-list-${d}-${encryption}.txt`, 'ok');
        assert.equal(await c.share().readFile(`after-list-${d}-${encryption}.txt`, 'utf8'), 'ok');
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${(await samba.logs()).slice(-3000)}`, { cause: e });
      } finally {
        await c?.close();
      }
    });
  }

  test('anonymous session', async () => {
    const c = await connect({ host: HOST, user: '', timeoutMs: 30_000 });
    try {
      check(await c.listShares());
    } finally {
      await c.close();
    }
  });
});
