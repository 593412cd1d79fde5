/**
 * SMB 3 encryption and signing through smbkit with smbclient and impacket: encrypted round trips per 3.x dialect
 * with the cipher the server logs, a share that requires encryption, and a proxy that flips one byte of a
 * signed or encrypted WRITE: the server must drop the connection and the file must not change.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFile, MiB, sha256File } from './harness/files.js';
import { impacket } from './harness/impacket.js';
import { ntStatusIn, smbclient, type SmbclientProtocol } from './harness/smbclient.js';
import { startSmbkit, type SmbkitServer } from './harness/smbkit.js';
import { startTamperProxy } from './harness/tamper-proxy.js';

const USER = 'enc_user';
const PASSWORD = 'Enc pass 1!';
const HOST = '127.0.0.6';
const SIGN_HOST = '127.0.0.8';
const PROXY_HOST = '127.0.0.7';

describe('encryption and signing (smbkit)', () => {
  let enc: SmbkitServer;
  let signOnly: SmbkitServer;
  let local: string;
  const files = new Map<number, { path: string; hash: string }>();

  before(async () => {
    local = await mkdtemp(join(tmpdir(), 'smbkit-enc-'));
    for (const size of [0, MiB, 100 * MiB]) {
      const path = join(local, `f${size}.bin`);
      await makeFile(path, size);
      files.set(size, { path, hash: await sha256File(path) });
    }
    enc = await startSmbkit({
      address: HOST,
      users: [{ name: USER, password: PASSWORD }],
      shares: [{ name: 'data' }, { name: 'secret', encrypt: true }],
      // Two crypto workers even on a 2-processor machine, so that messages of several connections are in
      // different workers at once.
      server: { encryption: 'desired', crypto_threads: 2 },
    });
    signOnly = await startSmbkit({
      address: SIGN_HOST,
      users: [{ name: USER, password: PASSWORD }],
      shares: [{ name: 'data' }],
      server: { encryption: 'off', signing: 'required' },
    });
  });
  after(async () => {
    await enc?.stop();
    await signOnly?.stop();
    await rm(local, { recursive: true, force: true });
  });

  const base = (host: string, maxProtocol: SmbclientProtocol) => ({
    host,
    share: 'data',
    user: USER,
    password: PASSWORD,
    maxProtocol,
    minProtocol: maxProtocol,
  });

  const cases: [SmbclientProtocol, string][] = [
    ['SMB3_00', 'AES-128-CCM'],
    ['SMB3_02', 'AES-128-CCM'],
    ['SMB3_11', 'AES-128-GCM'],
  ];
  for (const [proto, cipher] of cases) {
    it(`--client-protection=encrypt round trips in ${proto} with ${cipher}`, async () => {
      for (const size of [0, MiB, 100 * MiB]) {
        const f = files.get(size)!;
        const back = join(local, `back_${proto}_${size}`);
        const r = await smbclient({
          ...base(HOST, proto),
          protection: 'encrypt',
          commands: `put ${f.path} e_${size}.bin; get e_${size}.bin ${back}; del e_${size}.bin`,
          timeoutMs: 120_000,
        });
        assert.equal(ntStatusIn(r.stdout + r.stderr).length, 0, r.stdout + r.stderr);
        assert.equal(await sha256File(back), f.hash, `${proto} ${size} bytes`);
      }
      const logs = await enc.logs();
      assert.match(logs, new RegExp(`cipher=${cipher} encrypted=true`), 'the server logs the negotiated cipher');
    });
  }

  it('concurrent encrypted transfers on several connections (GCM and CCM) stay byte-exact', async () => {
    const f = files.get(100 * MiB)!;
    const jobs = (['SMB3_11', 'SMB3_00', 'SMB3_11', 'SMB3_02'] as const).map(async (proto, i) => {
      const back = join(local, `back_concurrent_${i}`);
      const r = await smbclient({
        ...base(HOST, proto),
        protection: 'encrypt',
        commands: `put ${f.path} c_${i}.bin; get c_${i}.bin ${back}; del c_${i}.bin`,
        timeoutMs: 240_000,
      });
      assert.equal(ntStatusIn(r.stdout + r.stderr).length, 0, r.stdout + r.stderr);
      assert.equal(await sha256File(back), f.hash, `connection ${i} (${proto})`);
    });
    await Promise.all(jobs);
  });

  it('--client-protection=sign round trips against a signing-only server', async () => {
    for (const proto of ['SMB3_00', 'SMB3_02', 'SMB3_11'] as const) {
      for (const size of [0, MiB, 100 * MiB]) {
        const f = files.get(size)!;
        const back = join(local, `back_sign_${proto}_${size}`);
        const r = await smbclient({
          ...base(SIGN_HOST, proto),
          protection: 'sign',
          commands: `put ${f.path} s.bin; get s.bin ${back}; del s.bin`,
          timeoutMs: 120_000,
        });
        assert.equal(ntStatusIn(r.stdout + r.stderr).length, 0, r.stdout + r.stderr);
        assert.equal(await sha256File(back), f.hash, `${proto} ${size} bytes`);
      }
    }
  });

  it('a client that cannot encrypt is refused when encryption is required of it', async () => {
    const r = await smbclient({ ...base(SIGN_HOST, 'SMB3_11'), protection: 'encrypt', commands: 'ls' });
    assert.notEqual(r.code, 0, 'smbclient must fail: the server offers no encryption');
  });

  it('impacket 3.0 round trips on an encrypting server', async () => {
    const f = files.get(MiB)!;
    const out = join(local, 'imp_back.bin');
    const countCcm = (logs: string) => (logs.match(/cipher=AES-128-CCM encrypted=true/g) ?? []).length;
    const ccmBefore = countCcm(await enc.logs());
    const res = await impacket({
      host: HOST,
      port: 445,
      user: USER,
      password: PASSWORD,
      share: 'data',
      dialect: '3.0',
      ops: [
        { op: 'putFile', local: f.path, remote: 'imp.bin' },
        { op: 'getFile', remote: 'imp.bin', local: out },
        { op: 'deleteFile', path: 'imp.bin' },
      ],
    });
    assert.equal(res.error, null, JSON.stringify(res.error));
    for (const r of res.results) assert.ok(r.ok, JSON.stringify(r));
    assert.equal(await sha256File(out), f.hash);
    // impacket's session must really have been encrypted (3.0 with AES-128-CCM).
    assert.ok(countCcm(await enc.logs()) > ccmBefore, 'impacket logged on with an encrypted AES-128-CCM session');
  });

  // 3.1.1 encrypts with GCM and signs with AES-GMAC (verified inline); 3.0 with CCM and AES-CMAC (in the pool).
  const tamperCases = [
    ['encrypt', 'SMB3_11'],
    ['encrypt', 'SMB3_00'],
    ['sign', 'SMB3_11'],
    ['sign', 'SMB3_00'],
  ] as const;
  for (const [mode, proto] of tamperCases) {
    it(`a flipped byte in a ${mode === 'encrypt' ? 'encrypted' : 'signed'} ${proto} WRITE closes the connection and changes nothing`, async () => {
      const target = mode === 'encrypt' ? enc : signOnly;
      const closing = mode === 'encrypt' ? /decryption failed/g : /bad signature/g;
      const closings = async (): Promise<number> => ((await target.logs()).match(closing) ?? []).length;
      const closingsBefore = await closings();
      const proxy = await startTamperProxy({ listenHost: PROXY_HOST, listenPort: 445, targetHost: target.address, targetPort: 445, minFrameSize: 512 * 1024 });
      try {
        const f = files.get(MiB)!;
        const name = `tampered_${mode}_${proto}.bin`;
        const r = await smbclient({ ...base(PROXY_HOST, proto), protection: mode, commands: `put ${f.path} ${name}`, timeoutMs: 60_000 });
        assert.equal(proxy.tampered, 1, 'the proxy altered one frame');
        assert.ok(r.code !== 0 || ntStatusIn(r.stdout + r.stderr).length > 0, `smbclient should fail: ${r.stdout}${r.stderr}`);
        const onDisk = join(target.sharePaths.get('data')!, name);
        const st = await stat(onDisk).catch(() => undefined);
        if (st) {
          // The create may have happened before the tampered write: then the file must not hold the data.
          assert.notEqual(await sha256File(onDisk), f.hash);
          assert.ok(st.size < MiB, 'no tampered data was written');
        }
        assert.ok((await closings()) > closingsBefore, `the server logged ${closing.source} for this connection`);
      } finally {
        await proxy.close();
      }
    });
  }

  it('a share that requires encryption refuses a client that cannot encrypt, and takes one that can', async () => {
    const old = await smbclient({ ...base(HOST, 'SMB2_10'), share: 'secret', commands: 'ls' });
    assert.ok(ntStatusIn(old.stdout + old.stderr).includes('NT_STATUS_ACCESS_DENIED'), old.stdout + old.stderr);
    const plain = await smbclient({ ...base(HOST, 'SMB3_11'), share: 'secret', commands: 'ls' });
    assert.equal(ntStatusIn(plain.stdout + plain.stderr).length, 0, plain.stdout + plain.stderr);
  });
});
