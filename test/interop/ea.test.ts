/**
 * Extended attributes through real clients against the smbkit CLI (127.0.0.120): smbclient's `setea`/`geteas`
 * and impacket's SET_INFO / QUERY_INFO FileFullEaInformation (its lists built by the Python side from MS-FSCC,
 * not by smbkit's encoder) read back each other's EAs, on files and directories, and the EAs outlive a restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { impacket, type ImpacketOp, type ImpacketResult } from './harness/impacket.js';
import { smbclient } from './harness/smbclient.js';
import { startSmbkit, type SmbkitServer } from './harness/smbkit.js';

const HOST = '127.0.0.120';
const USER = 'ea_u';
const PASSWORD = 'Ea pass 1!';
const SHARE = 'data';
const haveClients = existsSync('/usr/bin/smbclient') && existsSync('/usr/bin/python3');

/** smbclient's geteas output: `name (flags) =` then hex dump lines `[0000] 68 65 ...`. */
function parseGeteas(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  let name: string | undefined;
  for (const line of stdout.split('\n')) {
    const head = /^(\S+) \((\d+)\) =$/.exec(line);
    if (head) {
      name = head[1]!;
      out.set(name, '');
      continue;
    }
    const dump = /^\[[0-9A-F]{4}\] ((?:[0-9A-F]{2} ?)+)/.exec(line);
    if (dump && name !== undefined) {
      const bytes = Buffer.from(dump[1]!.trim().split(/\s+/).join(''), 'hex');
      out.set(name, out.get(name)! + bytes.toString('latin1'));
    }
  }
  return out;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('extended attributes through smbclient and impacket (smbkit CLI)', { skip: !haveClients && 'smbclient/python3 missing' }, () => {
  let server: SmbkitServer;

  before(async () => {
    server = await startSmbkit({ address: HOST, users: [{ name: USER, password: PASSWORD }], shares: [{ name: SHARE }] });
  });

  after(async () => {
    await server?.stop();
  });

  const client = async (commands: string) => {
    const r = await smbclient({ host: HOST, share: SHARE, user: USER, password: PASSWORD, commands });
    assert.doesNotMatch(r.stdout + r.stderr, /NT_STATUS_(?!OK)/, r.stdout + r.stderr);
    return r.stdout;
  };
  const withImpacket = async (ops: ImpacketOp[]): Promise<ImpacketResult> => {
    const res = await impacket({ host: HOST, port: 445, user: USER, password: PASSWORD, share: SHARE, dialect: '3.0', ops });
    assert.equal(res.error, null, JSON.stringify(res));
    for (const r of res.results) assert.ok(r.ok, JSON.stringify(r));
    return res;
  };

  it('smbclient sets and reads EAs; impacket reads them, adds one and deletes one; smbclient sees the result', async () => {
    await client('put /etc/hostname f.txt; setea f.txt user_key hello; setea f.txt Second 2');
    assert.deepEqual([...parseGeteas(await client('geteas f.txt'))], [
      ['user_key', 'hello'],
      ['Second', '2'],
    ]);
    const res = await withImpacket([
      { op: 'getEas', path: 'f.txt' },
      { op: 'setEas', path: 'f.txt', eas: [{ name: 'fromImpacket', value: b64('v1') }, { name: 'SECOND', value: '' }] },
      // A named query: names match ignoring case; a missing one comes back empty (MS-FSCC 2.4.15.1).
      { op: 'getEas', path: 'f.txt', names: ['missing', 'USER_KEY'] },
      { op: 'eaSize', path: 'f.txt' },
    ]);
    const values = (v: unknown) => (v as { name: string; value: string }[]).map((e) => [e.name, Buffer.from(e.value, 'base64').toString()]);
    assert.deepEqual(values(res.results[0]!.value), [
      ['user_key', 'hello'],
      ['Second', '2'],
    ]);
    assert.deepEqual(values(res.results[2]!.value), [
      ['missing', ''],
      ['user_key', 'hello'],
    ]);
    // MS-FSA 2.1.5.12.10: 4 + per EA (5 + name + value) = 4 + 18 + 19.
    assert.equal(res.results[3]!.value, 41);
    assert.deepEqual([...parseGeteas(await client('geteas f.txt'))], [
      ['user_key', 'hello'],
      ['fromImpacket', 'v1'],
    ]);
  });

  it('directories carry EAs too, and every EA outlives a server restart', async () => {
    await client('mkdir d; setea d dirkey dval');
    await server.restart();
    assert.deepEqual([...parseGeteas(await client('geteas d'))], [['dirkey', 'dval']]);
    assert.deepEqual([...parseGeteas(await client('geteas f.txt'))].map(([n]) => n), ['user_key', 'fromImpacket']);
  });
});
