/**
 * Property: a random sequence of file operations run through the client against smbkit's server and through
 * node:fs against a temporary directory ends in the same tree (names, kinds, contents).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { connect, type Client, type Share } from '../../../src/index.js';
import { startTestServer, TEST_PASSWORD, TEST_USER, type TestServer } from '../../support/raw-client.js';

type Op =
  | { kind: 'write'; path: string; data: string }
  | { kind: 'append'; path: string; data: string }
  | { kind: 'mkdir'; path: string }
  | { kind: 'rm'; path: string }
  | { kind: 'rename'; from: string; to: string }
  | { kind: 'truncate'; path: string; len: number };

const seg = fc.constantFrom('a', 'b', 'c');
const pathArb = fc.array(seg, { minLength: 1, maxLength: 3 }).map((p) => p.join('/'));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), path: pathArb, data: fc.string({ maxLength: 20 }) }),
  fc.record({ kind: fc.constant('append' as const), path: pathArb, data: fc.string({ maxLength: 20 }) }),
  fc.record({ kind: fc.constant('mkdir' as const), path: pathArb }),
  fc.record({ kind: fc.constant('rm' as const), path: pathArb }),
  fc.record({ kind: fc.constant('rename' as const), from: pathArb, to: pathArb }),
  fc.record({ kind: fc.constant('truncate' as const), path: pathArb, len: fc.nat(30) }),
);

async function applyLocal(root: string, op: Op): Promise<true | string> {
  const p = (x: string) => join(root, x);
  try {
    switch (op.kind) {
      case 'write':
        await fs.writeFile(p(op.path), op.data);
        break;
      case 'append':
        await fs.appendFile(p(op.path), op.data);
        break;
      case 'mkdir':
        await fs.mkdir(p(op.path), { recursive: true });
        break;
      case 'rm':
        await fs.rm(p(op.path), { recursive: true, force: true });
        break;
      case 'rename':
        await fs.rename(p(op.from), p(op.to));
        break;
      case 'truncate':
        await fs.truncate(p(op.path), op.len);
        break;
    }
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'error';
  }
}

async function applyRemote(s: Share, base: string, op: Op): Promise<boolean> {
  const p = (x: string) => `${base}/${x}`;
  try {
    switch (op.kind) {
      case 'write':
        await s.writeFile(p(op.path), op.data);
        break;
      case 'append':
        await s.appendFile(p(op.path), op.data);
        break;
      case 'mkdir':
        await s.mkdir(p(op.path), { recursive: true });
        break;
      case 'rm':
        await s.rm(p(op.path), { recursive: true, force: true });
        break;
      case 'rename':
        await s.rename(p(op.from), p(op.to));
        break;
      case 'truncate':
        await s.truncate(p(op.path), op.len);
        break;
    }
    return true;
  } catch {
    return false;
  }
}

/** Operations whose outcome differs between POSIX and NT by design are left out of the comparison. */
function comparable(root: string, op: Op): boolean {
  if (op.kind !== 'rename') return true;
  // POSIX replaces an empty directory and renames onto itself silently; NT refuses both. Only renames to a
  // free name outside the source are compared.
  return !existsSync(join(root, op.to)) && !`${op.to}/`.startsWith(`${op.from}/`);
}

async function localTree(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await fs.readdir(join(root, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(`${r}/`, ...(await localTree(root, r)));
    else out.push(`${r}=${await fs.readFile(join(root, r), 'utf8')}`);
  }
  return out;
}

async function remoteTree(s: Share, base: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const dir = rel ? `${base}/${rel}` : base;
  for (const e of (await s.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(`${r}/`, ...(await remoteTree(s, base, r)));
    else out.push(`${r}=${await s.readFile(`${base}/${r}`, 'utf8')}`);
  }
  return out;
}

let srv: TestServer;
let client: Client;
let tmp: string;
before(async () => {
  srv = await startTestServer();
  client = await connect({ host: '127.0.0.1', port: srv.port, share: 'share', user: TEST_USER, password: TEST_PASSWORD });
  tmp = await fs.mkdtemp(join(tmpdir(), 'smbkit-client-model-'));
});
after(async () => {
  await client?.close();
  await srv?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

test('random file operations end in the same tree through the client and through node:fs', async () => {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 25 }), async (ops) => {
      run++;
      const local = join(tmp, `run${run}`);
      const remote = `run${run}`;
      await fs.mkdir(local);
      const s = client.share();
      await s.mkdir(remote);
      for (const op of ops) {
        if (!comparable(local, op)) continue;
        const a = await applyLocal(local, op);
        const b = await applyRemote(s, remote, op);
        // A path through a file is ENOTDIR to POSIX but OBJECT_PATH_NOT_FOUND (ENOENT, which rm's force
        // ignores) to NT: only the trees are compared then.
        if (a !== 'ENOTDIR') assert.equal(b, a === true, `outcome of ${JSON.stringify(op)} (local: ${String(a)})`);
      }
      assert.deepEqual(await remoteTree(s, remote), await localTree(local));
    }),
    { numRuns: 40 },
  );
});
