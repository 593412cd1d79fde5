import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError } from '../../../src/errors.js';
import { Status } from '../../../src/protocol/nt-status.js';
import { encodeErrorResponse, decodeErrorResponse } from '../../../src/protocol/smb2/commands/error.js';
import { decodeLockRequest } from '../../../src/protocol/smb2/commands/lock.js';
import { decodeNegotiateRequest } from '../../../src/protocol/smb2/commands/negotiate.js';
import { decodeEchoRequest } from '../../../src/protocol/smb2/commands/echo.js';
import { decodeOplockBreakResponse } from '../../../src/protocol/smb2/commands/oplock-break.js';
import { RELATED_FILE_ID, isRelatedFileId } from '../../../src/protocol/smb2/commands/file-id.js';
import { bodyReader, encodeMessage, hex, withHeader } from './helpers.js';
import { SAMPLES } from './samples.js';

for (const s of SAMPLES) {
  test(`round trip: ${s.name}`, () => {
    const msg = encodeMessage((w) => s.encode(w, s.message));
    assert.deepStrictEqual(s.decode(bodyReader(msg)), s.message);
    // Re-encoding the decoded message gives the same bytes.
    const again = encodeMessage((w) => s.encode(w, s.decode(bodyReader(msg))));
    assert.deepStrictEqual(again, msg);
  });

  test(`truncated bodies throw WireError: ${s.name}`, () => {
    const msg = encodeMessage((w) => s.encode(w, s.message));
    for (let end = 64; end < msg.length; end++) {
      const cut = msg.subarray(0, end);
      try {
        s.decode(bodyReader(cut));
      } catch (err) {
        assert.ok(err instanceof WireError, `${s.name} cut at ${end}: ${String(err)}`);
      }
    }
  });
}

test('ERROR response with no data carries one zero byte', () => {
  const msg = encodeMessage((w) => encodeErrorResponse(w));
  assert.deepStrictEqual(msg.subarray(64), hex('0900 00 00 00000000 00'));
  assert.deepStrictEqual(decodeErrorResponse(bodyReader(msg)), { errorContextCount: 0, data: Buffer.alloc(0) });
});

test('wrong StructureSize is WireError with INVALID_PARAMETER', () => {
  const msg = withHeader(hex('0500 0000'));
  assert.throws(
    () => decodeEchoRequest(bodyReader(msg)),
    (e: unknown) => e instanceof WireError && e.status === Status.INVALID_PARAMETER,
  );
});

test('LOCK with LockCount 0 or too many elements is rejected', () => {
  const base = '3000 #size\n %s 00000000 ' + '11'.repeat(16);
  assert.throws(() => decodeLockRequest(bodyReader(withHeader(hex(base.replace('%s', '0000') + '00'.repeat(24))))), WireError);
  assert.throws(() => decodeLockRequest(bodyReader(withHeader(hex(base.replace('%s', '0200') + '00'.repeat(24))))), WireError);
});

test('NEGOTIATE rejects a DialectCount beyond the message', () => {
  const body = hex('2400 ffff 0100 0000 00000000' + '00'.repeat(16) + '00000000 0000 0000 0202');
  assert.throws(() => decodeNegotiateRequest(bodyReader(withHeader(body))), WireError);
});

test('NEGOTIATE rejects a context count that overflows', () => {
  const body = hex('2400 0100 0100 0000 00000000' + '00'.repeat(16) + '68000000 ff00 0000 1103' + '0000' + '0100 0000 00000000');
  assert.throws(() => decodeNegotiateRequest(bodyReader(withHeader(body))), WireError);
  // a context DataLength running past the end
  const body2 = hex('2400 0100 0100 0000 00000000' + '00'.repeat(16) + '68000000 0100 0000 1103' + '0000' + '0100 ff00 00000000 0100');
  assert.throws(() => decodeNegotiateRequest(bodyReader(withHeader(body2))), WireError);
  // a hash algorithm count larger than its data
  const body3 = hex('2400 0100 0100 0000 00000000' + '00'.repeat(16) + '68000000 0100 0000 1103' + '0000' + '0100 0600 00000000 0500 0000 0100');
  assert.throws(() => decodeNegotiateRequest(bodyReader(withHeader(body3))), WireError);
});

test('OPLOCK_BREAK decode tells the shapes apart by StructureSize', () => {
  assert.equal(decodeOplockBreakResponse(bodyReader(withHeader(hex('1800 01 00 00000000' + '00'.repeat(16))))).kind, 'oplock');
  assert.equal(decodeOplockBreakResponse(bodyReader(withHeader(hex('2400 0000 00000000' + '00'.repeat(16) + '01000000' + '00'.repeat(8))))).kind, 'lease');
  assert.equal(decodeOplockBreakResponse(bodyReader(withHeader(hex('2c00 0100 01000000' + '00'.repeat(16) + '00'.repeat(20))))).kind, 'leaseBreakNotification');
  assert.throws(() => decodeOplockBreakResponse(bodyReader(withHeader(hex('2000' + '00'.repeat(40))))), WireError);
});

test('related FileId constant', () => {
  assert.ok(isRelatedFileId(RELATED_FILE_ID));
  assert.ok(!isRelatedFileId({ persistent: 0n, volatile: 0xffffffffffffffffn }));
});

test('validate: every sample passes its table entry; wrong sizes and short bodies fail', async () => {
  const { validateRequestBody, validateResponseBody, REQUEST_STRUCTURE_SIZE } = await import('../../../src/protocol/smb2/validate.js');
  const { Command } = await import('../../../src/protocol/smb2/constants.js');
  const byName: Record<string, number> = {
    NEGOTIATE: Command.NEGOTIATE, SESSION_SETUP: Command.SESSION_SETUP, LOGOFF: Command.LOGOFF,
    TREE_CONNECT: Command.TREE_CONNECT, TREE_DISCONNECT: Command.TREE_DISCONNECT, CREATE: Command.CREATE,
    CLOSE: Command.CLOSE, FLUSH: Command.FLUSH, READ: Command.READ, WRITE: Command.WRITE, LOCK: Command.LOCK,
    IOCTL: Command.IOCTL, CANCEL: Command.CANCEL, ECHO: Command.ECHO, QUERY_DIRECTORY: Command.QUERY_DIRECTORY,
    CHANGE_NOTIFY: Command.CHANGE_NOTIFY, QUERY_INFO: Command.QUERY_INFO, SET_INFO: Command.SET_INFO,
    OPLOCK_BREAK: Command.OPLOCK_BREAK,
  };
  for (const s of SAMPLES) {
    const cmd = byName[s.name.split(' ')[0]!];
    if (cmd === undefined) continue;
    const msg = encodeMessage((w) => s.encode(w, s.message));
    if (s.direction === 'request') validateRequestBody(msg, 0, msg.length, cmd);
    else validateResponseBody(msg, 0, msg.length, cmd, false);
  }
  const create = encodeMessage((w) => SAMPLES.find((x) => x.name === 'CREATE request')!.encode(w, SAMPLES.find((x) => x.name === 'CREATE request')!.message));
  assert.throws(() => validateRequestBody(create, 0, 64 + 40, Command.CREATE), WireError);
  assert.throws(() => validateRequestBody(create, 0, create.length, Command.CLOSE), WireError);
  assert.equal(REQUEST_STRUCTURE_SIZE[Command.OPLOCK_BREAK]!.length, 2);
  const err = encodeMessage((w) => encodeErrorResponse(w));
  validateResponseBody(err, 0, err.length, Command.CREATE, true);
  assert.throws(() => validateResponseBody(err, 0, err.length, Command.CREATE, false), WireError);
});
