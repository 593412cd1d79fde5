import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeCreateRequest,
  encodeCreateRequest,
  type CreateRequest,
} from '../../../src/protocol/smb2/commands/create.js';
import {
  decodeNegotiateRequest,
  encodeNegotiateRequest,
  type NegotiateRequest,
} from '../../../src/protocol/smb2/commands/negotiate.js';
import {
  decodeReadRequest,
  decodeReadResponse,
  encodeReadRequest,
  encodeReadResponse,
  encodeReadResponseHeader,
} from '../../../src/protocol/smb2/commands/read.js';
import {
  decodeSessionSetupRequest,
  decodeSessionSetupResponse,
  encodeSessionSetupRequest,
  encodeSessionSetupResponse,
} from '../../../src/protocol/smb2/commands/session-setup.js';
import { decodeWriteRequest } from '../../../src/protocol/smb2/commands/write.js';
import {
  decodeDurableHandleRequest,
  decodeLease,
  decodeMaximalAccessRequest,
  encodeLease,
  findCreateContext,
} from '../../../src/protocol/smb2/contexts/create-contexts.js';
import { Writer } from '../../../src/util/writer.js';
import { bodyReader, encodeMessage, hex, withHeader } from './helpers.js';

/** Fixtures written byte by byte from the MS-SMB2 layouts, apart from the encoders under test. */

const NEGOTIATE_311 = hex(`
  2400                 # StructureSize 36
  0200                 # DialectCount 2
  0100                 # SecurityMode: signing enabled
  0000                 # Reserved
  7f000000             # Capabilities
  000102030405060708090a0b0c0d0e0f  # ClientGuid
  68000000             # NegotiateContextOffset 0x68 = 64 + 36 + 4
  0200                 # NegotiateContextCount
  0000                 # Reserved2
  0203 1103            # Dialects 0x0302, 0x0311
  0100 2600 00000000   # PREAUTH_INTEGRITY, DataLength 38
  0100 2000 0100       # 1 algorithm, salt 32, SHA-512
  ${'aa'.repeat(32)}
  0000                 # padding to 8
  0200 0600 00000000   # ENCRYPTION, DataLength 6
  0200 0200 0100       # 2 ciphers: AES-128-GCM, AES-128-CCM
`);

test('NEGOTIATE request with contexts: fixture decodes and encodes byte for byte', () => {
  const msg = withHeader(NEGOTIATE_311);
  const expected: NegotiateRequest = {
    securityMode: 1,
    capabilities: 0x7f,
    clientGuid: hex('000102030405060708090a0b0c0d0e0f'),
    dialects: [0x0302, 0x0311],
    negotiateContexts: [
      { kind: 'preauthIntegrity', hashAlgorithms: [1], salt: Buffer.alloc(32, 0xaa) },
      { kind: 'encryption', ciphers: [2, 1] },
    ],
  };
  assert.deepStrictEqual(decodeNegotiateRequest(bodyReader(msg)), expected);
  assert.deepStrictEqual(encodeMessage((w) => encodeNegotiateRequest(w, expected)), msg);
});

const SESSION_SETUP_REQ = hex(`
  1900          # StructureSize 25
  00            # Flags
  01            # SecurityMode
  01000000      # Capabilities: DFS
  00000000      # Channel
  5800          # SecurityBufferOffset 0x58 = 64 + 24
  0400          # SecurityBufferLength
  0000000000000000  # PreviousSessionId
  60480606      # token
`);
const SESSION_SETUP_RESP = hex('0900 0100 4800 0200 a107');

test('SESSION_SETUP fixtures', () => {
  const req = withHeader(SESSION_SETUP_REQ);
  const m = { flags: 0, securityMode: 1, capabilities: 1, channel: 0, previousSessionId: 0n, securityBuffer: hex('60480606') };
  assert.deepStrictEqual(decodeSessionSetupRequest(bodyReader(req)), m);
  assert.deepStrictEqual(encodeMessage((w) => encodeSessionSetupRequest(w, m)), req);
  const resp = withHeader(SESSION_SETUP_RESP);
  const r = { sessionFlags: 1, securityBuffer: hex('a107') };
  assert.deepStrictEqual(decodeSessionSetupResponse(bodyReader(resp)), r);
  assert.deepStrictEqual(encodeMessage((w) => encodeSessionSetupResponse(w, r)), resp);
});

const CREATE_REQ = hex(`
  3900              # StructureSize 57
  00 00             # SecurityFlags, RequestedOplockLevel
  02000000          # ImpersonationLevel: Impersonation
  0000000000000000  # SmbCreateFlags
  0000000000000000  # Reserved
  89001200          # DesiredAccess
  80000000          # FileAttributes NORMAL
  07000000          # ShareAccess RWD
  01000000          # CreateDisposition OPEN
  40000000          # CreateOptions NON_DIRECTORY_FILE
  7800 0e00         # NameOffset 0x78, NameLength 14
  88000000          # CreateContextsOffset 0x88
  3c000000          # CreateContextsLength 60
  61005c0062002e00740078007400  # "a\\b.txt"
  0000              # pad to 8
  28000000 1000 0400 0000 1800 10000000  # DHnQ: Next 40, name @16 len 4, data @24 len 16
  44486e51 00000000 ${'00'.repeat(16)}
  00000000 1000 0400 0000 0000 00000000  # MxAc: last, no data
  4d784163
`);

test('CREATE request with contexts: fixture decodes and encodes byte for byte', () => {
  const msg = withHeader(CREATE_REQ);
  const m = decodeCreateRequest(bodyReader(msg));
  const expected: CreateRequest = {
    securityFlags: 0,
    requestedOplockLevel: 0,
    impersonationLevel: 2,
    smbCreateFlags: 0n,
    desiredAccess: 0x00120089,
    fileAttributes: 0x80,
    shareAccess: 7,
    createDisposition: 1,
    createOptions: 0x40,
    name: 'a\\b.txt',
    createContexts: [
      { name: 'DHnQ', data: Buffer.alloc(16) },
      { name: 'MxAc', data: Buffer.alloc(0) },
    ],
  };
  assert.deepStrictEqual(m, expected);
  assert.deepStrictEqual(decodeDurableHandleRequest(findCreateContext(m.createContexts, 'DHnQ')!.data), {});
  assert.deepStrictEqual(decodeMaximalAccessRequest(findCreateContext(m.createContexts, 'MxAc')!.data), {});
  assert.deepStrictEqual(encodeMessage((w) => encodeCreateRequest(w, expected)), msg);
  // Context data is a view of the frame.
  assert.equal(m.createContexts[0]!.data.buffer, msg.buffer);
});

test('CREATE request: a context whose Next points outside is rejected', () => {
  const bad = Buffer.from(CREATE_REQ);
  bad.writeUInt32LE(0x48, 0x88 - 64); // Next beyond the 60-byte list
  assert.throws(() => decodeCreateRequest(bodyReader(withHeader(bad))));
  const odd = Buffer.from(CREATE_REQ);
  odd.writeUInt16LE(13, 0x2e); // odd NameLength
  assert.throws(() => decodeCreateRequest(bodyReader(withHeader(odd))));
});

test('lease v1 and v2 bodies', () => {
  const v1 = hex('00112233445566778899aabbccddeeff 07000000 00000000 0000000000000000');
  assert.deepStrictEqual(decodeLease(v1), {
    version: 1,
    leaseKey: hex('00112233445566778899aabbccddeeff'),
    leaseState: 7,
    leaseFlags: 0,
    leaseDuration: 0n,
  });
  assert.deepStrictEqual(encodeLease(decodeLease(v1)), v1);
  const v2 = Buffer.concat([v1, hex('ffeeddccbbaa99887766554433221100 0500 0000')]);
  const d = decodeLease(v2);
  assert.equal(d.version, 2);
  assert.equal(v2.length, 52);
  assert.deepStrictEqual(encodeLease(d), v2);
});

const READ_REQ = hex(`
  3100               # StructureSize 49
  50 00              # Padding 0x50, Flags
  00000100           # Length 65536
  0010000000000000   # Offset 4096
  0100000000000000 0200000000000000  # FileId
  00000000           # MinimumCount
  00000000           # Channel NONE
  00000000           # RemainingBytes
  0000 0000          # ReadChannelInfoOffset/Length
  00                 # Buffer (1 byte)
`);

test('READ request fixture', () => {
  const msg = withHeader(READ_REQ);
  const m = {
    padding: 0x50,
    flags: 0,
    length: 65536,
    offset: 4096n,
    fileId: { persistent: 1n, volatile: 2n },
    minimumCount: 0,
    channel: 0,
    remainingBytes: 0,
    readChannelInfo: Buffer.alloc(0),
  };
  assert.deepStrictEqual(decodeReadRequest(bodyReader(msg)), m);
  assert.deepStrictEqual(encodeMessage((w) => encodeReadRequest(w, m)), msg);
});

const READ_RESP = hex('1100 50 00 05000000 00000000 00000000 68656c6c6f');

test('READ response fixture; the header-only encoder leaves the data out', () => {
  const msg = withHeader(READ_RESP);
  const m = { dataRemaining: 0, flags: 0, data: Buffer.from('hello') };
  assert.deepStrictEqual(decodeReadResponse(bodyReader(msg)), m);
  assert.deepStrictEqual(encodeMessage((w) => encodeReadResponse(w, m)), msg);
  const w = new Writer();
  encodeReadResponseHeader(w, { dataLength: 5, dataRemaining: 0 });
  assert.deepStrictEqual(Buffer.from(w.finish()), READ_RESP.subarray(0, 16));
});

test('WRITE request data is a view of the frame', () => {
  const body = hex(
    '3100 7000 04000000 0000000000000000 0100000000000000 0200000000000000 00000000 00000000 0000 0000 00000000 deadbeef',
  );
  const msg = withHeader(body);
  const m = decodeWriteRequest(bodyReader(msg));
  assert.deepStrictEqual(m.data, hex('deadbeef'));
  assert.equal(m.data.buffer, msg.buffer);
  assert.equal(m.data.byteOffset, msg.byteOffset + 0x70);
  // DataOffset + Length past the end
  const bad = Buffer.from(msg);
  bad.writeUInt32LE(5, 64 + 4);
  assert.throws(() => decodeWriteRequest(bodyReader(bad)));
});
