import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError } from '../../../src/errors.js';
import {
  decodeAllocatedRangeRequest,
  decodeAllocatedRanges,
  decodeCopyChunkRequest,
  decodeCopyChunkResponse,
  decodeDfsReferralRequest,
  decodeDfsReferralRequestEx,
  decodeNetworkInterfaceInfo,
  decodeObjectIdBuffer,
  decodeResumeKeyResponse,
  decodeValidateNegotiateInfoRequest,
  decodeValidateNegotiateInfoResponse,
  decodeZeroDataInformation,
  encodeAllocatedRanges,
  encodeCopyChunkRequest,
  encodeCopyChunkResponse,
  encodeNetworkInterfaceInfo,
  encodeObjectIdBuffer,
  encodeResumeKeyResponse,
  encodeSnapshotArray,
  encodeValidateNegotiateInfoRequest,
  encodeValidateNegotiateInfoResponse,
  encodeZeroDataInformation,
} from '../../../src/protocol/smb2/fscc/fsctl.js';
import { Reader } from '../../../src/util/reader.js';
import { Writer } from '../../../src/util/writer.js';

const bytes = (f: (w: Writer) => void): Buffer => {
  const w = new Writer(8);
  f(w);
  return Buffer.from(w.finish());
};

test('VALIDATE_NEGOTIATE_INFO request and response', () => {
  const guid = Buffer.alloc(16, 0xab);
  const req = { capabilities: 0x7f, guid, securityMode: 1, dialects: [0x202, 0x210, 0x300, 0x302, 0x311] };
  const b = bytes((w) => encodeValidateNegotiateInfoRequest(w, req));
  assert.equal(b.length, 24 + 10);
  assert.equal(b.readUInt16LE(22), 5);
  assert.deepEqual(decodeValidateNegotiateInfoRequest(new Reader(b)), req);
  const bad = Buffer.from(b);
  bad.writeUInt16LE(100, 22);
  assert.throws(() => decodeValidateNegotiateInfoRequest(new Reader(bad)), WireError);
  const res = { capabilities: 0x2f, guid, securityMode: 3, dialect: 0x311 };
  const rb = bytes((w) => encodeValidateNegotiateInfoResponse(w, res));
  assert.equal(rb.length, 24);
  assert.deepEqual(decodeValidateNegotiateInfoResponse(new Reader(rb)), res);
});

test('NETWORK_INTERFACE_INFO: 152-byte entries, IPv4 and IPv6', () => {
  const list = [
    { ifIndex: 1, capability: 1, linkSpeed: 1_000_000_000n, address: '127.0.0.1' },
    { ifIndex: 2, capability: 0, linkSpeed: 10n, address: 'fe80::1:2', scopeId: 3 },
  ];
  const b = bytes((w) => encodeNetworkInterfaceInfo(w, list));
  assert.equal(b.length, 304);
  assert.equal(b.readUInt32LE(0), 152);
  assert.equal(b.readUInt32LE(152), 0);
  assert.equal(b.readUInt16LE(24), 2); // AF_INET
  assert.deepEqual([...b.subarray(28, 32)], [127, 0, 0, 1]);
  assert.equal(b.readUInt16LE(152 + 24), 0x17); // AF_INET6
  assert.equal(b.readUInt16BE(152 + 32), 0xfe80);
  assert.deepEqual(decodeNetworkInterfaceInfo(new Reader(b)), [list[0], list[1]]);
  assert.deepEqual(
    decodeNetworkInterfaceInfo(new Reader(bytes((w) => encodeNetworkInterfaceInfo(w, [{ ifIndex: 0, capability: 0, linkSpeed: 0n, address: '::1' }]))))[0]?.address,
    '::1',
  );
});

test('resume key and copychunk', () => {
  const key = Buffer.alloc(24, 5);
  const r = bytes((w) => encodeResumeKeyResponse(w, key));
  assert.equal(r.length, 32);
  assert.deepEqual(decodeResumeKeyResponse(new Reader(r)), key);
  const req = { sourceKey: key, chunks: [{ sourceOffset: 0n, targetOffset: 10n, length: 100 }, { sourceOffset: 100n, targetOffset: 0n, length: 1 }] };
  const cb = bytes((w) => encodeCopyChunkRequest(w, req));
  assert.equal(cb.length, 32 + 48);
  assert.deepEqual(decodeCopyChunkRequest(new Reader(cb)), req);
  const lying = Buffer.from(cb);
  lying.writeUInt32LE(0xffffffff, 24);
  assert.throws(() => decodeCopyChunkRequest(new Reader(lying)), WireError);
  const res = { chunksWritten: 2, chunkBytesWritten: 0, totalBytesWritten: 101 };
  assert.deepEqual(decodeCopyChunkResponse(new Reader(bytes((w) => encodeCopyChunkResponse(w, res)))), res);
});

test('DFS referral requests', () => {
  const b = Buffer.concat([Buffer.from([4, 0]), Buffer.from('\\srv\\share\0', 'utf16le')]);
  assert.deepEqual(decodeDfsReferralRequest(new Reader(b)), { maxReferralLevel: 4, requestFileName: '\\srv\\share' });
  assert.throws(() => decodeDfsReferralRequest(new Reader(Buffer.from([4, 0, 0x41, 0]))), WireError);
  const name = Buffer.from('\\a', 'utf16le');
  const ex = Buffer.concat([Buffer.from([4, 0, 0, 0, 2 + name.length, 0, 0, 0, name.length, 0]), name]);
  assert.deepEqual(decodeDfsReferralRequestEx(new Reader(ex)), { maxReferralLevel: 4, requestFileName: '\\a' });
});

test('object id, allocated ranges, zero data, snapshots', () => {
  const o = { objectId: Buffer.alloc(16, 1), birthVolumeId: Buffer.alloc(16, 2), birthObjectId: Buffer.alloc(16, 3), domainId: Buffer.alloc(16, 0) };
  const ob = bytes((w) => encodeObjectIdBuffer(w, o));
  assert.equal(ob.length, 64);
  assert.deepEqual(decodeObjectIdBuffer(new Reader(ob)), o);
  const ranges = [{ fileOffset: 0n, length: 4096n }, { fileOffset: 8192n, length: 10n }];
  const rb = bytes((w) => encodeAllocatedRanges(w, ranges));
  assert.deepEqual(decodeAllocatedRanges(new Reader(rb)), ranges);
  assert.deepEqual(decodeAllocatedRangeRequest(new Reader(rb)), ranges[0]);
  assert.throws(() => decodeAllocatedRangeRequest(new Reader(Buffer.alloc(15))), WireError);
  const z = { fileOffset: 5n, beyondFinalZero: 10n };
  assert.deepEqual(decodeZeroDataInformation(new Reader(bytes((w) => encodeZeroDataInformation(w, z)))), z);
  assert.throws(
    () => decodeZeroDataInformation(new Reader(bytes((w) => encodeZeroDataInformation(w, { fileOffset: 11n, beyondFinalZero: 10n })))),
    WireError,
  );
  assert.deepEqual(bytes((w) => encodeSnapshotArray(w, [], 16)), Buffer.alloc(12));
  const tok = '@GMT-2024.01.01-00.00.00';
  const s = bytes((w) => encodeSnapshotArray(w, [tok], 1000));
  assert.equal(s.readUInt32LE(8), (tok.length + 2) * 2);
  assert.equal(s.length, 12 + (tok.length + 2) * 2);
  const small = bytes((w) => encodeSnapshotArray(w, [tok], 16));
  assert.equal(small.length, 12);
  assert.equal(small.readUInt32LE(0), 1);
  assert.equal(small.readUInt32LE(4), 0);
});
