import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError } from '../../../src/errors.js';
import {
  decodeSmb1NegotiateRequest,
  decodeSmb1NegotiateResponse,
  encodeSmb1NegotiateNoDialectResponse,
  encodeSmb1NegotiateRequest,
  smb2DialectFromSmb1,
} from '../../../src/protocol/smb1/negotiate.js';
import { hex } from './helpers.js';

// An SMB1 NEGOTIATE as Windows 7 sends it (3 dialects), written from MS-CIFS 2.2.4.52.1.
const WIN7 = hex(`
  ff534d42 72 00000000 18 5328 0000 0000000000000000 0000 0000 fffe 0000 0000
  00 2200
  02 4e54204c4d20302e313200
  02 534d4220322e30303200
  02 534d4220322e3f3f3f00
`);

test('decode an SMB1 NEGOTIATE request', () => {
  const m = decodeSmb1NegotiateRequest(WIN7);
  assert.deepStrictEqual(m.dialects, ['NT LM 0.12', 'SMB 2.002', 'SMB 2.???']);
  assert.equal(m.header.command, 0x72);
  assert.equal(smb2DialectFromSmb1(m.dialects), 0x02ff);
  assert.equal(smb2DialectFromSmb1(['NT LM 0.12', 'SMB 2.002']), 0x0202);
  assert.equal(smb2DialectFromSmb1(['NT LM 0.12']), undefined);
});

test('encode / decode round trip', () => {
  const d = ['NT LM 0.12', 'SMB 2.002', 'SMB 2.???'];
  const msg = encodeSmb1NegotiateRequest(d, { mid: 3 });
  const m = decodeSmb1NegotiateRequest(msg);
  assert.deepStrictEqual(m.dialects, d);
  assert.equal(m.header.mid, 3);
  const resp = decodeSmb1NegotiateResponse(encodeSmb1NegotiateNoDialectResponse(m.header));
  assert.equal(resp.dialectIndex, 0xffff);
  assert.equal(resp.header.mid, 3);
  assert.equal(resp.header.flags & 0x80, 0x80);
});

test('decode an NT LM 0.12 negotiate response (WordCount 17)', () => {
  const msg = hex(
    'ff534d42 72 00000000 98 01c8 0000 0000000000000000 0000 0000 fffe 0000 0000' +
      '11 0000 03 3200 0100 04110000 00000100 00000000 fce30180 0000000000000000 0000 00 0000',
  );
  const r = decodeSmb1NegotiateResponse(msg);
  assert.equal(r.dialectIndex, 0);
  assert.equal(r.securityMode, 3);
  assert.equal(r.wordCount, 17);
});

test('malformed SMB1 negotiates throw WireError', () => {
  const noNul = Buffer.from(WIN7.subarray(0, WIN7.length - 1));
  noNul.writeUInt16LE(0x21, 33);
  assert.throws(() => decodeSmb1NegotiateRequest(noNul), WireError);
  const badFormat = Buffer.from(WIN7);
  badFormat[35] = 0x03;
  assert.throws(() => decodeSmb1NegotiateRequest(badFormat), WireError);
  const longCount = Buffer.from(WIN7);
  longCount.writeUInt16LE(0x100, 33);
  assert.throws(() => decodeSmb1NegotiateRequest(longCount), WireError);
  assert.throws(() => decodeSmb1NegotiateRequest(Buffer.alloc(10)), WireError);
});
