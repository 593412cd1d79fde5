/**
 * Model-based property test of the client against a real Samba (127.0.0.23): random short sequences of
 * writeFile / appendFile / mkdir / rm -r / rename / unlink / truncate go through the client to one share and,
 * through node:fs, to a local temporary directory; afterwards both trees must hold the same names, types and
 * contents. Only operations valid on the local tree are applied (errors differ legitimately between POSIX and
 * SMB), so a sequence never depends on error mapping. Both sides are emptied between runs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { connect, type Client } from '../../src/index.js';
import type { Share } from '../../src/client/share.js';
import { startSamba, type SambaServer } from './harness/samba.js';

const HOST = '127.0.0.23';
const USER = 'prop_user';
const PASSWORD = 'Pr0p pass!';

type Op =
  | { op: 'writeFile'; p: string; data: Uint8Array }
  | { op: 'appendFile'; p: string; data: Uint8Array }
  | { op: 'mkdir'; p: string }
  | { op: 'rm'; p: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'unlink'; p: string }
  | { op: 'truncate'; p: string; len: number };

// Lower case only: Samba's default share is case-insensitive, the local file system is not.
const name = fc.constantFrom('a', 'b', 'c');
const path = fc.array(name, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));
const data = fc.uint8Array({ minLength: 0, maxLength: 16 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('writeFile' as const), p: path, data }),
  fc.record({ op: fc.constant('appendFile' as const), p: path, data }),
  fc.record({ op: fc.constant('mkdir' as const), p: path }),
  fc.record({ op: fc.constant('rm' as const), p: path }),
  fc.record({ op: fc.constant('rename' as const), from: path, to: path }),
  fc.record({ op: fc.constant('unlink' as const), p: path }),
  fc.record({ op: fc.constant('truncate' as const), p: path, len: fc.nat(24) }),
);

type Kind = 'file' | 'dir' | 'none';

async function kind(p: string): Promise<Kind> {
  try {
    return (await lstat(p)).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'none';
  }
}

const parentOf = (p: string): string => p.split('/').slice(0, -1).join('/');

/** Applies `o` to the local tree when it is valid there; returns false (and changes nothing) otherwise. */
async function applyLocal(root: string, o: Op): Promise<boolean> {
  const at = (p: string) => join(root, p);
  const parentIsDir = async (p: string) => parentOf(p) === '' || (await kind(at(parentOf(p)))) === 'dir';
  switch (o.op) {
    case 'writeFile':
    case 'appendFile':
      if (!(await parentIsDir(o.p)) || (await kind(at(o.p))) === 'dir') return false;
      await (o.op === 'writeFile' ? writeFile : appendFile)(at(o.p), o.data);
      return true;
    case 'mkdir':
      if (!(await parentIsDir(o.p)) || (await kind(at(o.p))) !== 'none') return false;
      await mkdir(at(o.p));
      return true;
    case 'rm':
      if ((await kind(at(o.p))) === 'none') return false;
      await rm(at(o.p), { recursive: true });
      return true;
    case 'unlink':
      if ((await kind(at(o.p))) !== 'file') return false;
      await unlink(at(o.p));
      return true;
    case 'truncate':
      if ((await kind(at(o.p))) !== 'file') return false;
      await truncate(at(o.p), o.len);
      return true;
    case 'rename': {
      const from = await kind(at(o.from));
      const to = await kind(at(o.to));
      // Same path, into itself, onto a directory or a directory onto a file: semantics differ, not applied.
      if (from === 'none' || o.from === o.to || o.to.startsWith(`${o.from}/`) || o.from.startsWith(`${o.to}/`)) return false;
      if (!(await parentIsDir(o.to)) || to === 'dir' || (to === 'file' && from === 'dir')) return false;
      await rename(at(o.from), at(o.to));
      return true;
    }
  }
}

async function applyRemote(s: Share, o: Op): Promise<void> {
  switch (o.op) {
    case 'writeFile':
      return s.writeFile(o.p, o.data);
    case 'appendFile':
      return s.appendFile(o.p, o.data);
    case 'mkdir':
      await s.mkdir(o.p);
      return;
    case 'rm':
      return s.rm(o.p, { recursive: true });
    case 'unlink':
      return s.unlink(o.p);
    case 'truncate':
      return s.truncate(o.p, o.len);
    case 'rename':
      return s.rename(o.from, o.to);
  }
}

/** path -> 'dir' or the file's contents (hex), for every entry under the root. */
async function localTree(root: string, rel = '', out = new Map<string, string>()): Promise<Map<string, string>> {
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const p = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) {
      out.set(p, 'dir');
      await localTree(root, p, out);
    } else out.set(p, (await readFile(join(root, p))).toString('hex'));
  }
  return out;
}

async function remoteTree(s: Share, rel = '', out = new Map<string, string>()): Promise<Map<string, string>> {
  for (const e of await s.readdir(rel, { withFileTypes: true })) {
    const p = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) {
      out.set(p, 'dir');
      await remoteTree(s, p, out);
    } else out.set(p, (await s.readFile(p)).toString('hex'));
  }
  return out;
}

const sorted = (m: Map<string, string>): [string, string][] => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

let samba: SambaServer;
let client: Client;
let local: string;
let shareDir: string;

before(async () => {
  samba = await startSamba({ address: HOST, ports: [445], users: [{ name: USER, password: PASSWORD }], shares: [{ name: 'prop' }] });
  shareDir = samba.sharePaths.get('prop')!;
  local = await mkdtemp(join(tmpdir(), 'smbkit-prop-client-'));
  client = await connect({ host: HOST, share: 'prop', user: USER, password: PASSWORD, timeoutMs: 20_000 });
});

after(async () => {
  await client?.close();
  await samba?.stop();
  if (local) await rm(local, { recursive: true, force: true });
});

async function emptyDir(dir: string): Promise<void> {
  for (const n of await readdir(dir)) await rm(join(dir, n), { recursive: true, force: true });
}

test('client file operations on Samba match node:fs on a local tree', { timeout: 120_000 }, async () => {
  const s = client.share();
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
      // Samba keeps no handle open between operations, so its share folder can be emptied on disk.
      await emptyDir(shareDir);
      await emptyDir(local);
      for (const o of ops) {
        if (await applyLocal(local, o)) await applyRemote(s, o);
      }
      assert.deepEqual(sorted(await remoteTree(s)), sorted(await localTree(local)));
      // And the client's view is Samba's disk.
      assert.deepEqual(sorted(await localTree(shareDir)), sorted(await localTree(local)));
    }),
    { numRuns: 25 },
  );
});
