import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { cstr, deriveSmbKeys, kdf } from '../../../src/crypto/kdf.js';
import { Cipher, Dialect } from '../../../src/protocol/smb2/constants.js';
import * as W from '../auth/windows-capture.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// Microsoft Open Specifications blog, "SMB 2 and SMB 3 security in Windows 10: the anatomy of signing and
// cryptographic keys", appendix: key derivation examples (keys named from the client's point of view).
test('SMB 3.0 keys (blog example, first channel)', () => {
  const k = deriveSmbKeys(Dialect.SMB300, hex('7CD451825D0450D235424E44BA6E78CC'), undefined, Cipher.AES128_CCM);
  assert.equal(k.signingKey.toString('hex').toUpperCase(), '0B7E9C5CAC36C0F6EA9AB275298CEDCE');
  assert.equal(k.encryptionKey.toString('hex').toUpperCase(), 'FAD27796665B313EBB578F388632B4F7');
  assert.equal(k.decryptionKey.toString('hex').toUpperCase(), 'B0F0427F7CEB416D1D9DCC0CD4F99447');
  assert.equal(k.applicationKey.toString('hex').toUpperCase(), 'BB23A4575AA26C721AF525AF15A87B4F');
  assert.deepEqual(k.clientToServerKey, k.encryptionKey);
  assert.deepEqual(k.serverToClientKey, k.decryptionKey);
  // 3.0.2 uses the same labels.
  assert.deepEqual(deriveSmbKeys(Dialect.SMB302, hex('7CD451825D0450D235424E44BA6E78CC'), undefined).signingKey, k.signingKey);
});

test('SMB 3.0 second channel signing key (blog example)', () => {
  const k = deriveSmbKeys(Dialect.SMB300, hex('4E01A2B313BCF660CC250BEF021AEDE6'), undefined);
  assert.equal(k.signingKey.toString('hex').toUpperCase(), 'BA1A17DBBFEC349BCA105563D598952F');
});

test('SMB 3.1.1 keys (blog example) with the preauth hash as context', () => {
  const k = deriveSmbKeys(Dialect.SMB311, W.EXPORTED_SESSION_KEY, W.PREAUTH_AFTER_SESSION_SETUP_REQUEST_2, Cipher.AES128_GCM);
  assert.deepEqual(k.signingKey, W.SMB311_SIGNING_KEY);
  assert.deepEqual(k.encryptionKey, W.SMB311_ENCRYPTION_KEY);
  assert.deepEqual(k.decryptionKey, W.SMB311_DECRYPTION_KEY);
  assert.deepEqual(k.applicationKey, W.SMB311_APPLICATION_KEY);
  assert.throws(() => deriveSmbKeys(Dialect.SMB311, W.EXPORTED_SESSION_KEY, undefined));
});

test('SMB 2.x: the session key signs; no encryption keys', () => {
  const key = hex('00112233445566778899aabbccddeeff');
  const k = deriveSmbKeys(Dialect.SMB210, key, undefined);
  assert.deepEqual(k.signingKey, key);
  assert.equal(k.encryptionKey.length, 0);
});

test('AES-256 ciphers get 32-byte encryption keys and 16-byte signing keys', () => {
  const k = deriveSmbKeys(Dialect.SMB311, W.EXPORTED_SESSION_KEY, W.PREAUTH_AFTER_SESSION_SETUP_REQUEST_2, Cipher.AES256_GCM);
  assert.equal(k.encryptionKey.length, 32);
  assert.equal(k.decryptionKey.length, 32);
  assert.deepEqual(k.signingKey, W.SMB311_SIGNING_KEY);
  assert.notDeepEqual(k.encryptionKey.subarray(0, 16), W.SMB311_ENCRYPTION_KEY);
});

test('kdf: counter-mode structure (one HMAC block per 256 bits, i and L big-endian)', () => {
  const key = Buffer.alloc(16, 7);
  const label = cstr('L');
  const ctx = cstr('C');
  const expect = (i: number, bits: number): Buffer =>
    createHmac('sha256', key)
      .update(Buffer.from([0, 0, 0, i]))
      .update(label)
      .update(Buffer.of(0))
      .update(ctx)
      .update(Buffer.from([0, 0, bits >> 8, bits & 0xff]))
      .digest();
  assert.deepEqual(kdf(key, label, ctx, 128), expect(1, 128).subarray(0, 16));
  assert.deepEqual(kdf(key, label, ctx, 256), expect(1, 256));
});
