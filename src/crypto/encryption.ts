import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { WireError } from '../errors.js';
import { SMB2_TRANSFORM_MAGIC } from '../protocol/smb2/constants.js';
import { decodeTransformHeader, TRANSFORM_AAD_OFFSET, TRANSFORM_HEADER_SIZE } from '../protocol/smb2/transform.js';
import { Reader } from '../util/reader.js';
import { totalLength } from '../util/chunks.js';

export { TRANSFORM_HEADER_SIZE };
import { Cipher } from '../protocol/smb2/constants.js';

/** Flags (3.1.1) / EncryptionAlgorithm (3.0.x): both are 0x0001 for an encrypted message. */
const TRANSFORM_FLAG_ENCRYPTED = 0x0001;
const AAD_OFFSET = TRANSFORM_AAD_OFFSET;
/** Bytes per cipher update call (see encryptMessage). */
const PIECE = 32 * 1024;

interface CipherInfo {
  name: 'aes-128-ccm' | 'aes-256-ccm' | 'aes-128-gcm' | 'aes-256-gcm';
  keyLength: number;
  nonceLength: number;
  ccm: boolean;
}

/** 'AES-128-GCM' and the like, for logs; 'none' for 0. */
export function cipherName(cipher: number): string {
  return cipher === 0 ? 'none' : cipherInfo(cipher).name.toUpperCase();
}

export function cipherInfo(cipher: number): CipherInfo {
  switch (cipher) {
    case Cipher.AES128_CCM:
      return { name: 'aes-128-ccm', keyLength: 16, nonceLength: 11, ccm: true };
    case Cipher.AES128_GCM:
      return { name: 'aes-128-gcm', keyLength: 16, nonceLength: 12, ccm: false };
    case Cipher.AES256_CCM:
      return { name: 'aes-256-ccm', keyLength: 32, nonceLength: 11, ccm: true };
    case Cipher.AES256_GCM:
      return { name: 'aes-256-gcm', keyLength: 32, nonceLength: 12, ccm: false };
    default:
      throw new RangeError(`unknown cipher ${cipher}`);
  }
}

// Nonces never repeat within this process, so never within any key: a random per-process prefix, then a 64-bit
// counter that only grows (MS-SMB2 2.2.41: a nonce MUST NOT be reused within a session).
const noncePrefix = randomBytes(4);
let nonceCounter = 0n;

/** The next nonce for `cipher`: 11 bytes (CCM: 3 random + 8 counter) or 12 bytes (GCM: 4 random + 8 counter). */
export function nextNonce(cipher: number): Buffer {
  const { nonceLength } = cipherInfo(cipher);
  const n = Buffer.alloc(nonceLength);
  noncePrefix.copy(n, 0, 0, nonceLength - 8);
  n.writeBigUInt64LE(nonceCounter, nonceLength - 8);
  nonceCounter = BigInt.asUintN(64, nonceCounter + 1n);
  return n;
}

function checkKey(info: CipherInfo, key: Uint8Array): void {
  if (key.length !== info.keyLength) throw new RangeError(`${info.name} needs a ${info.keyLength}-byte key`);
}

/**
 * The TRANSFORM header (MS-SMB2 2.2.41) for `size` plaintext bytes, with the next nonce (or `nonce`, for tests) and
 * the Signature still zero: sealing writes the tag there. Nonces are taken here, on the thread that owns the keys.
 */
export function transformHeader(cipher: number, sessionId: bigint, size: number, nonce?: Buffer): Buffer {
  const info = cipherInfo(cipher);
  const n = nonce ?? nextNonce(cipher);
  if (n.length !== info.nonceLength) throw new RangeError(`${info.name} needs a ${info.nonceLength}-byte nonce`);
  const header = Buffer.alloc(TRANSFORM_HEADER_SIZE);
  header.writeUInt32BE(SMB2_TRANSFORM_MAGIC, 0);
  n.copy(header, 20);
  header.writeUInt32LE(size, 36);
  header.writeUInt16LE(TRANSFORM_FLAG_ENCRYPTED, 42);
  header.writeBigUInt64LE(BigInt.asUintN(64, sessionId), 44);
  return header;
}

/**
 * Encrypts the plaintext chunks under `header` (from transformHeader): yields the ciphertext in order, then writes
 * the tag into the header's Signature. The AAD is the header from Nonce to the end (bytes 20..52).
 */
function* sealPieces(cipher: number, key: Uint8Array, header: Buffer, chunks: readonly Buffer[]): Generator<Buffer> {
  const info = cipherInfo(cipher);
  checkKey(info, key);
  const size = header.readUInt32LE(36);
  const nonce = header.subarray(20, 20 + info.nonceLength);
  const aad = header.subarray(AAD_OFFSET, TRANSFORM_HEADER_SIZE);
  if (info.ccm) {
    // node's CCM takes the whole plaintext in one update call.
    const c = createCipheriv(info.name as 'aes-128-ccm', key, nonce, { authTagLength: 16 });
    c.setAAD(aad, { plaintextLength: size });
    yield c.update(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks as Buffer[], size));
    c.final();
    c.getAuthTag().copy(header, 4);
    return;
  }
  const c = createCipheriv(info.name as 'aes-128-gcm', key, nonce, { authTagLength: 16 });
  c.setAAD(aad);
  for (const p of chunks) {
    // Small pieces: their outputs come from reused heap memory, where one multi-MiB output would fault in
    // fresh pages (far slower than the cipher on these machines).
    for (let off = 0; off < p.length; off += PIECE) yield c.update(p.subarray(off, off + PIECE));
  }
  c.final();
  c.getAuthTag().copy(header, 4);
}

/**
 * Encrypts one SMB2 message (or a compound chain) into [transform header, ciphertext...]; the tag goes into
 * Signature. `nonce` is for tests: leave it out in real use.
 */
export function encryptMessage(
  cipher: number,
  key: Uint8Array,
  sessionId: bigint,
  plaintext: Buffer | readonly Buffer[],
  nonce?: Buffer,
): Buffer[] {
  const chunks = Buffer.isBuffer(plaintext) ? [plaintext] : plaintext;
  const header = transformHeader(cipher, sessionId, totalLength(chunks), nonce);
  return [header, ...sealPieces(cipher, key, header, chunks)];
}

/**
 * Encrypts the chunks under `header` (from transformHeader) in place: each chunk's bytes are replaced by their
 * ciphertext, and the tag goes into the header's Signature. Writing back over the bytes just read keeps the work in
 * cache, where a separate output buffer would not be.
 */
export function sealInPlace(cipher: number, key: Uint8Array, header: Buffer, chunks: readonly Buffer[]): void {
  if (totalLength(chunks) !== header.readUInt32LE(36)) throw new RangeError('chunks differ from the message size');
  let chunk = 0;
  let at = 0;
  for (const piece of sealPieces(cipher, key, header, chunks)) {
    // Pieces follow the plaintext in order and in total length, though not chunk by chunk (CCM is one piece).
    for (let from = 0; from < piece.length; ) {
      while (at === chunks[chunk]!.length) {
        chunk++;
        at = 0;
      }
      const n = piece.copy(chunks[chunk]!, at, from);
      from += n;
      at += n;
    }
  }
}

/**
 * Decrypts and authenticates a TRANSFORM message and returns the plaintext SMB2 message(s); throws WireError for
 * a malformed header, a size mismatch, or an authentication failure. When `out` is given (exactly the ciphertext's
 * length, e.g. from a buffer pool) the plaintext is written there: GCM in pieces, so no multi-MiB output is
 * allocated fresh; CCM needs one call and its output is copied.
 */
export function decryptMessage(cipher: number, key: Uint8Array, transform: Buffer, out?: Buffer): Buffer {
  const info = cipherInfo(cipher);
  checkKey(info, key);
  if (transform.length < TRANSFORM_HEADER_SIZE) throw new WireError('transform header truncated');
  const h = decodeTransformHeader(new Reader(transform));
  const ciphertext = transform.subarray(TRANSFORM_HEADER_SIZE);
  // MS-SMB2 3.3.5.2.1.1: OriginalMessageSize must match what follows; Flags must say "encrypted".
  if (h.originalMessageSize !== ciphertext.length) throw new WireError('transform OriginalMessageSize mismatch');
  if (h.flags !== TRANSFORM_FLAG_ENCRYPTED) throw new WireError('transform Flags/EncryptionAlgorithm invalid');
  const nonce = h.nonce.subarray(0, info.nonceLength);
  const aad = transform.subarray(AAD_OFFSET, TRANSFORM_HEADER_SIZE);
  try {
    if (info.ccm) {
      const d = createDecipheriv(info.name as 'aes-128-ccm', key, nonce, { authTagLength: 16 });
      d.setAuthTag(h.signature);
      d.setAAD(aad, { plaintextLength: ciphertext.length });
      const plain = d.update(ciphertext);
      d.final();
      if (out === undefined || out.length !== ciphertext.length) return plain;
      plain.copy(out);
      return out;
    }
    const d = createDecipheriv(info.name as 'aes-128-gcm', key, nonce, { authTagLength: 16 });
    d.setAuthTag(h.signature);
    d.setAAD(aad);
    if (out === undefined || out.length !== ciphertext.length) {
      const plain = d.update(ciphertext);
      d.final();
      return plain;
    }
    let pos = 0;
    for (let off = 0; off < ciphertext.length; off += PIECE) pos += d.update(ciphertext.subarray(off, off + PIECE)).copy(out, pos);
    d.final();
    return out;
  } catch {
    throw new WireError('decryption failed: bad key or tampered message');
  }
}
