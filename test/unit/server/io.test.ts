import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Status } from '../../../src/protocol/nt-status.js';
import { readWhole, writeWhole } from '../../../src/store/contract.js';
import { errorCode } from '../../../src/store/types.js';
import {
  AccessMask,
  Command,
  CreateDisposition,
  CreateOptions,
  HeaderFlags,
  InfoType,
  ShareAccess,
} from '../../../src/protocol/smb2/constants.js';
import { decodeCloseResponse, encodeCloseRequest } from '../../../src/protocol/smb2/commands/close.js';
import { decodeCreateResponse, encodeCreateRequest } from '../../../src/protocol/smb2/commands/create.js';
import { RELATED_FILE_ID } from '../../../src/protocol/smb2/commands/file-id.js';
import { encodeReadRequest } from '../../../src/protocol/smb2/commands/read.js';
import { encodeSetInfoRequest } from '../../../src/protocol/smb2/commands/set-info.js';
import { decodeWriteResponse, encodeWriteRequest } from '../../../src/protocol/smb2/commands/write.js';
import { FileInfoClass } from '../../../src/protocol/smb2/fscc/file-info.js';
import { RawClient, startTestServer } from '../../support/raw-client.js';

const RW = AccessMask.GENERIC_READ | AccessMask.GENERIC_WRITE;

test('a related compound CREATE + WRITE + CLOSE works and the file holds the data', async () => {
  const srv = await startTestServer();
  try {
    for (const dialect of [0x0210, 0x0311]) {
      const c = await srv.login([dialect]);
      const data = Buffer.from(`hello from a compound on ${dialect.toString(16)}`);
      const name = `compound-${dialect.toString(16)}.txt`;
      const related = { flags: HeaderFlags.RELATED_OPERATIONS };
      const [cr, wr, cl] = await c.compound([
        { command: Command.CREATE, encodeBody: (w) => encodeCreateRequest(w, RawClient.createRequest(name, { createDisposition: CreateDisposition.CREATE })) },
        {
          command: Command.WRITE,
          encodeBody: (w) =>
            encodeWriteRequest(w, { offset: 0n, fileId: RELATED_FILE_ID, channel: 0, remainingBytes: 0, flags: 0, data, writeChannelInfo: Buffer.alloc(0) }),
          opts: related,
        },
        { command: Command.CLOSE, encodeBody: (w) => encodeCloseRequest(w, { flags: 1, fileId: RELATED_FILE_ID }), opts: related },
      ]);
      assert.equal(cr!.status, Status.SUCCESS);
      assert.equal(wr!.status, Status.SUCCESS);
      assert.equal(cl!.status, Status.SUCCESS);
      assert.ok(decodeCreateResponse(cr!.body).fileId.volatile !== RELATED_FILE_ID.volatile);
      assert.equal(decodeWriteResponse(wr!.body).count, data.length);
      assert.equal(decodeCloseResponse(cl!.body).endOfFile, BigInt(data.length));
      for (const r of [cr!, wr!, cl!]) assert.equal(r.signatureValid, true, 'each compounded response is signed');
      assert.ok(wr!.header.flags & HeaderFlags.RELATED_OPERATIONS);
      assert.deepEqual(await readWhole(srv.store, name), data);
      c.destroy();
    }
  } finally {
    await srv.stop();
  }
});

test('a related compound after a failed CREATE fails each request with the CREATE status', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const related = { flags: HeaderFlags.RELATED_OPERATIONS };
    const [cr, wr, cl] = await c.compound([
      { command: Command.CREATE, encodeBody: (w) => encodeCreateRequest(w, RawClient.createRequest('missing.txt', { createDisposition: CreateDisposition.OPEN })) },
      {
        command: Command.WRITE,
        encodeBody: (w) =>
          encodeWriteRequest(w, { offset: 0n, fileId: RELATED_FILE_ID, channel: 0, remainingBytes: 0, flags: 0, data: Buffer.from('x'), writeChannelInfo: Buffer.alloc(0) }),
        opts: related,
      },
      { command: Command.CLOSE, encodeBody: (w) => encodeCloseRequest(w, { flags: 0, fileId: RELATED_FILE_ID }), opts: related },
    ]);
    assert.equal(cr!.status, Status.OBJECT_NAME_NOT_FOUND);
    assert.equal(wr!.status, Status.OBJECT_NAME_NOT_FOUND);
    assert.equal(cl!.status, Status.OBJECT_NAME_NOT_FOUND);
  } finally {
    await srv.stop();
  }
});

// cifs.ko removes a directory with CREATE(DELETE) + SET_INFO(FileDispositionInformation) + CLOSE. When the
// directory is not empty only the SET_INFO fails: the CLOSE must still close, or the handle outlives the
// request and a later rmdir leaves the directory delete-pending until the client disconnects.
test('a related CLOSE after a failed SET_INFO still closes the handle (rmdir of a non-empty directory)', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    await srv.store.mkdir('full');
    await writeWhole(srv.store, 'full/f', 'x');
    const related = { flags: HeaderFlags.RELATED_OPERATIONS };
    const rmdir = () =>
      c.compound([
        {
          command: Command.CREATE,
          encodeBody: (w) =>
            encodeCreateRequest(
              w,
              RawClient.createRequest('full', { desiredAccess: AccessMask.DELETE, createDisposition: CreateDisposition.OPEN, createOptions: CreateOptions.DIRECTORY_FILE }),
            ),
        },
        {
          command: Command.SET_INFO,
          encodeBody: (w) =>
            encodeSetInfoRequest(w, { infoType: InfoType.FILE, fileInfoClass: FileInfoClass.FileDispositionInformation, additionalInformation: 0, fileId: RELATED_FILE_ID, buffer: Buffer.from([1]) }),
          opts: related,
        },
        { command: Command.CLOSE, encodeBody: (w) => encodeCloseRequest(w, { flags: 0, fileId: RELATED_FILE_ID }), opts: related },
      ]);
    const [cr, si, cl] = await rmdir();
    assert.equal(cr!.status, Status.SUCCESS);
    assert.equal(si!.status, Status.DIRECTORY_NOT_EMPTY);
    assert.equal(cl!.status, Status.SUCCESS, 'the CLOSE does not inherit the SET_INFO failure');
    // No handle is left: an exclusive open succeeds, and the real rmdir removes the directory at once.
    const excl = await c.create('full', { desiredAccess: AccessMask.DELETE, shareAccess: 0, createDisposition: CreateDisposition.OPEN, createOptions: CreateOptions.DIRECTORY_FILE });
    assert.equal(excl.status, Status.SUCCESS);
    assert.equal((await c.close(excl.fileId)).status, Status.SUCCESS);
    await srv.store.unlink('full/f');
    const again = await rmdir();
    assert.deepEqual(again.map((r) => r.status), [Status.SUCCESS, Status.SUCCESS, Status.SUCCESS]);
    assert.equal(errorCode(await srv.store.stat('full').then(() => undefined, (e: unknown) => e)), 'ENOENT');
  } finally {
    await srv.stop();
  }
});

test('a related READ after a failed WRITE runs (only a failed CREATE fails the rest of the chain)', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    await writeWhole(srv.store, 'ro.txt', 'abc');
    const related = { flags: HeaderFlags.RELATED_OPERATIONS };
    const [cr, wr, rd, cl] = await c.compound([
      { command: Command.CREATE, encodeBody: (w) => encodeCreateRequest(w, RawClient.createRequest('ro.txt', { desiredAccess: AccessMask.FILE_READ_DATA, createDisposition: CreateDisposition.OPEN })) },
      {
        command: Command.WRITE,
        encodeBody: (w) =>
          encodeWriteRequest(w, { offset: 0n, fileId: RELATED_FILE_ID, channel: 0, remainingBytes: 0, flags: 0, data: Buffer.from('x'), writeChannelInfo: Buffer.alloc(0) }),
        opts: related,
      },
      {
        command: Command.READ,
        encodeBody: (w) => encodeReadRequest(w, { padding: 0, flags: 0, length: 3, offset: 0n, fileId: RELATED_FILE_ID, minimumCount: 0, channel: 0, remainingBytes: 0, readChannelInfo: Buffer.alloc(0) }),
        opts: related,
      },
      { command: Command.CLOSE, encodeBody: (w) => encodeCloseRequest(w, { flags: 0, fileId: RELATED_FILE_ID }), opts: related },
    ]);
    assert.equal(cr!.status, Status.SUCCESS);
    assert.equal(wr!.status, Status.ACCESS_DENIED);
    assert.equal(rd!.status, Status.SUCCESS);
    assert.equal(cl!.status, Status.SUCCESS);
  } finally {
    await srv.stop();
  }
});

test('WRITE and READ of 8 MiB with CreditCharge 128 work; with CreditCharge 1 they get INVALID_PARAMETER', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    await c.ensureCredits(300);
    const f = await c.create('big.bin', { createDisposition: CreateDisposition.OVERWRITE_IF });
    assert.equal(f.status, Status.SUCCESS);
    const data = randomBytes(8 << 20);
    const w = await c.write(f.fileId, 0, data, { creditCharge: 128 });
    assert.equal(w.status, Status.SUCCESS);
    assert.equal(w.count, data.length);
    await c.ensureCredits(300);
    const r = await c.read(f.fileId, 0, data.length, { creditCharge: 128 });
    assert.equal(r.status, Status.SUCCESS);
    assert.equal(r.data.length, data.length);
    assert.ok(r.data.equals(data));

    const w1 = await c.write(f.fileId, 0, data, { creditCharge: 1 });
    assert.equal(w1.status, Status.INVALID_PARAMETER);
    const r1 = await c.read(f.fileId, 0, data.length, { creditCharge: 1 });
    assert.equal(r1.status, Status.INVALID_PARAMETER);
    // One credit too few is refused as well (ceil(8 MiB / 64 KiB) = 128).
    await c.ensureCredits(300);
    assert.equal((await c.read(f.fileId, 0, data.length, { creditCharge: 127 })).status, Status.INVALID_PARAMETER);
    // The connection is still fine.
    assert.equal((await c.close(f.fileId)).status, Status.SUCCESS);
    assert.ok((await readWhole(srv.store, 'big.bin')).equals(data));
  } finally {
    await srv.stop();
  }
});

test('share modes: a second open for write without FILE_SHARE_WRITE gets SHARING_VIOLATION', async () => {
  const srv = await startTestServer();
  try {
    const a = await srv.login();
    const b = await srv.login();
    const first = await a.create('shared.txt', { desiredAccess: RW, shareAccess: ShareAccess.READ });
    assert.equal(first.status, Status.SUCCESS);
    // The first open denies others write access.
    const second = await b.create('shared.txt', { desiredAccess: RW, shareAccess: ShareAccess.READ | ShareAccess.WRITE });
    assert.equal(second.status, Status.SHARING_VIOLATION);
    // A reader must share write too, since the first open has write access (MS-FSA 2.1.5.1.2).
    const reader = await b.create('shared.txt', { desiredAccess: AccessMask.GENERIC_READ, shareAccess: ShareAccess.READ });
    assert.equal(reader.status, Status.SHARING_VIOLATION);
    const reader2 = await b.create('shared.txt', { desiredAccess: AccessMask.GENERIC_READ, shareAccess: ShareAccess.READ | ShareAccess.WRITE });
    assert.equal(reader2.status, Status.SUCCESS);
    assert.equal((await b.close(reader2.fileId)).status, Status.SUCCESS);
    // Once the first open closes, the write open succeeds.
    assert.equal((await a.close(first.fileId)).status, Status.SUCCESS);
    const third = await b.create('shared.txt', { desiredAccess: RW, shareAccess: ShareAccess.READ });
    assert.equal(third.status, Status.SUCCESS);
    // Attribute-only opens are not subject to share modes.
    const attrs = await a.create('shared.txt', { desiredAccess: AccessMask.FILE_READ_ATTRIBUTES, shareAccess: 0 });
    assert.equal(attrs.status, Status.SUCCESS);
  } finally {
    await srv.stop();
  }
});

test('delete-on-close removes the file when its last handle closes', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const all = ShareAccess.READ | ShareAccess.WRITE | ShareAccess.DELETE;
    const h1 = await c.create('doc.txt', {
      desiredAccess: RW | AccessMask.DELETE,
      shareAccess: all,
      createDisposition: CreateDisposition.CREATE,
      createOptions: CreateOptions.DELETE_ON_CLOSE,
    });
    assert.equal(h1.status, Status.SUCCESS);
    const h2 = await c.create('doc.txt', { desiredAccess: AccessMask.GENERIC_READ, shareAccess: all, createDisposition: CreateDisposition.OPEN });
    assert.equal(h2.status, Status.SUCCESS);
    assert.equal((await c.close(h1.fileId)).status, Status.SUCCESS);
    // Still there while another handle is open.
    assert.equal((await srv.store.stat('doc.txt')).type, 'file');
    assert.equal((await c.close(h2.fileId)).status, Status.SUCCESS);
    await assert.rejects(srv.store.stat('doc.txt'), (err: unknown) => errorCode(err) === 'ENOENT');
    const again = await c.create('doc.txt', { createDisposition: CreateDisposition.OPEN });
    assert.equal(again.status, Status.OBJECT_NAME_NOT_FOUND);
  } finally {
    await srv.stop();
  }
});

test("'/' separates names like '\\' (as Samba reads it) and never reaches above the share", async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const dir = await c.create('d', { createDisposition: CreateDisposition.CREATE, createOptions: CreateOptions.DIRECTORY_FILE });
    assert.equal(dir.status, Status.SUCCESS);
    await c.close(dir.fileId);
    const f = await c.create('d/f.txt', { desiredAccess: RW, createDisposition: CreateDisposition.CREATE });
    assert.equal(f.status, Status.SUCCESS);
    await c.close(f.fileId);
    assert.equal((await srv.store.stat('d/f.txt')).type, 'file');
    const same = await c.create('d\\f.txt', { createDisposition: CreateDisposition.CREATE });
    assert.equal(same.status, Status.OBJECT_NAME_COLLISION, 'both spellings name one file');
    assert.equal((await c.create('/d/f.txt', { createDisposition: CreateDisposition.OPEN })).status, Status.INVALID_PARAMETER);
    assert.equal((await c.create('d/../../x', { createDisposition: CreateDisposition.CREATE })).status, Status.OBJECT_PATH_SYNTAX_BAD);
    assert.equal((await c.create('d/f.txt:s/t', { createDisposition: CreateDisposition.CREATE })).status, Status.OBJECT_NAME_INVALID);
  } finally {
    await srv.stop();
  }
});

test('QUERY_DIRECTORY lists what was created', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    for (const n of ['a.txt', 'b.txt']) {
      const f = await c.create(n, { createDisposition: CreateDisposition.CREATE });
      assert.equal(f.status, Status.SUCCESS);
      await c.close(f.fileId);
    }
    const dir = await c.create('', {
      desiredAccess: AccessMask.FILE_READ_DATA | AccessMask.FILE_READ_ATTRIBUTES | AccessMask.SYNCHRONIZE,
      createDisposition: CreateDisposition.OPEN,
      createOptions: CreateOptions.DIRECTORY_FILE,
    });
    assert.equal(dir.status, Status.SUCCESS);
    const q = await c.queryDirectory(dir.fileId, '*');
    assert.equal(q.status, Status.SUCCESS);
    const names = q.entries.map((e) => e.fileName).sort();
    assert.deepEqual(names.filter((n) => n !== '.' && n !== '..'), ['a.txt', 'b.txt']);
    const again = await c.queryDirectory(dir.fileId, '*');
    assert.equal(again.status, Status.NO_MORE_FILES);
  } finally {
    await srv.stop();
  }
});

test('failed CREATEs leave no file state behind (a server does not grow with every refused open)', async () => {
  const ts = await startTestServer();
  try {
    const c = await ts.login();
    assert.equal((await c.create('missing.txt', { createDisposition: CreateDisposition.OPEN })).status, Status.OBJECT_NAME_NOT_FOUND);
    const a = await c.create('held.txt', { createDisposition: CreateDisposition.CREATE, shareAccess: 0 });
    assert.equal(a.status, Status.SUCCESS);
    assert.equal((await c.create('held.txt', { createDisposition: CreateDisposition.OPEN })).status, Status.SHARING_VIOLATION);
    assert.equal((await c.create('held.txt', { createDisposition: CreateDisposition.CREATE })).status, Status.OBJECT_NAME_COLLISION);
    assert.equal(ts.server.nodes.size, 1, 'only the open file has a node');
    await c.close(a.fileId);
    assert.equal(ts.server.nodes.size, 0);
  } finally {
    await ts.stop();
  }
});
