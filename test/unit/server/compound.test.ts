import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeWhole } from '../../../src/store/contract.js';
import { Status } from '../../../src/protocol/nt-status.js';
import { AccessMask, Command, CreateDisposition, CreateOptions, HeaderFlags } from '../../../src/protocol/smb2/constants.js';
import { CompletionFilter, encodeChangeNotifyRequest } from '../../../src/protocol/smb2/commands/change-notify.js';
import { encodeCloseRequest } from '../../../src/protocol/smb2/commands/close.js';
import { encodeCreateRequest } from '../../../src/protocol/smb2/commands/create.js';
import { RELATED_FILE_ID } from '../../../src/protocol/smb2/commands/file-id.js';
import { encodeReadRequest } from '../../../src/protocol/smb2/commands/read.js';
import type { Writer } from '../../../src/util/writer.js';
import { RawClient, startTestServer, type CompoundPart } from '../../support/raw-client.js';

const related = { flags: HeaderFlags.RELATED_OPERATIONS };

function createPart(name: string, o: Parameters<typeof RawClient.createRequest>[1] = {}, opts = {}): CompoundPart {
  return { command: Command.CREATE, encodeBody: (w: Writer) => encodeCreateRequest(w, RawClient.createRequest(name, o)), opts };
}

function closePart(opts = {}): CompoundPart {
  return { command: Command.CLOSE, encodeBody: (w: Writer) => encodeCloseRequest(w, { flags: 0, fileId: RELATED_FILE_ID }), opts };
}

function notifyPart(opts = {}): CompoundPart {
  return {
    command: Command.CHANGE_NOTIFY,
    encodeBody: (w: Writer) => encodeChangeNotifyRequest(w, { flags: 0, outputBufferLength: 4096, fileId: RELATED_FILE_ID, completionFilter: CompletionFilter.FILE_NAME }),
    opts,
  };
}

function readPart(length: number, opts = {}): CompoundPart {
  return {
    command: Command.READ,
    encodeBody: (w: Writer) =>
      encodeReadRequest(w, { padding: 0x50, flags: 0, length, offset: 0n, fileId: RELATED_FILE_ID, minimumCount: 0, channel: 0, remainingBytes: 0, readChannelInfo: Buffer.alloc(0) }),
    opts,
  };
}

const DIR = { desiredAccess: AccessMask.GENERIC_ALL, createDisposition: CreateDisposition.OPEN_IF, createOptions: CreateOptions.DIRECTORY_FILE };

test('a first request marked related fails, and so does every related request after it (MS-SMB2 3.3.5.2.7.2)', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const [cr, cl1, cl2] = await c.compound([createPart('f.txt', {}, related), closePart(related), closePart()]);
    assert.equal(cr!.status, Status.INVALID_PARAMETER);
    assert.equal(cl1!.status, Status.INVALID_PARAMETER);
    assert.equal(cl2!.status, Status.FILE_CLOSED, 'an unrelated request still runs on its own');
    assert.equal(await srv.store.stat('f.txt').then(() => true, () => false), false, 'the CREATE did not run');
  } finally {
    await srv.stop();
  }
});

test('a related request whose inherited session does not resolve fails with INVALID_PARAMETER', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const noSession = { sessionId: 0xffffffffffffffffn, treeId: 0xffffffff, sign: false };
    const [cr, cl1, cl2, cl3] = await c.compound([createPart('g.txt'), closePart(related), closePart(noSession), closePart({ ...related, ...noSession })]);
    assert.equal(cr!.status, Status.SUCCESS);
    assert.equal(cl1!.status, Status.SUCCESS);
    assert.equal(cl2!.status, Status.USER_SESSION_DELETED);
    assert.equal(cl3!.status, Status.INVALID_PARAMETER);
  } finally {
    await srv.stop();
  }
});

test('a CREATE answers at once when the related CHANGE_NOTIFY after it goes async; CANCEL ends the notify', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    await srv.store.mkdir('watched');
    const [cr, nt] = c.compoundStart([createPart('watched', DIR), notifyPart(related)]);
    const create = await cr!.final;
    assert.equal(create.status, Status.SUCCESS, 'the CREATE reply is not held back by the pending notify');
    const interim = await nt!.interim;
    assert.equal(interim.status, Status.PENDING);
    c.cancel(nt!.messageId, interim.header.asyncId);
    assert.equal((await nt!.final).status, Status.CANCELLED);
  } finally {
    await srv.stop();
  }
});

test('a CHANGE_NOTIFY in the middle of a compound cannot wait: INTERNAL_ERROR, and the chain goes on', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    await srv.store.mkdir('middle');
    const [cr, nt, cl] = await c.compound([createPart('middle', DIR), notifyPart(related), closePart(related)]);
    assert.equal(cr!.status, Status.SUCCESS);
    assert.equal(nt!.status, Status.INTERNAL_ERROR);
    assert.equal(cl!.status, Status.SUCCESS);
  } finally {
    await srv.stop();
  }
});

test('every reply to a compounded request is padded to 8 bytes, the last one too; a lone reply is not', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    await writeWhole(srv.store, 'three.dat', '123');
    const [cr, rd] = await c.compound([createPart('three.dat', { desiredAccess: AccessMask.FILE_READ_DATA, createDisposition: CreateDisposition.OPEN }), readPart(3, related)]);
    assert.equal(cr!.status, Status.SUCCESS);
    assert.equal(rd!.status, Status.SUCCESS);
    assert.equal(rd!.message.length, 64 + 24, '16-byte READ body + 3 data bytes, padded to 8');
    const lone = await c.create('three.dat', { desiredAccess: AccessMask.FILE_READ_DATA, createDisposition: CreateDisposition.OPEN });
    const single = await c.read(lone.fileId, 0, 3);
    assert.equal(single.response.message.length, 64 + 19);
  } finally {
    await srv.stop();
  }
});
