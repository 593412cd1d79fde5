import { Cipher } from '../../../src/protocol/smb2/constants.js';

/** The four SMB 3 ciphers: name, id, key length, nonce length (MS-SMB2 2.2.41). */
export const CIPHERS = [
  ['AES-128-CCM', Cipher.AES128_CCM, 16, 11],
  ['AES-128-GCM', Cipher.AES128_GCM, 16, 12],
  ['AES-256-CCM', Cipher.AES256_CCM, 32, 11],
  ['AES-256-GCM', Cipher.AES256_GCM, 32, 12],
] as const;
