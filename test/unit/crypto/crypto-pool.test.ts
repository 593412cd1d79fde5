import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { WireError } from '../../../src/errors.js';
import { CryptoPool, SharedBufferPool, sharedMemoryPool } from '../../../src/crypto/crypto-pool.js';
import { decryptMessage, encryptMessage, sealInPlace, transformHeader } from '../../../src/crypto/encryption.js';
import { sign, signMessage, verifyMessage } from '../../../src/crypto/signing.js';
import { Cipher, SigningAlgorithm } from '../../../src/protocol/smb2/constants.js';
import { CIPHERS } from './ciphers.js';

const pool = new CryptoPool(2);
after(() => pool.close());

/** Deterministic bytes (a SHA-256 counter stream), so every message differs and any mix-up shows. */
function bytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0, block = 0; i < n; block++) {
    i += createHash('sha256').update(`${seed}:${block}`).digest().copy(out, i);
  }
  return out;
}

/** An SMB2-looking message: a 64-byte header chunk in ordinary memory and a payload in shared memory. */
function message(payloadSize: number, seed: number): { header: Buffer; payload: Buffer; whole: Buffer } {
  const header = bytes(64, seed);
  header.writeUInt32BE(0xfe534d42, 0);
  const payload = sharedMemoryPool.acquire(payloadSize);
  bytes(payloadSize, seed + 1).copy(payload);
  return { header, payload, whole: Buffer.concat([header, payload]) };
}

for (const [name, cipher, keyLen, nonceLen] of CIPHERS) {
  test(`${name}: sealed in the pool = encryptMessage with the same nonce; decrypts inline`, async () => {
    const key = bytes(keyLen, 1);
    const nonce = bytes(nonceLen, 2);
    const m = message(300 * 1024 + 5, 3);
    const want = Buffer.concat(encryptMessage(cipher, key, 0x77n, m.whole, nonce));
    const header = transformHeader(cipher, 0x77n, m.whole.length, nonce);
    const headerChunk = Buffer.from(m.header);
    const sealed = await pool.seal(cipher, key, header, [headerChunk, m.payload]);
    const wire = Buffer.concat([header, ...sealed.chunks]);
    assert.deepEqual(wire, want);
    // The shared payload now holds its ciphertext; the ordinary chunk was encrypted in a copy, not touched.
    assert.deepEqual(m.payload, want.subarray(52 + 64));
    assert.deepEqual(headerChunk, m.header);
    sealed.release();
    assert.deepEqual(decryptMessage(cipher, key, wire), m.whole);
  });

  test(`${name}: encrypted inline, opened in the pool; a tampered message is refused`, async () => {
    const key = bytes(keyLen, 4);
    const m = message(200 * 1024, 5);
    const wire = Buffer.concat(encryptMessage(cipher, key, 9n, m.whole));
    const plain = await pool.open(cipher, key, wire);
    assert.deepEqual(plain, m.whole);
    sharedMemoryPool.release(plain);
    for (const at of [5, 30, 52, wire.length - 1]) {
      const bad = Buffer.from(wire);
      bad[at] = bad[at]! ^ 0x80;
      await assert.rejects(pool.open(cipher, key, bad), WireError, `flip at ${at}`);
    }
    await assert.rejects(pool.open(cipher, bytes(keyLen, 6), wire), WireError);
    // The pool still works after refusals.
    const again = await pool.open(cipher, key, wire);
    assert.deepEqual(again, m.whole);
  });
}

test('sealInPlace matches encryptMessage across chunk boundaries and empty chunks (GCM and CCM)', () => {
  for (const cipher of [Cipher.AES128_GCM, Cipher.AES128_CCM]) {
    const key = bytes(16, 7);
    const plain = bytes(150_000, 8);
    const chunks = [plain.subarray(0, 64), Buffer.alloc(0), plain.subarray(64, 70_000), plain.subarray(70_000)].map((c) => Buffer.from(c));
    const header = transformHeader(cipher, 1n, plain.length);
    const nonce = header.subarray(20, cipher === Cipher.AES128_GCM ? 32 : 31);
    const want = encryptMessage(cipher, key, 1n, plain, Buffer.from(nonce));
    sealInPlace(cipher, key, header, chunks);
    assert.deepEqual(Buffer.concat([header, ...chunks]), Buffer.concat(want));
  }
});

test('many messages in flight keep their pairing (both directions, mixed sizes, two workers)', async () => {
  const key = bytes(16, 10);
  const cipher = Cipher.AES128_GCM;
  const sizes = Array.from({ length: 40 }, (_, i) => 64 * 1024 + ((i * 37_813) % (900 * 1024)));
  const messages = sizes.map((n, i) => message(n, 100 + i));
  const sealed = await Promise.all(
    messages.map(async (m) => {
      const header = transformHeader(cipher, 5n, m.whole.length);
      const s = await pool.seal(cipher, key, header, [m.header, m.payload]);
      return Buffer.concat([header, ...s.chunks]);
    }),
  );
  sealed.forEach((wire, i) => assert.deepEqual(decryptMessage(cipher, key, wire), messages[i]!.whole, `message ${i}`));
  const opened = await Promise.all(sealed.map((wire) => pool.open(cipher, key, wire)));
  opened.forEach((plain, i) => assert.deepEqual(plain, messages[i]!.whole, `message ${i}`));
  // Every nonce differs (they were taken on this thread, one per message).
  assert.equal(new Set(sealed.map((w) => w.subarray(20, 32).toString('hex'))).size, sealed.length);
});

test('signing and verifying in the pool agree with inline signing (HMAC-SHA256, AES-CMAC, AES-GMAC)', async () => {
  for (const algorithm of [SigningAlgorithm.HMAC_SHA256, SigningAlgorithm.AES_CMAC, SigningAlgorithm.AES_GMAC]) {
    const key = bytes(16, 20);
    const m = message(500 * 1024 + 3, 21);
    m.header.fill(0, 48, 64);
    const inline = sign(algorithm, key, [m.header, m.payload]);
    assert.deepEqual(await pool.sign(algorithm, key, [m.header, m.payload]), inline);
    const signedMsg = Buffer.from(m.whole);
    signMessage(algorithm, key, signedMsg);
    assert.equal(await pool.verify(algorithm, key, [signedMsg]), true);
    assert.equal(verifyMessage(algorithm, key, signedMsg), true);
    signedMsg[100_000] = signedMsg[100_000]! ^ 1;
    assert.equal(await pool.verify(algorithm, key, [signedMsg]), false);
  }
});

test('SharedBufferPool: shared memory, reused after release, foreign buffers ignored', () => {
  const p = new SharedBufferPool(16 * 1024 * 1024);
  const a = p.acquire(100_000);
  assert.ok(a.buffer instanceof SharedArrayBuffer);
  assert.equal(a.length, 100_000);
  p.release(a);
  p.release(a);
  const b = p.acquire(120_000);
  assert.equal(b.buffer, a.buffer);
  assert.notEqual(p.acquire(120_000).buffer, a.buffer);
  p.release(Buffer.alloc(100_000));
  p.release(Buffer.from(new SharedArrayBuffer(131072)));
  assert.notEqual(p.acquire(120_000).buffer, a.buffer);
});
