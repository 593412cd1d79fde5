import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../../src/protocol/nt-status.js';
import { AccessMask, ChangeNotifyFlags, Command, CreateDisposition, CreateOptions, HeaderFlags } from '../../../src/protocol/smb2/constants.js';
import { CompletionFilter, encodeChangeNotifyRequest } from '../../../src/protocol/smb2/commands/change-notify.js';
import type { FileId } from '../../../src/protocol/smb2/commands/file-id.js';
import { startTestServer, type RawClient } from '../../support/raw-client.js';

async function openRoot(c: RawClient): Promise<FileId> {
  const dir = await c.create('', {
    desiredAccess: AccessMask.FILE_READ_DATA | AccessMask.FILE_READ_ATTRIBUTES | AccessMask.SYNCHRONIZE,
    createDisposition: CreateDisposition.OPEN,
    createOptions: CreateOptions.DIRECTORY_FILE,
  });
  assert.equal(dir.status, Status.SUCCESS);
  return dir.fileId;
}

function startNotify(c: RawClient, fileId: FileId) {
  return c.start(Command.CHANGE_NOTIFY, (w) =>
    encodeChangeNotifyRequest(w, {
      flags: ChangeNotifyFlags.WATCH_TREE,
      outputBufferLength: 4096,
      fileId,
      completionFilter: CompletionFilter.FILE_NAME | CompletionFilter.DIR_NAME,
    }),
  );
}

test('CHANGE_NOTIFY goes async (interim STATUS_PENDING) and CANCEL by async id completes it with STATUS_CANCELLED', async () => {
  const srv = await startTestServer();
  try {
    for (const dialect of [0x0210, 0x0311]) {
      const c = await srv.login([dialect]);
      const root = await openRoot(c);
      const n = startNotify(c, root);
      const interim = await n.interim;
      assert.equal(interim.status, Status.PENDING);
      assert.ok(interim.header.flags & HeaderFlags.ASYNC_COMMAND);
      assert.notEqual(interim.header.asyncId, 0n);
      // Other requests keep being served while the notify is pending.
      assert.equal((await c.echo()).status, Status.SUCCESS);
      c.cancel(n.messageId, interim.header.asyncId);
      const final = await n.final;
      assert.equal(final.status, Status.CANCELLED);
      assert.ok(final.header.flags & HeaderFlags.ASYNC_COMMAND);
      assert.equal(final.header.asyncId, interim.header.asyncId);
      assert.equal(final.signatureValid, true, 'the final async response is signed');
      c.destroy();
    }
  } finally {
    await srv.stop();
  }
});

test('CANCEL by message id (sync form) also completes a pending CHANGE_NOTIFY', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const root = await openRoot(c);
    const n = startNotify(c, root);
    assert.equal((await n.interim).status, Status.PENDING);
    c.cancel(n.messageId);
    assert.equal((await n.final).status, Status.CANCELLED);
  } finally {
    await srv.stop();
  }
});

test('closing the directory completes a pending CHANGE_NOTIFY with STATUS_NOTIFY_CLEANUP', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const root = await openRoot(c);
    const n = startNotify(c, root);
    assert.equal((await n.interim).status, Status.PENDING);
    assert.equal((await c.close(root)).status, Status.SUCCESS);
    assert.equal((await n.final).status, Status.NOTIFY_CLEANUP);
  } finally {
    await srv.stop();
  }
});
