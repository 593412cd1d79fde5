/**
 * CHANGE_NOTIFY reporting through the raw protocol: changes by another client, changes kept between requests,
 * WATCH_TREE, overflow, deletion of the watched directory, and changes made on the disk by another program.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Status } from '../../../src/protocol/nt-status.js';
import { AccessMask, ChangeNotifyFlags, Command, CreateDisposition, CreateOptions, InfoType, ShareAccess } from '../../../src/protocol/smb2/constants.js';
import { CompletionFilter, decodeChangeNotifyResponse, encodeChangeNotifyRequest } from '../../../src/protocol/smb2/commands/change-notify.js';
import { encodeSetInfoRequest } from '../../../src/protocol/smb2/commands/set-info.js';
import type { FileId } from '../../../src/protocol/smb2/commands/file-id.js';
import { decodeFileNotifyInformation, NotifyAction, type FileNotifyInformation } from '../../../src/protocol/smb2/fscc/notify-info.js';
import { encodeSetFileInfo, FileInfoClass } from '../../../src/protocol/smb2/fscc/file-info.js';
import { LocalStore } from '../../../src/store/local.js';
import { Writer } from '../../../src/util/writer.js';
import { startTestServer, TEST_SHARE, type RawClient, type RawResponse } from '../../support/raw-client.js';

const HOST = '127.0.0.73';
const NAME_FILTER = CompletionFilter.FILE_NAME | CompletionFilter.DIR_NAME;

async function openDir(c: RawClient, name: string, disposition: number = CreateDisposition.OPEN_IF): Promise<FileId> {
  const r = await c.create(name, {
    desiredAccess: AccessMask.FILE_READ_DATA | AccessMask.FILE_READ_ATTRIBUTES | AccessMask.SYNCHRONIZE,
    shareAccess: ShareAccess.READ | ShareAccess.WRITE | ShareAccess.DELETE,
    createDisposition: disposition,
    createOptions: CreateOptions.DIRECTORY_FILE,
  });
  assert.equal(r.status, Status.SUCCESS, `open ${name}`);
  return r.fileId;
}

function notify(c: RawClient, fileId: FileId, o: { filter?: number; tree?: boolean; length?: number } = {}) {
  return c.start(Command.CHANGE_NOTIFY, (w) =>
    encodeChangeNotifyRequest(w, {
      flags: o.tree ? ChangeNotifyFlags.WATCH_TREE : 0,
      outputBufferLength: o.length ?? 4096,
      fileId,
      completionFilter: o.filter ?? NAME_FILTER,
    }),
  );
}

function changes(r: RawResponse): FileNotifyInformation[] {
  assert.equal(r.status, Status.SUCCESS);
  return decodeFileNotifyInformation(decodeChangeNotifyResponse(r.body).outputBuffer);
}

async function touch(c: RawClient, name: string, options: number = CreateOptions.NON_DIRECTORY_FILE): Promise<void> {
  const r = await c.create(name, { createDisposition: CreateDisposition.CREATE, createOptions: options });
  assert.equal(r.status, Status.SUCCESS, `create ${name}`);
  assert.equal((await c.close(r.fileId)).status, Status.SUCCESS);
}

async function remove(c: RawClient, name: string, options = 0): Promise<void> {
  const r = await c.create(name, {
    desiredAccess: AccessMask.DELETE,
    shareAccess: ShareAccess.READ | ShareAccess.WRITE | ShareAccess.DELETE,
    createDisposition: CreateDisposition.OPEN,
    createOptions: CreateOptions.DELETE_ON_CLOSE | options,
  });
  assert.equal(r.status, Status.SUCCESS, `open ${name} to delete`);
  assert.equal((await c.close(r.fileId)).status, Status.SUCCESS);
}

async function rename(c: RawClient, from: string, to: string): Promise<void> {
  const r = await c.create(from, { desiredAccess: AccessMask.DELETE, createDisposition: CreateDisposition.OPEN });
  assert.equal(r.status, Status.SUCCESS);
  const w = new Writer(256);
  encodeSetFileInfo(w, { kind: 'rename', replaceIfExists: false, rootDirectory: 0n, fileName: to });
  const res = await c.request(Command.SET_INFO, (bw) =>
    encodeSetInfoRequest(bw, { infoType: InfoType.FILE, fileInfoClass: FileInfoClass.FileRenameInformation, additionalInformation: 0, fileId: r.fileId, buffer: w.finish() }),
  );
  assert.equal(res.status, Status.SUCCESS);
  await c.close(r.fileId);
}

test('a pending CHANGE_NOTIFY completes with the change another client makes (FILE_NOTIFY_INFORMATION)', async () => {
  const srv = await startTestServer({}, { host: HOST });
  try {
    const a = await srv.login();
    const b = await srv.login();
    const dir = await openDir(a, 'watched');
    const n = notify(a, dir);
    assert.equal((await n.interim).status, Status.PENDING);
    await touch(b, 'watched\\new.txt');
    assert.deepEqual(changes(await n.final), [{ action: NotifyAction.ADDED, fileName: 'new.txt' }]);
    // A rename in the directory is an old/new pair, in one response.
    const n2 = notify(a, dir);
    assert.equal((await n2.interim).status, Status.PENDING);
    await rename(b, 'watched\\new.txt', 'watched\\renamed.txt');
    assert.deepEqual(changes(await n2.final), [
      { action: NotifyAction.RENAMED_OLD_NAME, fileName: 'new.txt' },
      { action: NotifyAction.RENAMED_NEW_NAME, fileName: 'renamed.txt' },
    ]);
  } finally {
    await srv.stop();
  }
});

test('changes between requests are kept for the next one; the filter and WATCH_TREE come from the first request', async () => {
  const srv = await startTestServer({}, { host: HOST });
  try {
    const a = await srv.login();
    const b = await srv.login();
    await openDir(b, 'top');
    await touch(b, 'top\\sub', CreateOptions.DIRECTORY_FILE);
    const dir = await openDir(a, 'top');
    const first = notify(a, dir, { tree: true, filter: CompletionFilter.FILE_NAME });
    assert.equal((await first.interim).status, Status.PENDING);
    a.cancel(first.messageId, (await first.interim).header.asyncId);
    assert.equal((await first.final).status, Status.CANCELLED);
    // Nothing waits now: these are kept. A directory is not a FILE_NAME change; below `sub` counts (WATCH_TREE).
    await touch(b, 'top\\a.txt');
    await touch(b, 'top\\d2', CreateOptions.DIRECTORY_FILE);
    await touch(b, 'top\\sub\\deep.txt');
    await remove(b, 'top\\a.txt');
    // A later request asking for other things changes nothing.
    const next = notify(a, dir, { tree: false, filter: CompletionFilter.DIR_NAME });
    assert.deepEqual(changes(await next.final), [
      { action: NotifyAction.ADDED, fileName: 'a.txt' },
      { action: NotifyAction.ADDED, fileName: 'sub\\deep.txt' },
      { action: NotifyAction.REMOVED, fileName: 'a.txt' },
    ]);
  } finally {
    await srv.stop();
  }
});

test('too many kept changes, or changes larger than the output buffer, answer STATUS_NOTIFY_ENUM_DIR', async () => {
  const srv = await startTestServer({}, { host: HOST });
  try {
    const a = await srv.login();
    const b = await srv.login();
    const dir = await openDir(a, 'busy');
    const first = notify(a, dir, { length: 200 });
    assert.equal((await first.interim).status, Status.PENDING);
    a.cancel(first.messageId);
    assert.equal((await first.final).status, Status.CANCELLED);
    for (let i = 0; i < 20; i++) await touch(b, `busy\\file-with-a-long-name-${i}.txt`);
    assert.equal((await notify(a, dir, { length: 200 }).final).status, Status.NOTIFY_ENUM_DIR);
    // The overflow was reported; the next change is reported normally, unless it does not fit the request.
    const n = notify(a, dir, { length: 200 });
    assert.equal((await n.interim).status, Status.PENDING);
    await touch(b, 'busy\\x');
    assert.deepEqual(changes(await n.final), [{ action: NotifyAction.ADDED, fileName: 'x' }]);
    const small = notify(a, dir, { length: 4 });
    assert.equal((await small.interim).status, Status.PENDING);
    await touch(b, 'busy\\y');
    assert.equal((await small.final).status, Status.NOTIFY_ENUM_DIR);
  } finally {
    await srv.stop();
  }
});

test('deleting the watched directory ends a pending CHANGE_NOTIFY with STATUS_DELETE_PENDING; notify on a file is invalid', async () => {
  const srv = await startTestServer({}, { host: HOST });
  try {
    const a = await srv.login();
    const b = await srv.login();
    const dir = await openDir(a, 'doomed');
    const n = notify(a, dir);
    assert.equal((await n.interim).status, Status.PENDING);
    await remove(b, 'doomed', CreateOptions.DIRECTORY_FILE);
    assert.equal((await n.final).status, Status.DELETE_PENDING);
    const f = await a.create('file.txt', { createDisposition: CreateDisposition.CREATE });
    assert.equal((await notify(a, f.fileId).final).status, Status.INVALID_PARAMETER);
  } finally {
    await srv.stop();
  }
});

test('pending CHANGE_NOTIFYs are capped per session (STATUS_INSUFFICIENT_RESOURCES past the cap)', async () => {
  const { defaultAccessPolicy } = await import('../../../src/config/server-config.js');
  const srv = await startTestServer({ access: { ...defaultAccessPolicy(), maxPendingNotifiesPerSession: 2 } }, { host: HOST });
  try {
    const a = await srv.login();
    const dir = await openDir(a, 'capped');
    const n1 = notify(a, dir);
    const n2 = notify(a, dir);
    assert.equal((await n1.interim).status, Status.PENDING);
    assert.equal((await n2.interim).status, Status.PENDING);
    assert.equal((await notify(a, dir).final).status, Status.INSUFFICIENT_RESOURCES);
    await a.close(dir);
    assert.equal((await n1.final).status, Status.NOTIFY_CLEANUP);
    assert.equal((await n2.final).status, Status.NOTIFY_CLEANUP);
  } finally {
    await srv.stop();
  }
});

test('changes made on the disk by another program are reported once; the server\'s own changes are not echoed', async () => {
  const top = await mkdtemp(join(tmpdir(), 'smbkit-notify-'));
  await mkdir(join(top, 'share', 'disk'), { recursive: true });
  const store = new LocalStore(join(top, 'share'));
  const srv = await startTestServer({ shares: [{ name: TEST_SHARE, store }] }, { host: HOST });
  try {
    const a = await srv.login();
    const b = await srv.login();
    const dir = await openDir(a, 'disk');
    const n = notify(a, dir, { tree: true });
    assert.equal((await n.interim).status, Status.PENDING);
    // Through the server: reported at once, and its disk echo must not show up again.
    await touch(b, 'disk\\via-smb.txt');
    assert.deepEqual(changes(await n.final), [{ action: NotifyAction.ADDED, fileName: 'via-smb.txt' }]);
    const n2 = notify(a, dir, { tree: true });
    assert.equal((await n2.interim).status, Status.PENDING);
    await writeFile(join(top, 'share', 'disk', 'by-hand.txt'), 'x');
    const got = changes(await n2.final);
    assert.deepEqual(got[0], { action: NotifyAction.ADDED, fileName: 'by-hand.txt' });
    for (const e of got) assert.notEqual(e.fileName, 'via-smb.txt', 'an echo of the server\'s own change');
  } finally {
    await srv.stop();
    await rm(top, { recursive: true, force: true });
  }
});
