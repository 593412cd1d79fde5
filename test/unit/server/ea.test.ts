/**
 * Extended attributes through the server (MemoryStore): CREATE's EA buffer, SET_INFO and QUERY_INFO
 * FileFullEaInformation with its scan flags, EaSize everywhere it shows, and a store without EAs. EA lists sent
 * here are written out by hand from MS-FSCC 2.4.15, not by the encoder under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../../src/protocol/nt-status.js';
import { AccessMask, Command, CreateDisposition, CreateOptions, InfoType } from '../../../src/protocol/smb2/constants.js';
import { decodeQueryDirectoryResponse, encodeQueryDirectoryRequest } from '../../../src/protocol/smb2/commands/query-directory.js';
import { decodeQueryInfoResponse, encodeQueryInfoRequest, QueryInfoFlags } from '../../../src/protocol/smb2/commands/query-info.js';
import { encodeSetInfoRequest } from '../../../src/protocol/smb2/commands/set-info.js';
import type { FileId } from '../../../src/protocol/smb2/commands/file-id.js';
import { decodeDirectoryListing } from '../../../src/protocol/smb2/fscc/dir-info.js';
import { decodeFullEaList } from '../../../src/protocol/smb2/fscc/ea.js';
import { FileInfoClass, decodeFileInfo } from '../../../src/protocol/smb2/fscc/file-info.js';
import { decodeFsInfo, FileSystemAttributes, FsInfoClass } from '../../../src/protocol/smb2/fscc/fs-info.js';
import { MemoryStore } from '../../../src/store/memory.js';
import type { FileStore } from '../../../src/store/types.js';
import { Reader } from '../../../src/util/reader.js';
import { RawClient, startTestServer, TEST_SHARE } from '../../support/raw-client.js';

/** One FILE_FULL_EA_INFORMATION entry (MS-FSCC 2.4.15), padded to 4 bytes when another follows. */
function entry(name: string, value: string | Buffer, opts: { flags?: number; last?: boolean } = {}): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  const size = 8 + n.length + 1 + v.length;
  const padded = opts.last === false ? (size + 3) & ~3 : size;
  const b = Buffer.alloc(padded);
  b.writeUInt32LE(opts.last === false ? padded : 0, 0);
  b[4] = opts.flags ?? 0;
  b[5] = n.length;
  b.writeUInt16LE(v.length, 6);
  n.copy(b, 8);
  v.copy(b, 9 + n.length);
  return b;
}

/** A list of (name, value) as FILE_FULL_EA_INFORMATION. */
function list(...eas: [string, string | Buffer][]): Buffer {
  return Buffer.concat(eas.map(([n, v], i) => entry(n, v, { last: i === eas.length - 1 })));
}

/** FILE_GET_EA_INFORMATION (MS-FSCC 2.4.15.1). */
function getList(...names: string[]): Buffer {
  return Buffer.concat(
    names.map((name, i) => {
      const n = Buffer.from(name, 'latin1');
      const last = i === names.length - 1;
      const size = 5 + n.length + 1;
      const b = Buffer.alloc(last ? size : (size + 3) & ~3);
      b.writeUInt32LE(last ? 0 : b.length, 0);
      b[4] = n.length;
      n.copy(b, 5);
      return b;
    }),
  );
}

const EA_CONTEXT = 'ExtA';

async function query(c: RawClient, fileId: FileId, o: { flags?: number; index?: number; names?: Buffer; outputBufferLength?: number; infoClass?: number } = {}) {
  const res = await c.request(Command.QUERY_INFO, (w) =>
    encodeQueryInfoRequest(w, {
      infoType: InfoType.FILE,
      fileInfoClass: o.infoClass ?? FileInfoClass.FileFullEaInformation,
      outputBufferLength: o.outputBufferLength ?? 65536,
      additionalInformation: o.index ?? 0,
      flags: o.flags ?? 0,
      fileId,
      inputBuffer: o.names ?? Buffer.alloc(0),
    }),
  );
  const ok = res.status === Status.SUCCESS || res.status === Status.BUFFER_OVERFLOW;
  const data = ok ? decodeQueryInfoResponse(res.body).outputBuffer : Buffer.alloc(0);
  return { status: res.status, data };
}

async function eas(c: RawClient, fileId: FileId, o: Parameters<typeof query>[2] = {}) {
  const { status, data } = await query(c, fileId, o);
  return { status, eas: decodeFullEaList(new Reader(data)).map((e) => [e.name, e.value.toString('latin1')]) };
}

async function setEas(c: RawClient, fileId: FileId, buffer: Buffer): Promise<number> {
  const res = await c.request(
    Command.SET_INFO,
    (w) => encodeSetInfoRequest(w, { infoType: InfoType.FILE, fileInfoClass: FileInfoClass.FileFullEaInformation, additionalInformation: 0, fileId, buffer }),
    { creditCharge: c.chargeFor(buffer.length) },
  );
  return res.status;
}

test('CREATE with an EA buffer: the EAs are set (empty values are none), spelled as given, counted by EaSize everywhere', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const f = await c.create('f.txt', { createDisposition: CreateDisposition.CREATE, contexts: [{ name: EA_CONTEXT, data: list(['EaOne', 'VALUE1'], ['Zero', ''], ['second', 'ValueTwo']) }] });
    assert.equal(f.status, Status.SUCCESS);
    assert.deepEqual(await eas(c, f.fileId, { flags: QueryInfoFlags.RESTART_SCAN }), { status: Status.SUCCESS, eas: [['EaOne', 'VALUE1'], ['second', 'ValueTwo']] });
    // MS-FSA 2.1.5.12.10: 4 + (5 + 5 + 6) + (5 + 6 + 8).
    const eaSize = 4 + 16 + 19;
    const eaInfo = await query(c, f.fileId, { infoClass: FileInfoClass.FileEaInformation });
    assert.equal(decodeFileInfo(new Reader(eaInfo.data), FileInfoClass.FileEaInformation).eaSize, eaSize);
    const all = await query(c, f.fileId, { infoClass: FileInfoClass.FileAllInformation });
    assert.equal(decodeFileInfo(new Reader(all.data), FileInfoClass.FileAllInformation).eaSize, eaSize);
    const d = await c.create('', { createOptions: CreateOptions.DIRECTORY_FILE, desiredAccess: AccessMask.FILE_READ_DATA | AccessMask.FILE_READ_ATTRIBUTES });
    for (const infoClass of [FileInfoClass.FileFullDirectoryInformation, FileInfoClass.FileIdBothDirectoryInformation]) {
      const res = await c.request(Command.QUERY_DIRECTORY, (w) =>
        encodeQueryDirectoryRequest(w, { fileInformationClass: infoClass, flags: 1 /* RESTART_SCANS */, fileIndex: 0, fileId: d.fileId, fileName: 'f.txt', outputBufferLength: 4096 }),
      );
      assert.equal(res.status, Status.SUCCESS);
      assert.equal(decodeDirectoryListing(decodeQueryDirectoryResponse(res.body).outputBuffer, infoClass)[0]?.eaSize, eaSize);
    }
    // A directory created with EAs has them.
    const dir = await c.create('dir', { createOptions: CreateOptions.DIRECTORY_FILE, createDisposition: CreateDisposition.CREATE, contexts: [{ name: EA_CONTEXT, data: list(['onDir', 'x']) }] });
    assert.equal(dir.status, Status.SUCCESS);
    assert.deepEqual((await srv.store.getEas('dir')).map((e) => e.name), ['onDir']);
    // Overwriting with an EA buffer replaces the EAs; a plain open ignores the buffer.
    await c.close(f.fileId);
    const o = await c.create('f.txt', { createDisposition: CreateDisposition.OVERWRITE_IF, contexts: [{ name: EA_CONTEXT, data: list(['fresh', '1']) }] });
    assert.equal(o.status, Status.SUCCESS);
    const p = await c.create('f.txt', { createDisposition: CreateDisposition.OPEN, contexts: [{ name: EA_CONTEXT, data: list(['ignored', '1']) }] });
    assert.equal(p.status, Status.SUCCESS);
    assert.deepEqual((await srv.store.getEas('f.txt')).map((e) => e.name), ['fresh']);
  } finally {
    await srv.stop();
  }
});

test('CREATE refuses bad EA buffers before creating anything', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const tryCreate = async (data: Buffer) => (await c.create('bad.txt', { createDisposition: CreateDisposition.CREATE, contexts: [{ name: EA_CONTEXT, data }] })).status;
    assert.equal(await tryCreate(list(['a*b', 'v'])), Status.INVALID_EA_NAME);
    assert.equal(await tryCreate(list(['caf\xe9', 'v'])), Status.INVALID_EA_NAME);
    assert.equal(await tryCreate(Buffer.concat([entry('ok', 'v', { flags: 0x01 })])), Status.INVALID_EA_NAME);
    const unaligned = list(['a', 'v'], ['b', 'w']);
    unaligned.writeUInt32LE(11, 0);
    assert.equal(await tryCreate(unaligned), Status.EA_LIST_INCONSISTENT);
    assert.equal(await tryCreate(list(['big1', Buffer.alloc(40000)], ['big2', Buffer.alloc(40000)])), Status.EA_TOO_LARGE);
    assert.equal((await c.create('bad.txt', { createDisposition: CreateDisposition.OPEN })).status, Status.OBJECT_NAME_NOT_FOUND);
  } finally {
    await srv.stop();
  }
});

test('SET_INFO FileFullEaInformation: set, replace (moved last), delete with an empty value, and its refusals', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const f = await c.create('f.txt', { createDisposition: CreateDisposition.CREATE });
    assert.deepEqual(await eas(c, f.fileId), { status: Status.NO_EAS_ON_FILE, eas: [] });
    assert.equal(await setEas(c, f.fileId, list(['A', '1'], ['B', '2'], ['C', '3'])), Status.SUCCESS);
    assert.equal(await setEas(c, f.fileId, list(['a', 'one'], ['c', ''])), Status.SUCCESS);
    assert.deepEqual((await eas(c, f.fileId, { flags: QueryInfoFlags.RESTART_SCAN })).eas, [['B', '2'], ['a', 'one']]);
    assert.equal(await setEas(c, f.fileId, list(['not there', ''])), Status.SUCCESS);
    assert.equal(await setEas(c, f.fileId, list(['bad?', '1'])), Status.INVALID_EA_NAME);
    // Samba's own metadata names are not for clients (what Samba answers too).
    assert.equal(await setEas(c, f.fileId, list(['security.NTACL', 'x'])), Status.ACCESS_DENIED);
    // 64 KiB - 5 in all (MS-FSA 2.1.5.15.5), and nothing of a refused request is applied.
    assert.equal(await setEas(c, f.fileId, list(['n1', Buffer.alloc(30000)], ['n2', Buffer.alloc(30000)], ['n3', Buffer.alloc(6000)])), Status.EA_TOO_LARGE);
    assert.equal(await setEas(c, f.fileId, list(['n1', Buffer.alloc(30000)], ['n2', Buffer.alloc(30000)])), Status.SUCCESS);
    assert.deepEqual((await srv.store.getEas('f.txt')).map((e) => e.name), ['B', 'a', 'n1', 'n2']);
    const malformed = list(['x', '1']);
    malformed[8 + 1] = 0x41; // the name's NUL
    assert.equal(await setEas(c, f.fileId, malformed), Status.EA_LIST_INCONSISTENT);
    // FILE_WRITE_EA is needed to set, FILE_READ_EA to read (MS-FSA 2.1.5.12.12).
    const ro = await c.create('f.txt', { desiredAccess: AccessMask.FILE_READ_DATA | AccessMask.FILE_READ_EA });
    assert.equal(await setEas(c, ro.fileId, list(['z', '1'])), Status.ACCESS_DENIED);
    const noRead = await c.create('f.txt', { desiredAccess: AccessMask.FILE_READ_ATTRIBUTES });
    assert.equal((await query(c, noRead.fileId)).status, Status.ACCESS_DENIED);
  } finally {
    await srv.stop();
  }
});

test('QUERY_INFO FileFullEaInformation: scans, restarts, indexes, named lists and small buffers', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const f = await c.create('f.txt', { createDisposition: CreateDisposition.CREATE, contexts: [{ name: EA_CONTEXT, data: list(['one', '1'], ['two', '22'], ['three', '333']) }] });
    const single = QueryInfoFlags.RETURN_SINGLE_ENTRY;
    // A scan goes on where the open's last one stopped (MS-FSA Open.NextEaEntry).
    assert.deepEqual(await eas(c, f.fileId, { flags: single }), { status: Status.SUCCESS, eas: [['one', '1']] });
    assert.deepEqual(await eas(c, f.fileId, { flags: single }), { status: Status.SUCCESS, eas: [['two', '22']] });
    assert.deepEqual(await eas(c, f.fileId), { status: Status.SUCCESS, eas: [['three', '333']] });
    assert.deepEqual(await eas(c, f.fileId), { status: Status.NO_MORE_EAS, eas: [] });
    assert.equal((await eas(c, f.fileId, { flags: QueryInfoFlags.RESTART_SCAN })).eas.length, 3);
    // SL_INDEX_SPECIFIED: AdditionalInformation 1 is the first EA.
    assert.deepEqual(await eas(c, f.fileId, { flags: QueryInfoFlags.INDEX_SPECIFIED | single, index: 2 }), { status: Status.SUCCESS, eas: [['two', '22']] });
    assert.equal((await query(c, f.fileId, { flags: QueryInfoFlags.INDEX_SPECIFIED, index: 4 })).status, Status.NONEXISTENT_EA_ENTRY);
    assert.equal((await query(c, f.fileId, { flags: QueryInfoFlags.INDEX_SPECIFIED, index: 0 })).status, Status.NONEXISTENT_EA_ENTRY);
    // Whole entries only: room for the first (12 bytes) and not the second is an overflow; none is too small.
    assert.deepEqual(await eas(c, f.fileId, { flags: QueryInfoFlags.RESTART_SCAN, outputBufferLength: 20 }), { status: Status.BUFFER_OVERFLOW, eas: [['one', '1']] });
    assert.deepEqual(await eas(c, f.fileId, { outputBufferLength: 60 }), { status: Status.SUCCESS, eas: [['two', '22'], ['three', '333']] });
    assert.equal((await query(c, f.fileId, { flags: QueryInfoFlags.RESTART_SCAN, outputBufferLength: 11 })).status, Status.BUFFER_TOO_SMALL);
    // A named list, in its order, ignoring case; a missing name comes back with an empty value.
    assert.deepEqual(await eas(c, f.fileId, { names: getList('THREE', 'nope', 'one') }), { status: Status.SUCCESS, eas: [['three', '333'], ['nope', ''], ['one', '1']] });
    assert.deepEqual(await eas(c, f.fileId, { names: getList('two', 'one'), flags: single }), { status: Status.SUCCESS, eas: [['two', '22']] });
    assert.equal((await query(c, f.fileId, { names: getList('a|b') })).status, Status.INVALID_EA_NAME);
    assert.equal((await query(c, f.fileId, { names: Buffer.from([9, 0, 0, 0, 1, 0x41, 0]) })).status, Status.EA_LIST_INCONSISTENT);
  } finally {
    await srv.stop();
  }
});

test('a store without EAs: STATUS_EAS_NOT_SUPPORTED, and FileFsAttributeInformation does not claim them', async () => {
  const fsAttributes = async (c: RawClient, fileId: FileId) => {
    const res = await c.request(Command.QUERY_INFO, (w) =>
      encodeQueryInfoRequest(w, { infoType: InfoType.FILESYSTEM, fileInfoClass: FsInfoClass.FileFsAttributeInformation, outputBufferLength: 1024, additionalInformation: 0, flags: 0, fileId, inputBuffer: Buffer.alloc(0) }),
    );
    return decodeFsInfo(new Reader(decodeQueryInfoResponse(res.body).outputBuffer), FsInfoClass.FileFsAttributeInformation).fileSystemAttributes ?? 0;
  };
  const withEas = await startTestServer();
  try {
    const c = await withEas.login();
    const f = await c.create('f.txt');
    assert.ok((await fsAttributes(c, f.fileId)) & FileSystemAttributes.FILE_SUPPORTS_EXTENDED_ATTRIBUTES);
  } finally {
    await withEas.stop();
  }
  const plain: FileStore = new MemoryStore();
  Object.assign(plain, { getEas: undefined, setEas: undefined });
  const without = await startTestServer({ shares: [{ name: TEST_SHARE, store: plain }] });
  try {
    const c = await without.login();
    const f = await c.create('f.txt');
    assert.equal((await fsAttributes(c, f.fileId)) & FileSystemAttributes.FILE_SUPPORTS_EXTENDED_ATTRIBUTES, 0);
    assert.equal((await c.create('g.txt', { contexts: [{ name: EA_CONTEXT, data: list(['a', '1']) }] })).status, Status.EAS_NOT_SUPPORTED);
    assert.equal(await setEas(c, f.fileId, list(['a', '1'])), Status.EAS_NOT_SUPPORTED);
    assert.equal((await query(c, f.fileId)).status, Status.EAS_NOT_SUPPORTED);
  } finally {
    await without.stop();
  }
});

test('FILE_NO_EA_KNOWLEDGE cannot open a file with a FILE_NEED_EA attribute, but can open its streams (MS-FSA 2.1.5.1.2)', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const f = await c.create('need.txt', { createDisposition: CreateDisposition.CREATE, contexts: [{ name: EA_CONTEXT, data: entry('needed', '1', { flags: 0x80 }) }] });
    assert.equal(f.status, Status.SUCCESS);
    assert.equal((await c.create('need.txt', { createOptions: CreateOptions.NO_EA_KNOWLEDGE })).status, Status.ACCESS_DENIED);
    assert.equal((await c.create('need.txt:s', { createOptions: CreateOptions.NO_EA_KNOWLEDGE })).status, Status.SUCCESS);
    assert.equal((await c.create('need.txt')).status, Status.SUCCESS);
    const plain = await c.create('plain.txt', { createDisposition: CreateDisposition.CREATE, contexts: [{ name: EA_CONTEXT, data: entry('optional', '1') }] });
    assert.equal(plain.status, Status.SUCCESS);
    assert.equal((await c.create('plain.txt', { createOptions: CreateOptions.NO_EA_KNOWLEDGE })).status, Status.SUCCESS);
  } finally {
    await srv.stop();
  }
});

test('one request carries at most 256 KiB of EA list: longer ones are refused before they are decoded', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    await c.ensureCredits(64);
    // Five EAs of 60,000 bytes: a well-formed list of 300 KB.
    const huge = list(...[1, 2, 3, 4, 5].map((i): [string, Buffer] => [`n${i}`, Buffer.alloc(60000)]));
    const f = await c.create('f.txt', { createDisposition: CreateDisposition.CREATE });
    assert.equal(await setEas(c, f.fileId, huge), Status.EA_TOO_LARGE);
    const created = await c.create('g.txt', { createDisposition: CreateDisposition.CREATE, contexts: [{ name: EA_CONTEXT, data: huge }], opts: { creditCharge: c.chargeFor(huge.length) } });
    assert.equal(created.status, Status.EA_TOO_LARGE);
    assert.equal(await setEas(c, f.fileId, list(['a', '1'])), Status.SUCCESS);
    const names = getList(...Array.from({ length: 30000 }, (_, i) => `name${i}`));
    assert.ok(names.length > 256 * 1024);
    const res = await c.request(
      Command.QUERY_INFO,
      (w) => encodeQueryInfoRequest(w, { infoType: InfoType.FILE, fileInfoClass: FileInfoClass.FileFullEaInformation, outputBufferLength: 65536, additionalInformation: 0, flags: 0, fileId: f.fileId, inputBuffer: names }),
      { creditCharge: c.chargeFor(names.length) },
    );
    assert.equal(res.status, Status.INVALID_PARAMETER);
  } finally {
    await srv.stop();
  }
});
