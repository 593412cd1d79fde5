/**
 * Leases and oplocks break when another program changes a cached file on the disk (LocalStore, fs.watch), and do
 * not break for the holder's own changes through smbkit. In-process server over real TCP on 127.0.0.79.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dialect, OplockLevel } from '../../../src/protocol/smb2/constants.js';
import { decodeOplockBreakResponse } from '../../../src/protocol/smb2/commands/oplock-break.js';
import { CreateContextName, encodeLease, LeaseState } from '../../../src/protocol/smb2/contexts/create-contexts.js';
import { LocalStore } from '../../../src/store/local.js';
import { DiskCachingWatch } from '../../../src/server/state/disk-caching.js';
import type { FileNode } from '../../../src/server/state/file-node.js';
import type { ShareDef } from '../../../src/server/shares.js';
import { createLogger } from '../../../src/util/log.js';
import { startTestServer, TEST_SHARE } from '../../support/raw-client.js';

const HOST = '127.0.0.79';
const RWH = LeaseState.READ_CACHING | LeaseState.WRITE_CACHING | LeaseState.HANDLE_CACHING;

function leaseRequest(key: Buffer, state: number) {
  return [{ name: CreateContextName.REQUEST_LEASE, data: encodeLease({ version: 2, leaseKey: key, leaseState: state, leaseFlags: 0, leaseDuration: 0n, parentLeaseKey: Buffer.alloc(16), epoch: 0 }) }];
}

test('a file changed on the disk by another program breaks its lease and its oplock; the holder\'s own writes do not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'smbkit-diskcache-'));
  const t = await startTestServer({ shares: [{ name: TEST_SHARE, store: new LocalStore(dir) }] }, { host: HOST });
  try {
    await writeFile(join(dir, 'leased.txt'), 'original');
    await writeFile(join(dir, 'batch.txt'), 'original');
    const a = await t.login([Dialect.SMB311]);
    const key = Buffer.alloc(16, 7);
    const h = await a.create('leased.txt', { oplockLevel: OplockLevel.LEASE, contexts: leaseRequest(key, RWH) });
    assert.equal(h.create?.oplockLevel, OplockLevel.LEASE);

    // The holder's own write comes back from the disk as an echo: no break.
    await a.write(h.fileId, 0, Buffer.from('mine'));
    assert.equal(await a.nextBreak(1_500), undefined, 'no break for the holder\'s own write');

    // Another program appends to the file: the lease breaks to none (the cached data is stale).
    await appendFile(join(dir, 'leased.txt'), ' and theirs');
    const b = await a.nextBreak(5_000);
    assert.ok(b, 'a lease break arrives');
    const n = decodeOplockBreakResponse(b.body);
    assert.equal(n.kind, 'leaseBreakNotification');
    if (n.kind === 'leaseBreakNotification') {
      assert.ok(n.leaseKey.equals(key));
      assert.equal(n.currentLeaseState, RWH);
      assert.equal(n.newLeaseState, LeaseState.NONE);
    }

    const o = await a.create('batch.txt', { oplockLevel: OplockLevel.BATCH });
    assert.equal(o.create?.oplockLevel, OplockLevel.BATCH);
    await writeFile(join(dir, 'batch.txt'), 'replaced by someone else');
    const ob = await a.nextBreak(5_000);
    assert.ok(ob, 'an oplock break arrives');
    const on = decodeOplockBreakResponse(ob.body);
    assert.equal(on.kind, 'oplock');
    if (on.kind === 'oplock') assert.equal(on.oplockLevel, OplockLevel.NONE);

    await a.close(o.fileId);
    await a.close(h.fileId);
    assert.equal(t.server.caching.disk?.cached, 0, 'no file is watched once nothing is cached');
  } finally {
    await t.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a directory watch outlives its last cached file for a while, is reused meanwhile, and makes room under the cap', async () => {
  const events: string[] = [];
  let n = 0;
  const store = {
    watch(path: string) {
      const id = ++n;
      events.push(`open ${id} ${path}`);
      return { close: () => events.push(`close ${id}`) };
    },
  };
  const share = { name: 'data', store } as unknown as ShareDef;
  const node = (path: string) => ({ path, diskWatched: undefined, localChangeAt: 0 }) as unknown as FileNode;
  const w = new DiskCachingWatch(1, createLogger('error'), () => {}, 50);
  try {
    const a = node('dir/a');
    w.track(share, a);
    w.untrack(a);
    assert.deepEqual(events, ['open 1 dir'], 'the watch stays after its last file');
    assert.equal(w.size, 1);
    assert.equal(w.cached, 0);
    // Another file of the folder, cached meanwhile, takes the same watch.
    const b = node('dir/b');
    w.track(share, b);
    assert.deepEqual(events, ['open 1 dir']);
    w.untrack(b);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(events, ['open 1 dir', 'close 1'], 'it is closed once it has lingered');
    assert.equal(w.size, 0);
    // At the cap (one watch), a lingering watch gives way to a folder with a cached file.
    const c = node('one/c');
    w.track(share, c);
    w.untrack(c);
    const d = node('two/d');
    w.track(share, d);
    assert.deepEqual(events.slice(2), ['open 2 one', 'close 2', 'open 3 two']);
    // A watch a file still needs does not give way.
    w.track(share, node('three/e'));
    assert.deepEqual(events.slice(5), [], 'no room: the third folder is not watched');
  } finally {
    w.close();
  }
});
