import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { WireError } from '../../../src/errors.js';
import {
  TRANSFORM_HEADER_SIZE,
  decryptMessage,
  encryptMessage,
  nextNonce,
} from '../../../src/crypto/encryption.js';
import { Cipher } from '../../../src/protocol/smb2/constants.js';
import { decodeTransformHeader } from '../../../src/protocol/smb2/transform.js';
import { Reader } from '../../../src/util/reader.js';
import { CIPHERS } from './ciphers.js';

const plaintext = Buffer.concat([Buffer.from('fe534d42', 'hex'), Buffer.alloc(60, 1), Buffer.from('hello, encrypted world')]);

for (const [name, cipher, keyLen, nonceLen] of CIPHERS) {
  test(`${name}: round trip, header layout, tamper detection`, () => {
    const key = Buffer.alloc(keyLen, 0x42);
    const parts = encryptMessage(cipher, key, 0x1122334455667788n, [plaintext.subarray(0, 64), plaintext.subarray(64)]);
    const wire = Buffer.concat(parts);
    assert.equal(wire.length, TRANSFORM_HEADER_SIZE + plaintext.length);
    const h = decodeTransformHeader(new Reader(wire));
    assert.equal(wire.readUInt32BE(0), 0xfd534d42);
    assert.equal(h.sessionId, 0x1122334455667788n);
    assert.equal(h.originalMessageSize, plaintext.length);
    assert.equal(h.flags, 1);
    assert.ok(h.nonce.subarray(nonceLen).equals(Buffer.alloc(16 - nonceLen)), 'nonce padding is zero');
    assert.deepEqual(decryptMessage(cipher, key, wire), plaintext);
    for (const at of [5, 21, 40, 45, wire.length - 1]) {
      const bad = Buffer.from(wire);
      bad[at] = bad[at]! ^ 0x01;
      assert.throws(() => decryptMessage(cipher, key, bad), WireError, `flip at ${at}`);
    }
    assert.throws(() => decryptMessage(cipher, Buffer.alloc(keyLen, 1), wire), WireError);
    assert.throws(() => decryptMessage(cipher, key, wire.subarray(0, 30)), WireError);
  });
}

test('GCM output equals AES-GCM with AAD = transform header bytes 20..52', () => {
  const key = Buffer.alloc(16, 7);
  const nonce = Buffer.from('0102030405060708090a0b0c', 'hex');
  const [header, ...ct] = encryptMessage(Cipher.AES128_GCM, key, 5n, plaintext, nonce);
  const c = createCipheriv('aes-128-gcm', key, nonce);
  c.setAAD(header!.subarray(20, 52));
  const want = Buffer.concat([c.update(plaintext), c.final()]);
  assert.deepEqual(Buffer.concat(ct), want);
  assert.deepEqual(header!.subarray(4, 20), c.getAuthTag());
});

test('nonces never repeat', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const n = nextNonce(i % 2 ? Cipher.AES128_GCM : Cipher.AES128_CCM).toString('hex');
    assert.ok(!seen.has(n));
    seen.add(n);
  }
});
