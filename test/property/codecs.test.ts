import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WireError } from '../../src/errors.js';
import { FrameAccumulator } from '../../src/protocol/framing.js';
import { decodeSmb1NegotiateRequest, decodeSmb1NegotiateResponse } from '../../src/protocol/smb1/negotiate.js';
import { splitCompound } from '../../src/protocol/smb2/compound.js';
import {
  decodeCreateContexts,
  decodeDurableHandleReconnect,
  decodeDurableHandleReconnectV2,
  decodeDurableHandleRequestV2,
  decodeDurableHandleResponse,
  decodeDurableHandleResponseV2,
  decodeLease,
} from '../../src/protocol/smb2/contexts/create-contexts.js';
import { decodeOplockBreakResponse } from '../../src/protocol/smb2/commands/oplock-break.js';
import { decodeNegotiateContextData } from '../../src/protocol/smb2/contexts/negotiate-contexts.js';
import { Reader } from '../../src/util/reader.js';
import { bodyReader, encodeMessage } from '../unit/protocol/helpers.js';
import { SAMPLES } from '../unit/protocol/samples.js';

/** Runs `f`; any exception other than WireError fails the property. */
function onlyWireErrors(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
  }
}

const HEADER = encodeMessage(() => {});
const NUM_RUNS = 400;

/** A valid encoding with a few bytes changed, maybe truncated or extended. */
function mutated(seed: Buffer): fc.Arbitrary<Buffer> {
  return fc
    .record({
      edits: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      extra: fc.uint8Array({ maxLength: 16 }),
    })
    .map(({ edits, cut, extra }) => {
      const b = Buffer.concat([seed, Buffer.from(extra)]);
      for (const e of edits) b[64 + (e.at % Math.max(1, b.length - 64))] = e.value;
      return cut === undefined ? b : b.subarray(0, 64 + (cut % (b.length - 63)));
    });
}

for (const s of SAMPLES) {
  test(`${s.name}: random bodies decode or throw WireError`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (body) => {
        onlyWireErrors(() => s.decode(bodyReader(Buffer.concat([HEADER, Buffer.from(body)]))));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test(`${s.name}: mutated encodings decode or throw WireError`, () => {
    const seed = encodeMessage((w) => s.encode(w, s.message));
    // Keep the StructureSize right in half of the cases so mutations reach the deeper fields.
    fc.assert(
      fc.property(mutated(seed), fc.boolean(), (msg, keepSize) => {
        if (keepSize && msg.length >= 66) seed.copy(msg, 64, 64, 66);
        onlyWireErrors(() => s.decode(bodyReader(msg)));
      }),
      { numRuns: NUM_RUNS },
    );
  });
}

test('negotiate and create context bodies: random data', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10 }), fc.uint8Array({ maxLength: 80 }), (type, data) => {
      onlyWireErrors(() => decodeNegotiateContextData(type, Buffer.from(data)));
      onlyWireErrors(() => decodeLease(Buffer.from(data)));
      const buf = Buffer.concat([HEADER, Buffer.from(data)]);
      onlyWireErrors(() => decodeCreateContexts(new Reader(buf, 64, buf.length, 0), 64, data.length));
    }),
    { numRuns: 2000 },
  );
});

test('durable handle context bodies and break notifications (what a reconnecting client decodes): random data', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (data) => {
      const b = Buffer.from(data);
      onlyWireErrors(() => decodeDurableHandleResponse(b));
      onlyWireErrors(() => decodeDurableHandleResponseV2(b));
      onlyWireErrors(() => decodeDurableHandleRequestV2(b));
      onlyWireErrors(() => decodeDurableHandleReconnect(b));
      onlyWireErrors(() => decodeDurableHandleReconnectV2(b));
      const buf = Buffer.concat([HEADER, b]);
      onlyWireErrors(() => decodeOplockBreakResponse(new Reader(buf, 64, buf.length, 0)));
    }),
    { numRuns: 2000 },
  );
});

test('splitCompound: random frames', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat({ max: 400 }), { maxLength: 4 }), (bytes, nexts) => {
      const frame = Buffer.from(bytes);
      // plant NextCommand values to reach the walking logic
      let at = 0;
      for (const n of nexts) {
        if (at + 24 > frame.length) break;
        frame.writeUInt32LE(n, at + 20);
        at += n || 1;
      }
      onlyWireErrors(() => {
        const parts = splitCompound(frame);
        let prev = -1;
        for (const p of parts) {
          assert.ok(p.start > prev && p.end <= frame.length && p.start % 8 === 0);
          prev = p.start;
        }
      });
    }),
    { numRuns: 2000 },
  );
});

test('FrameAccumulator: random streams never throw anything but WireError', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), fc.boolean(), (chunks, netbios) => {
      const acc = new FrameAccumulator({ netbios, maxFrameSize: 256 });
      onlyWireErrors(() => {
        for (const c of chunks) {
          acc.push(Buffer.from(c));
          while (acc.next() !== undefined) {
            /* drain */
          }
        }
      });
    }),
    { numRuns: 2000 },
  );
});

test('SMB1 negotiate decoders: random bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, magic) => {
      const b = Buffer.from(bytes);
      if (magic && b.length >= 5) {
        b.writeUInt32BE(0xff534d42, 0);
        b[4] = 0x72;
      }
      onlyWireErrors(() => decodeSmb1NegotiateRequest(b));
      onlyWireErrors(() => decodeSmb1NegotiateResponse(b));
    }),
    { numRuns: 2000 },
  );
});
