/**
 * FSCTL payload codecs against real bytes: smbtorture and Samba 4.17 exchanging FSCTL_SRV_REQUEST_RESUME_KEY,
 * FSCTL_SRV_COPYCHUNK (a copy and a refusal carrying the server's limits), FSCTL_QUERY_ALLOCATED_RANGES and
 * FSCTL_SET_ZERO_DATA (test/fixtures/protocol/samba-fsctl.json), plus the codecs added for sparse files,
 * compression, integrity and trim.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { WireError } from '../../../src/errors.js';
import { Fsctl } from '../../../src/protocol/smb2/constants.js';
import { decodeHeader } from '../../../src/protocol/smb2/header.js';
import { decodeIoctlRequest, decodeIoctlResponse } from '../../../src/protocol/smb2/commands/ioctl.js';
import {
  COPYCHUNK_LIMITS,
  decodeAllocatedRangeRequest,
  decodeAllocatedRanges,
  decodeCompressionState,
  decodeCopyChunkRequest,
  decodeCopyChunkResponse,
  decodeFileLevelTrim,
  decodeFileLevelTrimOutput,
  decodeIntegrityInformation,
  decodeResumeKeyResponse,
  decodeSetSparse,
  decodeZeroDataInformation,
  encodeAllocatedRanges,
  encodeCompressionState,
  encodeCopyChunkRequest,
  encodeCopyChunkResponse,
  encodeFileLevelTrim,
  encodeFileLevelTrimOutput,
  encodeIntegrityInformation,
  encodeResumeKeyResponse,
  encodeZeroDataInformation,
} from '../../../src/protocol/smb2/fscc/fsctl.js';
import { Reader } from '../../../src/util/reader.js';
import { Writer } from '../../../src/util/writer.js';

const capture = JSON.parse(readFileSync(new URL('../../../../test/fixtures/protocol/samba-fsctl.json', import.meta.url), 'utf8')) as {
  messages: Record<string, string>;
};

function message(name: string): { status: number; r: Reader } {
  const hex = capture.messages[name];
  assert.ok(hex, name);
  const buf = Buffer.from(hex, 'hex');
  const r = new Reader(buf);
  const h = decodeHeader(r);
  return { status: h.status, r };
}

const request = (name: string) => decodeIoctlRequest(message(name).r);
const response = (name: string) => {
  const m = message(name);
  return { status: m.status, ioctl: decodeIoctlResponse(m.r) };
};

const bytes = (f: (w: Writer) => void): Buffer => {
  const w = new Writer(8);
  f(w);
  return Buffer.from(w.finish());
};

test("Samba's resume key feeds the copychunk request that follows", () => {
  const key = response('resumeKeyResponse');
  assert.equal(key.ioctl.ctlCode, Fsctl.SRV_REQUEST_RESUME_KEY);
  assert.equal(key.ioctl.output.length, 32); // key, ContextLength 0, 4 bytes of padding (as Windows)
  const resumeKey = decodeResumeKeyResponse(new Reader(key.ioctl.output));
  const req = request('copyChunkRequest');
  assert.equal(req.ctlCode, Fsctl.SRV_COPYCHUNK);
  assert.equal(req.maxOutputResponse, 12);
  const copy = decodeCopyChunkRequest(new Reader(req.input));
  assert.deepEqual(copy.sourceKey, resumeKey);
  assert.deepEqual(copy.chunks, [{ sourceOffset: 0n, targetOffset: 0n, length: 4096 }]);
  // Our encoder writes the same bytes smbtorture sent.
  assert.deepEqual(bytes((w) => encodeCopyChunkRequest(w, copy)), req.input);
  // And our resume key answer is Windows' 32 bytes that decode to the same key.
  const ours = bytes((w) => encodeResumeKeyResponse(w, resumeKey));
  assert.equal(ours.length, 32);
  assert.deepEqual(decodeResumeKeyResponse(new Reader(ours)), resumeKey);
});

test('copychunk responses: a copy, and a refusal with the limits', () => {
  const ok = response('copyChunkResponse');
  assert.equal(ok.status, 0);
  const r = decodeCopyChunkResponse(new Reader(ok.ioctl.output));
  assert.deepEqual(r, { chunksWritten: 1, chunkBytesWritten: 0, totalBytesWritten: 4096 });
  assert.deepEqual(bytes((w) => encodeCopyChunkResponse(w, r)), ok.ioctl.output);

  const tooLong = decodeCopyChunkRequest(new Reader(request('copyChunkLimitsRequest').input));
  assert.deepEqual(tooLong.chunks.map((c) => c.length), [0xffffffff]);
  const refused = response('copyChunkLimitsResponse');
  assert.equal(refused.status, 0xc000000d); // INVALID_PARAMETER, with an IOCTL body (MS-SMB2 3.3.4.4)
  assert.deepEqual(decodeCopyChunkResponse(new Reader(refused.ioctl.output)), {
    chunksWritten: COPYCHUNK_LIMITS.maxChunks,
    chunkBytesWritten: COPYCHUNK_LIMITS.maxChunkSize,
    totalBytesWritten: COPYCHUNK_LIMITS.maxTotalBytes,
  });
});

test('allocated ranges and zero data as Samba exchanged them', () => {
  const q = request('queryAllocatedRangesRequest');
  assert.equal(q.ctlCode, Fsctl.QUERY_ALLOCATED_RANGES);
  const range = decodeAllocatedRangeRequest(new Reader(q.input));
  assert.deepEqual(range, { fileOffset: 0n, length: 8192n });
  const a = response('queryAllocatedRangesResponse');
  const ranges = decodeAllocatedRanges(new Reader(a.ioctl.output));
  // Samba reports the written 1 KiB at 4 KiB exactly; smbkit rounds to 64 KiB units as NTFS does.
  assert.deepEqual(ranges, [{ fileOffset: 4096n, length: 1024n }]);
  assert.deepEqual(bytes((w) => encodeAllocatedRanges(w, ranges)), a.ioctl.output);

  const z = request('setZeroDataRequest');
  assert.equal(z.ctlCode, Fsctl.SET_ZERO_DATA);
  const zero = decodeZeroDataInformation(new Reader(z.input));
  assert.deepEqual(zero, { fileOffset: 0n, beyondFinalZero: 4096n });
  assert.deepEqual(bytes((w) => encodeZeroDataInformation(w, zero)), z.input);
});

test('FILE_SET_SPARSE_BUFFER: absent means set, first byte decides', () => {
  assert.equal(decodeSetSparse(new Reader(Buffer.alloc(0))), true);
  assert.equal(decodeSetSparse(new Reader(Buffer.from([1]))), true);
  assert.equal(decodeSetSparse(new Reader(Buffer.from([0]))), false);
  assert.equal(decodeSetSparse(new Reader(Buffer.from([0xff, 0, 0, 0]))), true);
});

test('compression state, integrity information, file level trim', () => {
  assert.deepEqual(bytes((w) => encodeCompressionState(w, 2)), Buffer.from([2, 0]));
  assert.equal(decodeCompressionState(new Reader(Buffer.from([0, 0]))), 0);
  assert.throws(() => decodeCompressionState(new Reader(Buffer.from([1]))), WireError);

  const info = { checksumAlgorithm: 0, flags: 0, checksumChunkSizeInBytes: 0, clusterSizeInBytes: 4096 };
  const ib = bytes((w) => encodeIntegrityInformation(w, info));
  assert.deepEqual(ib, Buffer.from('00000000' + '00000000' + '00000000' + '00100000', 'hex'));
  assert.deepEqual(decodeIntegrityInformation(new Reader(ib)), info);

  const trim = { key: 0, ranges: [{ offset: 4096n, length: 8192n }, { offset: 0n, length: 512n }] };
  const tb = bytes((w) => encodeFileLevelTrim(w, trim));
  assert.equal(tb.length, 8 + 32);
  assert.deepEqual(decodeFileLevelTrim(new Reader(tb)), trim);
  // NumRanges beyond the buffer is refused before anything is allocated.
  const lying = Buffer.from(tb);
  lying.writeUInt32LE(0xffffffff, 4);
  assert.throws(() => decodeFileLevelTrim(new Reader(lying)), WireError);
  assert.equal(decodeFileLevelTrimOutput(new Reader(bytes((w) => encodeFileLevelTrimOutput(w, 2)))), 2);
});
