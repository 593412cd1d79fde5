import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHmac } from 'node:crypto';
import { aesCmac, cmacSubkeys, gmacNonce, sign, signMessage, verifyMessage } from '../../../src/crypto/signing.js';
import { SigningAlgorithm } from '../../../src/protocol/smb2/constants.js';
import * as W from '../auth/windows-capture.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 4493 section 4.
const K = hex('2b7e151628aed2a6abf7158809cf4f3c');
const M = hex(
  '6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710',
);

test('AES-CMAC: RFC 4493 subkeys and examples 1-4', () => {
  const { k1, k2 } = cmacSubkeys(K);
  assert.equal(k1.toString('hex'), 'fbeed618357133667c85e08f7236a8de');
  assert.equal(k2.toString('hex'), 'f7ddac306ae266ccf90bc11ee46d513b');
  assert.equal(aesCmac(K, Buffer.alloc(0)).toString('hex'), 'bb1d6929e95937287fa37d129b756746');
  assert.equal(aesCmac(K, M.subarray(0, 16)).toString('hex'), '070a16b46b4d4144f79bdd9dd04a287c');
  assert.equal(aesCmac(K, M.subarray(0, 40)).toString('hex'), 'dfa66747de9ae63030ca32611497c827');
  assert.equal(aesCmac(K, M).toString('hex'), '51f0bebf7e3b9d92fc49741779363cfe');
});

test('AES-CMAC: chunked input gives the same MAC at every split', () => {
  for (const len of [0, 1, 15, 16, 17, 40, 64]) {
    const msg = M.subarray(0, len);
    const whole = aesCmac(K, msg);
    for (let a = 0; a <= len; a++) {
      for (let b = a; b <= len; b += 7) {
        assert.deepEqual(aesCmac(K, [msg.subarray(0, a), msg.subarray(a, b), msg.subarray(b)]), whole, `len ${len} split ${a},${b}`);
      }
    }
  }
});

test('AES-CMAC signature of a real Windows SMB 3.1.1 SESSION_SETUP response', () => {
  const msg = Buffer.from(W.SESSION_SETUP_RESPONSE_2);
  assert.equal(verifyMessage(SigningAlgorithm.AES_CMAC, W.SMB311_SIGNING_KEY, msg), true);
  assert.deepEqual(msg, W.SESSION_SETUP_RESPONSE_2, 'verify leaves the message alone');
  // Chunked (header, body) verifies too; a flipped body bit or another key does not.
  assert.equal(verifyMessage(SigningAlgorithm.AES_CMAC, W.SMB311_SIGNING_KEY, [msg.subarray(0, 64), msg.subarray(64)]), true);
  const bad = Buffer.from(msg);
  bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
  assert.equal(verifyMessage(SigningAlgorithm.AES_CMAC, W.SMB311_SIGNING_KEY, bad), false);
  assert.equal(verifyMessage(SigningAlgorithm.AES_CMAC, W.SMB311_APPLICATION_KEY, msg), false);
  // Re-signing in place writes the same signature.
  const copy = Buffer.from(msg);
  copy.fill(0xee, 48, 64);
  signMessage(SigningAlgorithm.AES_CMAC, W.SMB311_SIGNING_KEY, copy);
  assert.deepEqual(copy, W.SESSION_SETUP_RESPONSE_2);
});

function header(messageId: bigint, flags: number, command = 5): Buffer {
  const h = Buffer.alloc(64);
  h.writeUInt32BE(0xfe534d42, 0);
  h.writeUInt16LE(64, 4);
  h.writeUInt16LE(command, 12);
  h.writeUInt32LE(flags, 16);
  h.writeBigUInt64LE(messageId, 24);
  h.fill(0xab, 48, 64);
  return h;
}

test('HMAC-SHA256 signing: first 16 bytes of the HMAC over the zero-signature message', () => {
  const key = Buffer.alloc(16, 3);
  const h = header(7n, 0);
  const body = Buffer.from('payload bytes');
  const sig = signMessage(SigningAlgorithm.HMAC_SHA256, key, [h, body]);
  const zeroed = Buffer.concat([h, body]);
  zeroed.fill(0, 48, 64);
  assert.deepEqual(sig, createHmac('sha256', key).update(zeroed).digest().subarray(0, 16));
  assert.deepEqual(h.subarray(48, 64), sig);
  assert.equal(verifyMessage(SigningAlgorithm.HMAC_SHA256, key, Buffer.concat([h, body])), true);
});

test('AES-GMAC: nonce layout of MS-SMB2 3.1.4.1 and GCM with the message as AAD', () => {
  assert.equal(gmacNonce(0x0102030405060708n, false, false).toString('hex'), '080706050403020100000000');
  assert.equal(gmacNonce(1n, true, false).toString('hex'), '010000000000000001000000');
  assert.equal(gmacNonce(1n, false, true).toString('hex'), '010000000000000002000000');
  const key = Buffer.alloc(16, 9);
  const h = header(42n, 1);
  const body = Buffer.from('response body');
  const sig = signMessage(SigningAlgorithm.AES_GMAC, key, [h, body]);
  const zeroed = Buffer.concat([h, body]).fill(0, 48, 64);
  const g = createCipheriv('aes-128-gcm', key, gmacNonce(42n, true, false));
  g.setAAD(zeroed);
  g.final();
  assert.deepEqual(sig, g.getAuthTag());
  assert.equal(verifyMessage(SigningAlgorithm.AES_GMAC, key, Buffer.concat([h, body])), true);
  // The role bit matters: the same bytes claimed by the other side do not verify.
  assert.equal(verifyMessage(SigningAlgorithm.AES_GMAC, key, Buffer.concat([h, body]), { fromServer: false }), false);
  // A CANCEL request sets the cancel bit.
  const c = header(5n, 0, 0x0c);
  const cs = sign(SigningAlgorithm.AES_GMAC, key, (c.fill(0, 48, 64), c));
  const g2 = createCipheriv('aes-128-gcm', key, gmacNonce(5n, false, true));
  g2.setAAD(c);
  g2.final();
  assert.deepEqual(cs, g2.getAuthTag());
});

test('AES-GMAC: NIST GCM test case 1 (empty AAD and plaintext) through the same primitive', () => {
  const g = createCipheriv('aes-128-gcm', Buffer.alloc(16), Buffer.alloc(12));
  g.final();
  assert.equal(g.getAuthTag().toString('hex'), '58e2fccefa7e3061367f1d57a4e7455a');
});
