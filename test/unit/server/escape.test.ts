/**
 * The share-escape corpus through the SMB2 protocol: a raw client against an in-process server whose share is a
 * LocalStore on a temp dir, with `outside/` next to the share root. Every evil name goes through CREATE (open,
 * open as a directory, create a file + WRITE, create a directory), QUERY_INFO, READ, QUERY_DIRECTORY (the name
 * as a pattern, and as the directory), SET_INFO rename to it and into it, and delete-on-close. Each operation
 * must fail or act inside the root; afterwards outside/ and /etc/passwd are byte-for-byte unchanged, no response
 * carried the secret's bytes or an outside name, and the server still serves.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lstat, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isError, Status, statusName } from '../../../src/protocol/nt-status.js';
import { encodeQueryInfoRequest } from '../../../src/protocol/smb2/commands/query-info.js';
import { encodeSetInfoRequest } from '../../../src/protocol/smb2/commands/set-info.js';
import type { FileId } from '../../../src/protocol/smb2/commands/file-id.js';
import {
  AccessMask,
  Command,
  CreateDisposition,
  CreateOptions,
  FileAttributes,
  InfoType,
  QueryDirectoryFlags,
} from '../../../src/protocol/smb2/constants.js';
import { encodeSetFileInfo, FileInfoClass, type SetFileInfo } from '../../../src/protocol/smb2/fscc/file-info.js';
import { LocalStore } from '../../../src/store/local.js';
import { Writer } from '../../../src/util/writer.js';
import {
  buildEscapeLayout,
  ESCAPE_NAMES,
  etcPicture,
  HIDDEN_ENTRY_NAMES,
  labelOf,
  OUTSIDE_MARKER,
  restoreInside,
  snapshotTree,
  utf16,
  type EscapeLayout,
  type EscapeName,
} from '../../fixtures/escape-names.js';
import { ConnectionClosedError, RawClient, startTestServer, TEST_SHARE, type TestServer } from '../../support/raw-client.js';

/** Statuses that refuse a name without revealing anything (MS-FSA 2.1.5.1 and friends). */
const REFUSALS = new Set<number>([
  Status.OBJECT_NAME_INVALID,
  Status.OBJECT_NAME_NOT_FOUND,
  Status.OBJECT_PATH_NOT_FOUND,
  Status.OBJECT_PATH_SYNTAX_BAD,
  Status.ACCESS_DENIED,
  Status.INVALID_PARAMETER,
  Status.OBJECT_NAME_COLLISION,
  Status.NOT_A_DIRECTORY,
  Status.FILE_IS_A_DIRECTORY,
  Status.NO_SUCH_FILE,
  Status.NOT_SUPPORTED,
]);
/** A response that says the server failed rather than refused. */
const FAILURES = new Set<number>([Status.UNSUCCESSFUL, Status.INTERNAL_ERROR]);

const READ_ACCESS = AccessMask.FILE_READ_DATA | AccessMask.FILE_READ_ATTRIBUTES | AccessMask.SYNCHRONIZE;
const QUERY_CLASSES: [string, number][] = [
  ['basic', FileInfoClass.FileBasicInformation],
  ['standard', FileInfoClass.FileStandardInformation],
  ['all', FileInfoClass.FileAllInformation],
  ['stream', FileInfoClass.FileStreamInformation],
  ['name', FileInfoClass.FileNameInformation],
];

interface Rec {
  entry: EscapeName;
  op: string;
  status: number | 'DISCONNECTED';
}

function queryInfo(c: RawClient, fileId: FileId, infoClass: number) {
  return c.request(Command.QUERY_INFO, (w) =>
    encodeQueryInfoRequest(w, {
      infoType: InfoType.FILE,
      fileInfoClass: infoClass,
      outputBufferLength: 65536,
      additionalInformation: 0,
      flags: 0,
      fileId,
      inputBuffer: Buffer.alloc(0),
    }),
  );
}

function setInfo(c: RawClient, fileId: FileId, info: SetFileInfo, infoClass: number) {
  const w = new Writer(64);
  encodeSetFileInfo(w, info);
  const buffer = Buffer.from(w.finish());
  return c.request(Command.SET_INFO, (wr) =>
    encodeSetInfoRequest(wr, { infoType: InfoType.FILE, fileInfoClass: infoClass, additionalInformation: 0, fileId, buffer }),
  );
}

const renameInfo = (fileName: string, replace: boolean): SetFileInfo => ({ kind: 'rename', replaceIfExists: replace, rootDirectory: 0n, fileName });

describe('share escape corpus through SMB2 (LocalStore)', () => {
  let top: string;
  let layout: EscapeLayout;
  let srv: TestServer;
  let store: LocalStore;
  let outsideBefore: string[];
  let etcBefore: string;
  let topBefore: string[];
  const records: Rec[] = [];
  /** Every response a corpus client received (the hard-link test's own client is not in here). */
  const scanned: Buffer[] = [];
  const listings: { entry: string; names: string[] }[] = [];
  let disconnects = 0;

  before(async () => {
    top = await mkdtemp(join(tmpdir(), 'smbkit-escape-smb-'));
    layout = await buildEscapeLayout(top, Buffer.from(`SMBKIT-OUTSIDE-SECRET-${randomBytes(12).toString('hex')}`));
    store = new LocalStore(layout.root);
    srv = await startTestServer({ shares: [{ name: TEST_SHARE, store }] });
    await store.stat(''); // creates the sidecar before the pictures are taken
    outsideBefore = await snapshotTree(layout.outside);
    topBefore = (await readdir(top)).sort();
    etcBefore = await etcPicture();
  });

  after(async () => {
    await srv?.stop();
    await rm(top, { recursive: true, force: true });
  });

  it('refuses or confines every operation on every evil name', async (t) => {
    let c = await srv.login();
    const keep = (cl: RawClient) => {
      const seen = cl.received.length;
      return () => {
        for (const r of cl.received.slice(seen)) scanned.push(r.message);
      };
    };
    let flush = keep(c);

    /** Runs one request-making step; a dropped connection is recorded and replaced. */
    const step = async <T>(entry: EscapeName, op: string, fn: (cl: RawClient) => Promise<T & { status: number }>): Promise<(T & { status: number }) | undefined> => {
      try {
        const out = await fn(c);
        records.push({ entry, op, status: out.status });
        return out;
      } catch (err) {
        if (!(err instanceof ConnectionClosedError)) throw err;
        records.push({ entry, op, status: 'DISCONNECTED' });
        disconnects++;
        flush();
        c = await srv.login();
        flush = keep(c);
        return undefined;
      }
    };

    const inspectOpen = async (entry: EscapeName, prefix: string, fileId: FileId, isDir: boolean) => {
      for (const [label, cls] of QUERY_CLASSES) await step(entry, `${prefix}:qi-${label}`, (cl) => queryInfo(cl, fileId, cls));
      if (isDir) {
        const qd = await step(entry, `${prefix}:list`, (cl) => cl.queryDirectory(fileId, '*', { flags: QueryDirectoryFlags.RESTART_SCANS }));
        if (qd) listings.push({ entry: labelOf(entry), names: qd.entries.map((e) => e.fileName) });
      } else {
        await step(entry, `${prefix}:read`, (cl) => cl.read(fileId, 0, 65536));
      }
      await c.close(fileId).catch(() => undefined);
    };

    const rootDir = async () => {
      const r = await c.create('', { desiredAccess: READ_ACCESS, createDisposition: CreateDisposition.OPEN, createOptions: CreateOptions.DIRECTORY_FILE });
      assert.equal(r.status, Status.SUCCESS, 'the share root opens');
      return r.fileId;
    };

    for (const entry of ESCAPE_NAMES) {
      const name = entry.name;
      // open an existing object, read it, query it, list it
      const open = await step(entry, 'open', (cl) => cl.create(name, { desiredAccess: READ_ACCESS, createDisposition: CreateDisposition.OPEN }));
      if (open?.status === Status.SUCCESS) {
        await inspectOpen(entry, 'open', open.fileId, ((open.create?.fileAttributes ?? 0) & FileAttributes.DIRECTORY) !== 0);
      }
      // open as a directory, list it
      const dir = await step(entry, 'opendir', (cl) =>
        cl.create(name, {
          desiredAccess: READ_ACCESS,
          createDisposition: CreateDisposition.OPEN,
          createOptions: CreateOptions.DIRECTORY_FILE,
        }),
      );
      if (dir?.status === Status.SUCCESS) await inspectOpen(entry, 'opendir', dir.fileId, true);
      // create (or open) a file and write to it
      const created = await step(entry, 'create', (cl) =>
        cl.create(name, {
          desiredAccess: AccessMask.GENERIC_READ | AccessMask.GENERIC_WRITE,
          createDisposition: CreateDisposition.OPEN_IF,
          createOptions: CreateOptions.NON_DIRECTORY_FILE,
        }),
      );
      if (created?.status === Status.SUCCESS) {
        await step(entry, 'write', (cl) => cl.write(created.fileId, 0, Buffer.from('EVIL WRITE')));
        await c.close(created.fileId).catch(() => undefined);
      }
      // delete-on-close (removes what `create` made, when it made something)
      const doc = await step(entry, 'delete-on-close', (cl) =>
        cl.create(name, {
          desiredAccess: AccessMask.DELETE | AccessMask.FILE_READ_ATTRIBUTES,
          createDisposition: CreateDisposition.OPEN,
          createOptions: CreateOptions.DELETE_ON_CLOSE,
        }),
      );
      if (doc?.status === Status.SUCCESS) await c.close(doc.fileId).catch(() => undefined);
      // create a directory (deleted again on close)
      const mk = await step(entry, 'mkdir', (cl) =>
        cl.create(name, {
          desiredAccess: READ_ACCESS | AccessMask.DELETE,
          createDisposition: CreateDisposition.CREATE,
          createOptions: CreateOptions.DIRECTORY_FILE | CreateOptions.DELETE_ON_CLOSE,
        }),
      );
      if (mk?.status === Status.SUCCESS) await c.close(mk.fileId).catch(() => undefined);
      // the name as a QUERY_DIRECTORY pattern on the root
      const root = await rootDir();
      const qd = await step(entry, 'pattern', (cl) => cl.queryDirectory(root, name, { flags: QueryDirectoryFlags.RESTART_SCANS }));
      if (qd) listings.push({ entry: `pattern ${labelOf(entry)}`, names: qd.entries.map((e) => e.fileName) });
      await c.close(root).catch(() => undefined);
      // SET_INFO rename to the name, and into it as a directory
      for (const [op, target] of [
        ['rename-to', name],
        ['rename-into', `${name}\\bait.txt`],
      ] as const) {
        await writeFile(join(layout.root, 'bait.txt'), 'bait');
        const bait = await c.create('bait.txt', {
          desiredAccess: AccessMask.DELETE | AccessMask.FILE_READ_ATTRIBUTES | AccessMask.FILE_WRITE_ATTRIBUTES,
          createDisposition: CreateDisposition.OPEN,
        });
        assert.equal(bait.status, Status.SUCCESS, 'the bait opens');
        const r = await step(entry, op, (cl) => setInfo(cl, bait.fileId, renameInfo(target, entry.mustFail), FileInfoClass.FileRenameInformation));
        if (r?.status === Status.SUCCESS) {
          // It moved inside the root (checked below); remove it wherever it went.
          await setInfo(c, bait.fileId, { kind: 'disposition', deletePending: true }, FileInfoClass.FileDispositionInformation).catch(() => undefined);
        }
        await c.close(bait.fileId).catch(() => undefined);
        await rm(join(layout.root, 'bait.txt'), { force: true });
      }
      await restoreInside(layout);
    }
    flush();

    // Report: the statuses each class of name got, per operation.
    const byClass = new Map<string, Map<string, Set<string>>>();
    for (const r of records) {
      const ops = byClass.get(r.entry.cls) ?? new Map<string, Set<string>>();
      byClass.set(r.entry.cls, ops);
      const op = r.op.replace(/^open(dir)?:/, '$&');
      const set = ops.get(op) ?? new Set<string>();
      ops.set(op, set);
      set.add(r.status === 'DISCONNECTED' ? r.status : statusName(r.status).replace(/^STATUS_/, ''));
    }
    for (const [cls, ops] of byClass) {
      t.diagnostic(`${cls}: ${[...ops].map(([op, s]) => `${op}=${[...s].join('|')}`).join(' ')}`);
    }

    const problems: string[] = [];
    for (const r of records) {
      const what = `${r.op} ${JSON.stringify(labelOf(r.entry)).slice(0, 80)} -> ${r.status === 'DISCONNECTED' ? r.status : statusName(r.status)}`;
      if (r.status === 'DISCONNECTED') {
        problems.push(`connection dropped: ${what}`);
        continue;
      }
      if (FAILURES.has(r.status)) problems.push(`server failure: ${what}`);
      // A mustFail name may match '.'/'..' as a pattern (they are the root's own entries): checked via listings.
      if (r.entry.mustFail && r.op !== 'pattern' && !r.op.includes(':')) {
        if (!isError(r.status)) problems.push(`succeeded: ${what}`);
        else if (!REFUSALS.has(r.status)) problems.push(`unexpected refusal: ${what}`);
      }
    }
    assert.deepEqual(problems, [], problems.join('\n'));
    assert.equal(disconnects, 0);
  });

  it('no response carried the secret, an outside name, the sidecar or a link leading out', () => {
    const secretHits = scanned.filter((m) => m.includes(layout.secret));
    assert.equal(secretHits.length, 0, 'the secret bytes never leave the server');
    const marker = utf16(OUTSIDE_MARKER.slice(0, 14));
    assert.equal(scanned.filter((m) => m.includes(marker)).length, 0, 'outside/ is never listed');
    assert.equal(scanned.filter((m) => m.includes(utf16('deep.txt'))).length, 0, 'outside/subdir is never listed');
    assert.ok(listings.length > 0);
    for (const l of listings) {
      for (const n of l.names) {
        assert.ok(!HIDDEN_ENTRY_NAMES.includes(n.toLowerCase()), `${l.entry} lists ${n}`);
        assert.notEqual(n, 'secret.txt', `${l.entry} lists secret.txt`);
        assert.notEqual(n, 'passwd', `${l.entry} lists passwd`);
      }
    }
  });

  it('a hard link made by a local admin is the same file, and is not followed anywhere else', async () => {
    if (!layout.hardLinked) return;
    const c = await srv.login();
    // Reading it reads outside/secret.txt: that is what a hard link is (the admin put it there).
    const r = await c.create('hard_secret', { desiredAccess: READ_ACCESS, createDisposition: CreateDisposition.OPEN });
    assert.equal(r.status, Status.SUCCESS);
    const data = await c.read(r.fileId, 0, 4096);
    assert.deepEqual(data.data, layout.secret);
    const std = await queryInfo(c, r.fileId, FileInfoClass.FileStandardInformation);
    assert.equal(std.status, Status.SUCCESS);
    await c.close(r.fileId);
    // It can't be moved out, or into a link leading out, or made to reach the sidecar.
    const h = await c.create('hard_secret', { desiredAccess: AccessMask.DELETE | READ_ACCESS, createDisposition: CreateDisposition.OPEN });
    assert.equal(h.status, Status.SUCCESS);
    for (const target of ['..\\hs', '..\\outside\\hs', 'link_out\\hs', 'link_abs\\hs', '.smbkit\\hs', 'link_meta\\hs', 'link_secret', 'link_dangling']) {
      const s = await setInfo(c, h.fileId, renameInfo(target, true), FileInfoClass.FileRenameInformation);
      assert.ok(isError(s.status), `rename hard_secret -> ${target}: ${statusName(s.status)}`);
    }
    await c.close(h.fileId);
    assert.ok((await lstat(join(layout.root, 'hard_secret'))).isFile());
  });

  it('a relative symlink moved up a level by an SMB rename leads out, and is then refused', async () => {
    const c = await srv.login();
    scanned.length = 0;
    const seen = c.received.length;
    // sub\ln_rel -> ../outside is root/outside (inside) until it is moved to the root.
    const before = await c.create('sub\\ln_rel\\decoy.txt', { desiredAccess: READ_ACCESS, createDisposition: CreateDisposition.OPEN });
    assert.equal(before.status, Status.SUCCESS, 'inside-pointing link is followed');
    await c.close(before.fileId);
    const ln = await c.create('sub\\ln_rel', {
      desiredAccess: AccessMask.DELETE | READ_ACCESS,
      createDisposition: CreateDisposition.OPEN,
      createOptions: CreateOptions.DIRECTORY_FILE,
    });
    assert.equal(ln.status, Status.SUCCESS);
    const mv = await setInfo(c, ln.fileId, renameInfo('ln_moved', false), FileInfoClass.FileRenameInformation);
    await c.close(ln.fileId);
    if (mv.status === Status.SUCCESS) {
      // root/ln_moved -> ../outside is now the real outside/.
      for (const name of ['ln_moved', 'ln_moved\\secret.txt', `ln_moved\\${OUTSIDE_MARKER}`]) {
        const r = await c.create(name, { desiredAccess: READ_ACCESS, createDisposition: CreateDisposition.OPEN });
        assert.ok(isError(r.status), `${name} after the move: ${statusName(r.status)}`);
      }
      const w = await c.create('ln_moved\\new.txt', { createDisposition: CreateDisposition.OPEN_IF });
      assert.ok(isError(w.status), `create through the moved link: ${statusName(w.status)}`);
      const root = await c.create('', { desiredAccess: READ_ACCESS, createDisposition: CreateDisposition.OPEN, createOptions: CreateOptions.DIRECTORY_FILE });
      const list = await c.queryDirectory(root.fileId, '*');
      assert.ok(!list.entries.some((e) => e.fileName === 'ln_moved'), 'the moved link is no longer listed');
      await c.close(root.fileId);
    }
    for (const r of c.received.slice(seen)) assert.ok(!r.message.includes(layout.secret));
  });

  it('outside/, the directory above the share and /etc are unchanged; the server still serves', async () => {
    assert.deepEqual(await snapshotTree(layout.outside), outsideBefore);
    assert.deepEqual((await readdir(top)).sort(), topBefore);
    assert.equal(await etcPicture(), etcBefore);
    await assert.rejects(lstat(join(layout.outside, 'created_through_link.txt')));
    // The sidecar holds only what the store puts there.
    for (const n of await readdir(join(layout.root, '.smbkit'))) assert.ok(['records.jsonl', 'streams'].includes(n), `.smbkit/${n}`);
    // Still serving: a fresh login writes and reads a file.
    const c = await srv.login();
    // A rename target's leading '\\' is the share root (MS-FSCC 2.4.42.2: share-relative), not the disk's.
    await writeFile(join(layout.root, 'bait2.txt'), 'bait');
    const b = await c.create('bait2.txt', { desiredAccess: AccessMask.DELETE | READ_ACCESS, createDisposition: CreateDisposition.OPEN });
    const mv = await setInfo(c, b.fileId, renameInfo('\\outside\\moved.txt', false), FileInfoClass.FileRenameInformation);
    await c.close(b.fileId);
    assert.equal(mv.status, Status.SUCCESS);
    assert.ok((await lstat(join(layout.root, 'outside', 'moved.txt'))).isFile());
    await assert.rejects(lstat(join(layout.outside, 'moved.txt')));
    const f = await c.create('after.txt', { createDisposition: CreateDisposition.OVERWRITE_IF });
    assert.equal(f.status, Status.SUCCESS);
    assert.equal((await c.write(f.fileId, 0, Buffer.from('still here'))).status, Status.SUCCESS);
    assert.equal((await c.read(f.fileId, 0, 100)).data.toString(), 'still here');
    await c.close(f.fileId);
  });
});
