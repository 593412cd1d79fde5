import { createHmac } from 'node:crypto';
import { Cipher, Dialect } from '../protocol/smb2/constants.js';

/**
 * SP800-108 KDF in counter mode with HMAC-SHA256, r = 32 (MS-SMB2 3.1.4.2):
 * K(i) = HMAC-SHA256(Ki, [i]_32be || Label || 0x00 || Context || [L]_32be). Label and Context are used as given
 * (the SMB labels carry their own terminating NUL: use `cstr`).
 */
export function kdf(key: Uint8Array, label: Uint8Array, context: Uint8Array, bits: 128 | 256 = 128): Buffer {
  const bytes = bits / 8;
  const out: Buffer[] = [];
  const l = Buffer.alloc(4);
  l.writeUInt32BE(bits);
  for (let i = 1, have = 0; have < bytes; i++) {
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(i);
    const block = createHmac('sha256', key).update(counter).update(label).update(Buffer.of(0)).update(context).update(l).digest();
    out.push(block);
    have += block.length;
  }
  return Buffer.concat(out).subarray(0, bytes);
}

/** An ASCII string with its terminating NUL, as MS-SMB2 3.2.5.3.1 writes labels ("SMB2AESCMAC\0"). */
export function cstr(s: string): Buffer {
  return Buffer.from(s + '\0', 'latin1');
}

export interface SmbKeys {
  /** Session.SigningKey (3.x) or the session key itself (2.0.2/2.1). 16 bytes. */
  signingKey: Buffer;
  /**
   * The key for messages the client sends and the server receives ("ServerIn" / "SMBC2SCipherKey").
   * MS-SMB2 calls it the client's Session.EncryptionKey and the server's Session.DecryptionKey.
   */
  clientToServerKey: Buffer;
  /**
   * The key for messages the server sends and the client receives ("ServerOut" / "SMBS2CCipherKey").
   * MS-SMB2 calls it the server's Session.EncryptionKey and the client's Session.DecryptionKey.
   */
  serverToClientKey: Buffer;
  /** Same as clientToServerKey: the client's EncryptionKey (client's point of view). */
  encryptionKey: Buffer;
  /** Same as serverToClientKey: the client's DecryptionKey (client's point of view). */
  decryptionKey: Buffer;
  /** Session.ApplicationKey (3.x), or the session key (2.x). */
  applicationKey: Buffer;
}

function isAes256(cipher: number | undefined): boolean {
  return cipher === Cipher.AES256_CCM || cipher === Cipher.AES256_GCM;
}

/** Session.SessionKey: the first 16 bytes of the GSS key, right-padded with zeros (MS-SMB2 3.3.1.8). */
export function smbSessionKey(cryptographicKey: Uint8Array): Buffer {
  const k = Buffer.alloc(16);
  k.set(cryptographicKey.subarray(0, 16));
  return k;
}

/**
 * The per-session keys of MS-SMB2 3.2.5.3.1 / 3.3.5.5.3. `sessionKey` is the full key from authentication
 * (Session.FullSessionKey); 3.1.1 needs the session's preauth integrity hash; `cipher` selects 256-bit
 * encryption keys (derived from the full key with L = 256) for AES-256-CCM/GCM.
 */
export function deriveSmbKeys(
  dialect: number,
  sessionKey: Uint8Array,
  preauthHash: Uint8Array | undefined,
  cipher?: number,
): SmbKeys {
  const key16 = smbSessionKey(sessionKey);
  if (dialect < Dialect.SMB300) {
    return {
      signingKey: key16,
      clientToServerKey: Buffer.alloc(0),
      serverToClientKey: Buffer.alloc(0),
      encryptionKey: Buffer.alloc(0),
      decryptionKey: Buffer.alloc(0),
      applicationKey: key16,
    };
  }
  const wide = isAes256(cipher);
  const encKeyInput = wide ? Buffer.from(sessionKey) : key16;
  const encBits = wide ? 256 : 128;
  let signingKey: Buffer;
  let c2s: Buffer;
  let s2c: Buffer;
  let applicationKey: Buffer;
  if (dialect >= Dialect.SMB311) {
    if (preauthHash === undefined || preauthHash.length !== 64) {
      throw new RangeError('SMB 3.1.1 keys need the 64-byte preauth integrity hash');
    }
    signingKey = kdf(key16, cstr('SMBSigningKey'), preauthHash);
    c2s = kdf(encKeyInput, cstr('SMBC2SCipherKey'), preauthHash, encBits);
    s2c = kdf(encKeyInput, cstr('SMBS2CCipherKey'), preauthHash, encBits);
    applicationKey = kdf(key16, cstr('SMBAppKey'), preauthHash);
  } else {
    signingKey = kdf(key16, cstr('SMB2AESCMAC'), cstr('SmbSign'));
    c2s = kdf(key16, cstr('SMB2AESCCM'), cstr('ServerIn '));
    s2c = kdf(key16, cstr('SMB2AESCCM'), cstr('ServerOut'));
    applicationKey = kdf(key16, cstr('SMB2APP'), cstr('SmbRpc'));
  }
  return {
    signingKey,
    clientToServerKey: c2s,
    serverToClientKey: s2c,
    encryptionKey: c2s,
    decryptionKey: s2c,
    applicationKey,
  };
}
