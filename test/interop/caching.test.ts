/**
 * Oplocks and leases with a real client that caches: impacket (python3-impacket, SMB 3.0) holds a batch oplock and
 * then a lease on smbkit's real server (the CLI with a TOML file), a second impacket connection opens the same file,
 * and the holder receives the unsolicited break, acknowledges it, and the second open completes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startSmbkit, repoRootFrom, type SmbkitServer } from './harness/smbkit.js';
import { run } from './harness/proc.js';

const HOST = '127.0.0.91';
const USER = 'cache_user';
const PASSWORD = 'Cache pass 1!';
const PY = '/usr/bin/python3';
const SCRIPT = join(repoRootFrom(import.meta.url), 'test', 'interop', 'harness', 'impacket_caching.py');
const skip = existsSync(PY) ? false : 'python3-impacket missing (.ci/install-peers.sh)';

describe('oplocks and leases with impacket', { skip }, () => {
  let server: SmbkitServer;
  before(async () => {
    // A break timeout well above the time an acknowledgment takes, so the run shows acknowledged breaks.
    server = await startSmbkit({ address: HOST, users: [{ name: USER, password: PASSWORD }], shares: [{ name: 'cache' }], server: { oplock_break_timeout: 20 } });
  });
  after(async () => {
    await server?.stop();
  });

  it('a batch oplock and an RWH lease are granted, broken by a second open, acknowledged, and the open completes', async () => {
    const job = { host: HOST, port: server.port, user: USER, password: PASSWORD, share: 'cache' };
    const r = await run(PY, [SCRIPT], { input: JSON.stringify(job), timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out.batchGranted, 0x09, 'batch oplock granted to the sole opener');
    assert.equal(out.oplockBreakTo, 0x01, 'the holder is told to go to level II');
    assert.equal(out.oplockAckStatus, 0, 'the acknowledgment succeeds');
    assert.deepEqual(out.oplockContender, { ok: true, oplock: 0x01 }, 'the second open completes with level II');
    assert.equal(out.leaseOplockLevel, 0xff);
    assert.equal(out.leaseGranted, 7, 'RWH lease granted');
    assert.deepEqual(out.leaseBreak, { from: 7, to: 3, flags: 1 }, 'RWH breaks to RH, acknowledgment required');
    assert.equal(out.leaseAckStatus, 0);
    assert.deepEqual(out.leaseContender, { ok: true, oplock: 0x00 }, 'no oplock beside a lease with handle caching');
  });
});
