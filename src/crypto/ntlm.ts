import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { md4 } from './md4.js';
import { Rc4, rc4 } from './rc4.js';

export { Rc4, rc4 };

/** HMAC-MD5 over the concatenation of `parts`. */
export function hmacMd5(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('md5', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Constant-time equality for byte strings of possibly different lengths. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** NTOWFv1 = MD4(UNICODE(Passwd)): the "NT hash" (MS-NLMP 3.3.1). */
export function ntowfv1(password: string): Buffer {
  return md4(Buffer.from(password, 'utf16le'));
}

/** NTOWFv2 = HMAC_MD5(NT hash, UNICODE(Uppercase(User) + UserDom)) (MS-NLMP 3.3.2). The domain keeps its case. */
export function ntowfv2(ntHash: Uint8Array, user: string, domain: string): Buffer {
  return hmacMd5(ntHash, Buffer.from(user.toUpperCase() + domain, 'utf16le'));
}

/** LMv2 response: HMAC_MD5(ResponseKeyLM, ServerChallenge + ClientChallenge) + ClientChallenge (24 bytes). */
export function lmv2Response(responseKey: Uint8Array, serverChallenge: Uint8Array, clientChallenge: Uint8Array): Buffer {
  return Buffer.concat([hmacMd5(responseKey, serverChallenge, clientChallenge), clientChallenge]);
}

/**
 * The NTLMv2_CLIENT_CHALLENGE ("temp" in MS-NLMP 3.3.2): RespType 1, HiRespType 1, Z(6), Time, ClientChallenge,
 * Z(4), the AV pairs, Z(4).
 */
export function ntlmv2ClientBlob(time: bigint, clientChallenge: Uint8Array, targetInfo: Uint8Array): Buffer {
  if (clientChallenge.length !== 8) throw new RangeError('client challenge must be 8 bytes');
  const b = Buffer.alloc(28 + targetInfo.length + 4);
  b[0] = 1;
  b[1] = 1;
  b.writeBigUInt64LE(BigInt.asUintN(64, time), 8);
  b.set(clientChallenge, 16);
  b.set(targetInfo, 28);
  return b;
}

/** NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge + temp). */
export function ntProofStr(responseKeyNT: Uint8Array, serverChallenge: Uint8Array, blob: Uint8Array): Buffer {
  return hmacMd5(responseKeyNT, serverChallenge, blob);
}

/** SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr); for NTLMv2 it is also the KeyExchangeKey. */
export function ntlmv2SessionBaseKey(responseKeyNT: Uint8Array, proof: Uint8Array): Buffer {
  return hmacMd5(responseKeyNT, proof);
}

export interface Ntlmv2Response {
  /** NTProofStr + temp: the AUTHENTICATE message's NtChallengeResponse. */
  ntChallengeResponse: Buffer;
  ntProofStr: Buffer;
  sessionBaseKey: Buffer;
}

/** The client side of MS-NLMP 3.3.2 for NTLMv2. */
export function computeNtlmv2Response(
  responseKeyNT: Uint8Array,
  serverChallenge: Uint8Array,
  clientChallenge: Uint8Array,
  time: bigint,
  targetInfo: Uint8Array,
): Ntlmv2Response {
  const blob = ntlmv2ClientBlob(time, clientChallenge, targetInfo);
  const proof = ntProofStr(responseKeyNT, serverChallenge, blob);
  return {
    ntChallengeResponse: Buffer.concat([proof, blob]),
    ntProofStr: proof,
    sessionBaseKey: ntlmv2SessionBaseKey(responseKeyNT, proof),
  };
}

/**
 * The server side: checks an NtChallengeResponse (NTProofStr + temp) and returns the SessionBaseKey, or undefined
 * when the proof does not match. Responses shorter than an NTLMv2 one (NTLMv1 is 24 bytes) never match.
 */
export function verifyNtlmv2Response(
  responseKeyNT: Uint8Array,
  serverChallenge: Uint8Array,
  ntChallengeResponse: Uint8Array,
): Buffer | undefined {
  if (ntChallengeResponse.length < 16 + 28) return undefined;
  const proof = ntChallengeResponse.subarray(0, 16);
  const blob = ntChallengeResponse.subarray(16);
  const expected = ntProofStr(responseKeyNT, serverChallenge, blob);
  if (!bytesEqual(expected, proof)) return undefined;
  return ntlmv2SessionBaseKey(responseKeyNT, proof);
}

/** ExportedSessionKey = RC4K(KeyExchangeKey, EncryptedRandomSessionKey) when NTLMSSP_NEGOTIATE_KEY_EXCH is set. */
export function decryptExportedSessionKey(keyExchangeKey: Uint8Array, encryptedRandomSessionKey: Uint8Array): Buffer {
  return rc4(keyExchangeKey, encryptedRandomSessionKey);
}
export function encryptExportedSessionKey(keyExchangeKey: Uint8Array, exportedSessionKey: Uint8Array): Buffer {
  return rc4(keyExchangeKey, exportedSessionKey);
}

/** MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE + CHALLENGE + AUTHENTICATE-with-MIC-zeroed) (MS-NLMP 3.1.5.1.2). */
export function computeMic(
  exportedSessionKey: Uint8Array,
  negotiate: Uint8Array,
  challenge: Uint8Array,
  authenticateWithZeroMic: Uint8Array,
): Buffer {
  return hmacMd5(exportedSessionKey, negotiate, challenge, authenticateWithZeroMic);
}

export type NtlmRole = 'client' | 'server';

const SIGN_MAGIC = {
  client: 'session key to client-to-server signing key magic constant\0',
  server: 'session key to server-to-client signing key magic constant\0',
} as const;
const SEAL_MAGIC = {
  client: 'session key to client-to-server sealing key magic constant\0',
  server: 'session key to server-to-client sealing key magic constant\0',
} as const;

/** SIGNKEY with extended session security (MS-NLMP 3.4.5.2): the key the `role` signs with. */
export function signKey(exportedSessionKey: Uint8Array, role: NtlmRole): Buffer {
  return createHash('md5').update(exportedSessionKey).update(SIGN_MAGIC[role], 'latin1').digest();
}

/**
 * SEALKEY with extended session security (MS-NLMP 3.4.5.3): the key the `role` seals with. 128-bit when
 * NEGOTIATE_128, else 56-bit (7 bytes) when NEGOTIATE_56, else 40-bit (5 bytes).
 */
export function sealKey(exportedSessionKey: Uint8Array, role: NtlmRole, strength: 128 | 56 | 40 = 128): Buffer {
  const n = strength === 128 ? 16 : strength === 56 ? 7 : 5;
  const base = Buffer.from(exportedSessionKey.subarray(0, n));
  return createHash('md5').update(base).update(SEAL_MAGIC[role], 'latin1').digest();
}

/**
 * One direction of NTLM message integrity with extended session security (MS-NLMP 3.4.4.2): a signing key,
 * an RC4 sealing handle and a sequence number. SPNEGO's mechListMIC is the first MAC each side makes.
 */
export class NtlmSigner {
  private readonly key: Buffer;
  private readonly rc4: Rc4;
  private readonly keyExchange: boolean;
  seqNum = 0;

  constructor(signingKey: Uint8Array, sealingKey: Uint8Array, keyExchange: boolean) {
    this.key = Buffer.from(signingKey);
    this.rc4 = new Rc4(sealingKey);
    this.keyExchange = keyExchange;
  }

  /** NTLMSSP_MESSAGE_SIGNATURE: Version 1, Checksum (8), SeqNum (4); advances the sequence and the RC4 stream. */
  mac(message: Uint8Array): Buffer {
    const seq = Buffer.alloc(4);
    seq.writeUInt32LE(this.seqNum >>> 0);
    let checksum = hmacMd5(this.key, seq, message).subarray(0, 8);
    if (this.keyExchange) checksum = this.rc4.update(checksum);
    this.seqNum = (this.seqNum + 1) >>> 0;
    const out = Buffer.alloc(16);
    out.writeUInt32LE(1, 0);
    out.set(checksum, 4);
    out.set(seq, 12);
    return out;
  }

  verify(message: Uint8Array, signature: Uint8Array): boolean {
    return bytesEqual(this.mac(message), signature);
  }
}
