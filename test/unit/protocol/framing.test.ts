import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError } from '../../../src/errors.js';
import {
  FrameAccumulator,
  NetbiosPacketType,
  decodeNegativeSessionResponse,
  decodeNetbiosName,
  decodeNetbiosSessionRequest,
  decodeRetargetSessionResponse,
  encodeKeepAlive,
  encodeNegativeSessionResponse,
  encodeNetbiosName,
  encodeNetbiosSessionRequest,
  encodePositiveSessionResponse,
  encodeRetargetSessionResponse,
  frameHeader,
  netbiosHeader,
} from '../../../src/protocol/framing.js';
import { Reader } from '../../../src/util/reader.js';

function payload(n: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
}

const PAYLOADS = [payload(70, 1), payload(0, 2), payload(5, 3), payload(300, 4)];
const STREAM = Buffer.concat(PAYLOADS.flatMap((p) => [frameHeader(p.length), p]));

function drain(acc: FrameAccumulator, out: Buffer[]): void {
  for (let f = acc.next(); f !== undefined; f = acc.next()) out.push(Buffer.from(f));
}

test('frameHeader is 0x00 + 24-bit big-endian length', () => {
  assert.deepStrictEqual(frameHeader(0x123456), Buffer.from([0, 0x12, 0x34, 0x56]));
  assert.throws(() => frameHeader(0x1000000), RangeError);
});

test('whole stream in one chunk yields every frame, as views', () => {
  const acc = new FrameAccumulator();
  acc.push(STREAM);
  const first = acc.next()!;
  assert.equal(first.buffer, STREAM.buffer); // a view, not a copy
  const out = [Buffer.from(first)];
  drain(acc, out);
  assert.deepStrictEqual(out, PAYLOADS);
  assert.equal(acc.pending, 0);
});

test('stream split at every offset (two chunks)', () => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const acc = new FrameAccumulator();
    const out: Buffer[] = [];
    acc.push(STREAM.subarray(0, cut));
    drain(acc, out);
    acc.push(STREAM.subarray(cut));
    drain(acc, out);
    assert.deepStrictEqual(out, PAYLOADS, `cut at ${cut}`);
  }
});

test('stream split at every pair of offsets (three chunks)', () => {
  for (let a = 0; a <= STREAM.length; a += 3) {
    for (let b = a; b <= STREAM.length; b += 7) {
      const acc = new FrameAccumulator();
      const out: Buffer[] = [];
      for (const part of [STREAM.subarray(0, a), STREAM.subarray(a, b), STREAM.subarray(b)]) {
        acc.push(part);
        drain(acc, out);
      }
      assert.deepStrictEqual(out, PAYLOADS, `cuts at ${a}, ${b}`);
    }
  }
});

test('one-byte chunks', () => {
  const acc = new FrameAccumulator();
  const out: Buffer[] = [];
  for (let i = 0; i < STREAM.length; i++) {
    acc.push(STREAM.subarray(i, i + 1));
    drain(acc, out);
  }
  assert.deepStrictEqual(out, PAYLOADS);
});

test('oversized frame is rejected as soon as its header arrives', () => {
  const acc = new FrameAccumulator({ maxFrameSize: 1000 });
  acc.push(frameHeader(1001));
  assert.throws(() => acc.next(), WireError);
  const ok = new FrameAccumulator({ maxFrameSize: 1000 });
  ok.push(frameHeader(1000));
  assert.equal(ok.next(), undefined);
});

test('direct TCP rejects a non-zero first byte', () => {
  const acc = new FrameAccumulator();
  acc.push(Buffer.from([0x85, 0, 0, 0]));
  assert.throws(() => acc.next(), WireError);
});

test('NetBIOS: packet kinds, 17-bit length and keep-alives', () => {
  const big = payload(0x10005, 9);
  const req = encodeNetbiosSessionRequest({
    called: { name: '*SMBSERVER', suffix: 0x20, scope: '' },
    calling: { name: 'CLIENT', suffix: 0x00, scope: '' },
  });
  const stream = Buffer.concat([req, encodeKeepAlive(), netbiosHeader(0, big.length), big]);
  for (const cut of [0, 1, 3, 4, 40, 73, stream.length - 1]) {
    const acc = new FrameAccumulator({ netbios: true, maxFrameSize: 0x20000 });
    acc.push(stream.subarray(0, cut));
    const frames: Array<{ kind: string; type: number; payload: Buffer }> = [];
    for (let f = acc.nextFrame(); f; f = acc.nextFrame()) frames.push(f);
    acc.push(stream.subarray(cut));
    for (let f = acc.nextFrame(); f; f = acc.nextFrame()) frames.push(f);
    assert.deepStrictEqual(
      frames.map((f) => f.kind),
      ['session-request', 'keep-alive', 'message'],
    );
    assert.deepStrictEqual(frames[2]!.payload, big);
    const sr = decodeNetbiosSessionRequest(frames[0]!.payload);
    assert.deepStrictEqual(sr.called, { name: '*SMBSERVER', suffix: 0x20, scope: '' });
    assert.deepStrictEqual(sr.calling, { name: 'CLIENT', suffix: 0, scope: '' });
  }
  const acc = new FrameAccumulator({ netbios: true });
  acc.push(encodeKeepAlive());
  assert.deepStrictEqual(acc.next(), Buffer.alloc(0));
  assert.equal(acc.kind, 'keep-alive');
  assert.equal(acc.type, NetbiosPacketType.SESSION_KEEP_ALIVE);
});

test('NetBIOS: unknown type and reserved flag bits are rejected', () => {
  const a = new FrameAccumulator({ netbios: true });
  a.push(Buffer.from([0x86, 0, 0, 0]));
  assert.throws(() => a.next(), WireError);
  const b = new FrameAccumulator({ netbios: true });
  b.push(Buffer.from([0x85, 0x02, 0, 0]));
  assert.throws(() => b.next(), WireError);
});

test('NetBIOS: session messages take a 24-bit length (SMB2 over port 139)', () => {
  const a = new FrameAccumulator({ netbios: true, maxFrameSize: 1 << 24 });
  const payload = Buffer.alloc(0x20005, 7);
  a.push(Buffer.from([0x00, 0x02, 0x00, 0x05]));
  a.push(payload);
  const f = a.next();
  assert.equal(f?.length, 0x20005);
  assert.equal(a.kind, 'message');
});

test('NetBIOS name first-level encoding (RFC 1001 14.1 example "FRED")', () => {
  const enc = encodeNetbiosName({ name: 'FRED', suffix: 0x20, scope: 'NETBIOS.COM' });
  // "FRED" + 11 spaces + suffix 0x20 -> EGFCEFEECACACACACACACACACACACACA
  assert.equal(enc.subarray(1, 33).toString('latin1'), 'EGFCEFEECACACACACACACACACACACACA');
  assert.equal(enc[0], 32);
  assert.equal(enc.subarray(33).toString('latin1'), '\x07NETBIOS\x03COM\x00');
  assert.deepStrictEqual(decodeNetbiosName(new Reader(enc)), { name: 'FRED', suffix: 0x20, scope: 'NETBIOS.COM' });
  const bad = Buffer.from(enc);
  bad[5] = 0x61; // lower-case is not a valid half-byte code
  assert.throws(() => decodeNetbiosName(new Reader(bad)), WireError);
});

test('NetBIOS responses', () => {
  assert.deepStrictEqual(encodePositiveSessionResponse(), Buffer.from([0x82, 0, 0, 0]));
  const neg = encodeNegativeSessionResponse(0x82);
  assert.deepStrictEqual(neg, Buffer.from([0x83, 0, 0, 1, 0x82]));
  assert.equal(decodeNegativeSessionResponse(neg.subarray(4)), 0x82);
  const rt = encodeRetargetSessionResponse({ ip: '127.0.0.2', port: 139 });
  assert.deepStrictEqual(decodeRetargetSessionResponse(rt.subarray(4)), { ip: '127.0.0.2', port: 139 });
});
