import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WireError } from '../../src/errors.js';
import { decodeDirectoryListing, encodeDirectoryListing, type DirEntryFacts } from '../../src/protocol/smb2/fscc/dir-info.js';
import { decodeFullEaList, decodeGetEaList, encodeFullEaList, encodeGetEaList, FILE_NEED_EA } from '../../src/protocol/smb2/fscc/ea.js';
import { decodeFileInfo, decodeSetFileInfo } from '../../src/protocol/smb2/fscc/file-info.js';
import { decodeFsInfo, decodeSetFsInfo } from '../../src/protocol/smb2/fscc/fs-info.js';
import {
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
  decodeDfsReferralRequest,
  decodeDfsReferralRequestEx,
  decodeNetworkInterfaceInfo,
  decodeValidateNegotiateInfoRequest,
  decodeZeroDataInformation,
} from '../../src/protocol/smb2/fscc/fsctl.js';
import {
  decodeSecurityDescriptor,
  securityDescriptorToBytes,
  sidFromBytes,
  sidToBytes,
  type SecurityDescriptor,
} from '../../src/protocol/smb2/fscc/security.js';
import { matchWildcard } from '../../src/protocol/smb2/fscc/wildcard.js';
import { decodeFileNotifyInformation, encodeFileNotifyInformation, notifyInfoSize } from '../../src/protocol/smb2/fscc/notify-info.js';
import { Reader } from '../../src/util/reader.js';
import { Writer } from '../../src/util/writer.js';

const bytesArb = fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a));

function onlyWireErrors(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
  }
}

const FILE_CLASSES = [4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 28, 34, 35, 39, 40, 48, 59, 64, 65, 68, 72];
const DIR_CLASSES = [1, 2, 3, 12, 37, 38, 60];

test('file info decoders: result or WireError', () => {
  fc.assert(
    fc.property(bytesArb, fc.constantFrom(...FILE_CLASSES), (buf, cls) => {
      onlyWireErrors(() => decodeSetFileInfo(new Reader(buf), cls));
      onlyWireErrors(() => decodeFileInfo(new Reader(buf), cls));
    }),
    { numRuns: 3000 },
  );
});

test('fs info decoders: result or WireError', () => {
  fc.assert(
    fc.property(bytesArb, fc.integer({ min: 0, max: 12 }), (buf, cls) => {
      onlyWireErrors(() => decodeFsInfo(new Reader(buf), cls));
      onlyWireErrors(() => decodeSetFsInfo(new Reader(buf), cls));
    }),
    { numRuns: 1000 },
  );
});

test('directory listing decoder: result or WireError', () => {
  fc.assert(
    fc.property(bytesArb, fc.constantFrom(...DIR_CLASSES), (buf, cls) => {
      onlyWireErrors(() => decodeDirectoryListing(buf, cls));
    }),
    { numRuns: 3000 },
  );
});

test('fsctl and security decoders: result or WireError', () => {
  const decoders: ((r: Reader) => unknown)[] = [
    decodeAllocatedRanges, decodeCopyChunkRequest, decodeDfsReferralRequest, decodeDfsReferralRequestEx,
    decodeNetworkInterfaceInfo, decodeValidateNegotiateInfoRequest, decodeZeroDataInformation,
    decodeAllocatedRangeRequest, decodeCompressionState, decodeCopyChunkResponse, decodeFileLevelTrim,
    decodeFileLevelTrimOutput, decodeIntegrityInformation, decodeResumeKeyResponse, decodeSetSparse,
  ];
  fc.assert(
    fc.property(bytesArb, (buf) => {
      for (const d of decoders) onlyWireErrors(() => d(new Reader(buf)));
      onlyWireErrors(() => decodeSecurityDescriptor(buf));
      onlyWireErrors(() => sidFromBytes(buf));
    }),
    { numRuns: 2000 },
  );
});

test('security descriptor decoder on mutated valid descriptors', () => {
  const base = securityDescriptorToBytes({
    control: 0x8004,
    owner: 'S-1-5-21-1-2-3-1000',
    group: 'S-1-5-21-1-2-3-513',
    dacl: { revision: 2, aces: [{ type: 0, flags: 3, mask: 0x1f01ff, sid: 'S-1-1-0' }, { type: 1, flags: 0, mask: 1, sid: 'S-1-5-18' }] },
  });
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), (edits) => {
      const b = Buffer.from(base);
      for (const [i, v] of edits) b[i] = v;
      onlyWireErrors(() => decodeSecurityDescriptor(b));
    }),
    { numRuns: 2000 },
  );
});

const sidArb = fc
  .tuple(fc.integer({ min: 0, max: 2 ** 47 }), fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 15 }))
  .map(([auth, subs]) => {
    const a = auth >= 2 ** 32 ? `0x${auth.toString(16).toUpperCase().padStart(12, '0')}` : String(auth);
    return ['S-1', a, ...subs.map(String)].join('-');
  });

test('SID and SD round trips', () => {
  fc.assert(fc.property(sidArb, (s) => sidFromBytes(sidToBytes(s)) === s));
  const aceArb = fc.record({
    type: fc.constantFrom(0, 1, 2),
    flags: fc.integer({ min: 0, max: 255 }),
    mask: fc.integer({ min: 0, max: 0xffffffff }),
    sid: sidArb,
  }).map((r) => ({ ...r }));
  fc.assert(
    fc.property(sidArb, sidArb, fc.array(aceArb, { maxLength: 8 }), (owner, group, aces) => {
      const sd: SecurityDescriptor = { control: 0x8004, owner, group, dacl: { revision: 2, aces } };
      assert.deepEqual(decodeSecurityDescriptor(securityDescriptorToBytes(sd)), sd);
    }),
  );
});

test('directory listings round trip', () => {
  const nameArb = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => Buffer.from(s, 'utf16le').toString('utf16le') === s);
  const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
  const entryArb = fc.record({
    fileName: nameArb,
    creationTime: u64, lastAccessTime: u64, lastWriteTime: u64, changeTime: u64, endOfFile: u64, allocationSize: u64,
    fileAttributes: fc.integer({ min: 0, max: 0x3ff }), // no REPARSE_POINT (0x400)
    eaSize: fc.integer({ min: 0, max: 0xffffffff }),
    fileId: u64,
    fileIndex: fc.integer({ min: 0, max: 0xffffffff }),
  }).map((r) => ({ ...r }));
  fc.assert(
    fc.property(fc.array(entryArb, { maxLength: 10 }), (entries: DirEntryFacts[]) => {
      const back = decodeDirectoryListing(encodeDirectoryListing(37, entries), 37);
      assert.deepEqual(back, entries);
    }),
  );
});

const nameChars = fc.constantFrom('a', 'B', 'c', '.', 'x', 'É', 'é', ' ', '1');
const nameArb2 = fc.array(nameChars, { minLength: 1, maxLength: 12 }).map((a) => a.join(''));

test('wildcard: literal patterns match only case-insensitively equal names', () => {
  fc.assert(
    fc.property(nameArb2, nameArb2, (p, n) => {
      assert.equal(matchWildcard(p, n), p.toUpperCase() === n.toUpperCase());
    }),
    { numRuns: 3000 },
  );
});

test('wildcard: * matches every non-empty name; a name matches itself with any ? substitution', () => {
  fc.assert(
    fc.property(nameArb2, fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), (n, mask) => {
      assert.equal(matchWildcard('*', n), true);
      assert.equal(matchWildcard('*.*', n), true);
      const chars = [...n];
      const p = chars.map((c, i) => (mask[i] ? '?' : c)).join('');
      assert.equal(matchWildcard(p, n), true);
      assert.equal(matchWildcard(`*${chars.slice(1).join('')}`, n), true);
    }),
    { numRuns: 2000 },
  );
});

test('wildcard: * and ? agree with a regular expression', () => {
  const patChars = fc.constantFrom('a', 'b', '.', '*', '?');
  fc.assert(
    fc.property(
      fc.array(patChars, { minLength: 1, maxLength: 8 }).map((a) => a.join('')),
      fc.array(fc.constantFrom('a', 'b', '.'), { minLength: 1, maxLength: 10 }).map((a) => a.join('')),
      (p, n) => {
        if (p === '*.*') return;
        const re = new RegExp(`^${p.replace(/\./g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
        assert.equal(matchWildcard(p, n), re.test(n), `${p} vs ${n}`);
      },
    ),
    { numRuns: 3000 },
  );
});

/** A direct recursive reading of the same rules, to check the NFA against on short strings. */
function reference(p: string, n: string): boolean {
  if (n === '') return p === '';
  if (p === '') return false;
  if (p === '*' || p === '*.*') return true;
  const P = p.toUpperCase();
  const N = n.toUpperCase();
  const lastDot = N.lastIndexOf('.');
  const go = (pi: number, ni: number): boolean => {
    if (pi === P.length) return ni === N.length;
    const e = P[pi]!;
    const c = N[ni];
    switch (e) {
      case '*':
        return go(pi + 1, ni) || (c !== undefined && go(pi, ni + 1));
      case '<':
        return go(pi + 1, ni) || (c !== undefined && (c !== '.' || ni < lastDot) && go(pi, ni + 1));
      case '?':
        return c !== undefined && go(pi + 1, ni + 1);
      case '>':
        return c === undefined || c === '.' ? go(pi + 1, ni) : go(pi + 1, ni + 1);
      case '"':
        return c === undefined ? go(pi + 1, ni) : c === '.' && go(pi + 1, ni + 1);
      default:
        return c === e && go(pi + 1, ni + 1);
    }
  };
  return go(0, 0);
}

test('wildcard: NFA agrees with the recursive definition (all DOS wildcards)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom('a', 'B', '.', '*', '?', '<', '>', '"'), { maxLength: 7 }).map((a) => a.join('')),
      fc.array(fc.constantFrom('a', 'b', '.'), { maxLength: 9 }).map((a) => a.join('')),
      (p, n) => {
        assert.equal(matchWildcard(p, n), reference(p, n), `${p} vs ${n}`);
      },
    ),
    { numRuns: 5000 },
  );
});

test('FILE_NOTIFY_INFORMATION: decoder gives a result or WireError; encode/decode round-trips', () => {
  fc.assert(
    fc.property(bytesArb, (buf) => onlyWireErrors(() => decodeFileNotifyInformation(buf))),
    { numRuns: 3000 },
  );
  const entryArb = fc.record({ action: fc.integer({ min: 1, max: 8 }), fileName: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }) });
  fc.assert(
    fc.property(fc.array(entryArb, { maxLength: 12 }), (entries) => {
      // Lone surrogates do not survive UTF-16 on any wire; compare what the wire can carry.
      const wire = entries.map((e) => ({ action: e.action, fileName: Buffer.from(e.fileName, 'utf16le').toString('utf16le') }));
      const bytes = encodeFileNotifyInformation(wire);
      assert.equal(bytes.length, notifyInfoSize(wire));
      assert.deepEqual(decodeFileNotifyInformation(bytes), wire);
    }),
    { numRuns: 1000 },
  );
});

test('EA lists: random bytes decode or are a WireError; encoded lists decode to what was encoded', () => {
  fc.assert(
    fc.property(bytesArb, (b) => {
      onlyWireErrors(() => decodeFullEaList(new Reader(b)));
      onlyWireErrors(() => decodeGetEaList(new Reader(b)));
    }),
    { numRuns: 500 },
  );
  const nameArb = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 255 });
  const eaArb = fc.record({
    flags: fc.constantFrom(0, FILE_NEED_EA),
    name: nameArb,
    value: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  });
  fc.assert(
    fc.property(fc.array(eaArb, { maxLength: 6 }), (eas) => {
      const w = new Writer();
      encodeFullEaList(w, eas);
      const back = decodeFullEaList(new Reader(Buffer.from(w.finish())));
      assert.deepEqual(back.map((e) => [e.flags, e.name, Buffer.from(e.value)]), eas.map((e) => [e.flags, e.name, e.value]));
      const g = new Writer();
      encodeGetEaList(g, eas.map((e) => e.name));
      assert.deepEqual(decodeGetEaList(new Reader(Buffer.from(g.finish()))), eas.map((e) => e.name));
    }),
    { numRuns: 200 },
  );
});
