import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { Command, HeaderFlags, SigningAlgorithm } from '../protocol/smb2/constants.js';
import { totalLength } from '../util/chunks.js';

/** Offset and length of the Signature field in the SMB2 header (MS-SMB2 2.2.1). */
export const SIGNATURE_OFFSET = 48;
export const SIGNATURE_LENGTH = 16;
const HEADER_LENGTH = 64;

export type MessageChunks = Buffer | readonly Buffer[];

function chunksOf(message: MessageChunks): readonly Buffer[] {
  return Buffer.isBuffer(message) ? [message] : message;
}

/** The 64-byte header: a view of the first chunk when it holds it, else a copy gathered from the chunks. */
function headerOf(chunks: readonly Buffer[]): Buffer {
  const first = chunks[0];
  if (first !== undefined && first.length >= HEADER_LENGTH) return first.subarray(0, HEADER_LENGTH);
  const all = Buffer.concat(chunks as Buffer[]);
  if (all.length < HEADER_LENGTH) throw new RangeError('message shorter than an SMB2 header');
  return all.subarray(0, HEADER_LENGTH);
}

// ---- AES-CMAC (RFC 4493) ----

const ZERO16 = Buffer.alloc(16);
/** Bytes per CBC update call in aesCmac. */
const CMAC_PIECE = 64 * 1024;

function dbl(b: Buffer): Buffer {
  const out = Buffer.alloc(16);
  let carry = 0;
  for (let i = 15; i >= 0; i--) {
    const v = b[i]!;
    out[i] = ((v << 1) | carry) & 0xff;
    carry = v >> 7;
  }
  if ((b[0]! & 0x80) !== 0) out[15] = out[15]! ^ 0x87;
  return out;
}

function aesBlock(key: Uint8Array, block: Uint8Array): Buffer {
  const c = createCipheriv(key.length === 32 ? 'aes-256-ecb' : 'aes-128-ecb', key, null).setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

/** RFC 4493 subkeys K1, K2. */
export function cmacSubkeys(key: Uint8Array): { k1: Buffer; k2: Buffer } {
  const l = aesBlock(key, ZERO16);
  const k1 = dbl(l);
  return { k1, k2: dbl(k1) };
}

/** AES-CMAC over the concatenation of the chunks, without concatenating them (RFC 4493 2.4). */
export function aesCmac(key: Uint8Array, message: MessageChunks): Buffer {
  const chunks = chunksOf(message);
  const total = totalLength(chunks);
  const { k1, k2 } = cmacSubkeys(key);
  // Everything but the last block (1..16 bytes, or the empty one) goes through CBC-MAC as is.
  const lastStart = total === 0 ? 0 : Math.floor((total - 1) / 16) * 16;
  const cbc = createCipheriv(key.length === 32 ? 'aes-256-cbc' : 'aes-128-cbc', key, ZERO16).setAutoPadding(false);
  const last = Buffer.alloc(16);
  let pos = 0;
  for (const c of chunks) {
    const end = pos + c.length;
    if (pos < lastStart) {
      // In pieces: CBC returns as much output as it takes, and small outputs reuse heap memory.
      const macEnd = Math.min(c.length, lastStart - pos);
      for (let off = 0; off < macEnd; off += CMAC_PIECE) cbc.update(c.subarray(off, Math.min(macEnd, off + CMAC_PIECE)));
    }
    if (end > lastStart) {
      const from = Math.max(0, lastStart - pos);
      c.copy(last, pos + from - lastStart, from);
    }
    pos = end;
  }
  const lastLen = total - lastStart;
  let sub = k1;
  if (lastLen < 16 || total === 0) {
    last[lastLen] = 0x80;
    sub = k2;
  }
  for (let i = 0; i < 16; i++) last[i] = last[i]! ^ sub[i]!;
  const out = cbc.update(last);
  return out.subarray(out.length - 16);
}

// ---- the three SMB2 signing algorithms ----

/**
 * The AES-GMAC nonce of MS-SMB2 3.1.4.1: MessageId (8 bytes), then a 32-bit little-endian word whose bit 0 says
 * the sender is the server and bit 1 that the message is an SMB2 CANCEL request.
 */
export function gmacNonce(messageId: bigint, fromServer: boolean, isCancel: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(BigInt.asUintN(64, messageId), 0);
  n.writeUInt32LE((fromServer ? 1 : 0) | (isCancel ? 2 : 0), 8);
  return n;
}

export interface SignOptions {
  /** For AES-GMAC: who sends the message. Defaults to the header's SERVER_TO_REDIR flag. */
  fromServer?: boolean;
}

/**
 * The 16-byte signature of a message whose signature field is already zero. `algorithm` is a
 * SigningAlgorithm value: HMAC_SHA256 (2.0.2/2.1, first 16 bytes of the HMAC), AES_CMAC (3.x), AES_GMAC (3.1.1).
 * The message may be given as chunks (header first); they are never concatenated for HMAC/CMAC/GMAC.
 */
export function sign(algorithm: number, key: Uint8Array, message: MessageChunks, opts: SignOptions = {}): Buffer {
  const chunks = chunksOf(message);
  switch (algorithm) {
    case SigningAlgorithm.HMAC_SHA256: {
      const h = createHmac('sha256', key);
      for (const c of chunks) h.update(c);
      return h.digest().subarray(0, 16);
    }
    case SigningAlgorithm.AES_CMAC:
      return aesCmac(key, chunks);
    case SigningAlgorithm.AES_GMAC: {
      const header = headerOf(chunks);
      const flags = header.readUInt32LE(16);
      const command = header.readUInt16LE(12);
      const messageId = header.readBigUInt64LE(24);
      const fromServer = opts.fromServer ?? (flags & HeaderFlags.SERVER_TO_REDIR) !== 0;
      const nonce = gmacNonce(messageId, fromServer, command === Command.CANCEL && !fromServer);
      const g = createCipheriv(key.length === 32 ? 'aes-256-gcm' : 'aes-128-gcm', key, nonce, { authTagLength: 16 });
      for (const c of chunks) if (c.length > 0) g.setAAD(c);
      g.final();
      return g.getAuthTag();
    }
    default:
      throw new RangeError(`unknown signing algorithm ${algorithm}`);
  }
}

/**
 * Zeroes the header's signature, signs, and writes the signature into the header in place (MS-SMB2 3.1.4.1).
 * The first chunk must hold the whole 64-byte header.
 */
export function signMessage(algorithm: number, key: Uint8Array, message: MessageChunks, opts: SignOptions = {}): Buffer {
  const chunks = chunksOf(message);
  const first = chunks[0];
  if (first === undefined || first.length < HEADER_LENGTH) throw new RangeError('first chunk must hold the SMB2 header');
  first.fill(0, SIGNATURE_OFFSET, SIGNATURE_OFFSET + SIGNATURE_LENGTH);
  const sig = sign(algorithm, key, chunks, opts);
  sig.copy(first, SIGNATURE_OFFSET);
  return sig;
}

/**
 * Checks a received message's signature (MS-SMB2 3.1.5.1) without modifying the message: the header is copied with
 * its signature zeroed. Returns false for a short message.
 */
export function verifyMessage(algorithm: number, key: Uint8Array, message: MessageChunks, opts: SignOptions = {}): boolean {
  const chunks = chunksOf(message);
  if (totalLength(chunks) < HEADER_LENGTH) return false;
  const first = chunks[0]!;
  let header: Buffer;
  let rest: Buffer[];
  if (first.length >= HEADER_LENGTH) {
    header = Buffer.from(first.subarray(0, HEADER_LENGTH));
    rest = [first.subarray(HEADER_LENGTH), ...chunks.slice(1)];
  } else {
    const all = Buffer.concat(chunks as Buffer[]);
    header = Buffer.from(all.subarray(0, HEADER_LENGTH));
    rest = [all.subarray(HEADER_LENGTH)];
  }
  const received = Buffer.from(header.subarray(SIGNATURE_OFFSET, SIGNATURE_OFFSET + SIGNATURE_LENGTH));
  header.fill(0, SIGNATURE_OFFSET, SIGNATURE_OFFSET + SIGNATURE_LENGTH);
  const expected = sign(algorithm, key, [header, ...rest], opts);
  return timingSafeEqual(expected, received);
}
