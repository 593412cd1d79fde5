import { createHash } from 'node:crypto';

/** The initial Connection.PreauthIntegrityHashValue: 64 zero bytes (MS-SMB2 3.2.5.2 / 3.3.5.4). */
export const PREAUTH_INITIAL: Buffer = Buffer.alloc(64);

/** Returns a fresh 64-byte zero value, for callers that want their own copy. */
export function preauthInitial(): Buffer {
  return Buffer.alloc(64);
}

/** SHA-512(previous || message): one step of the SMB 3.1.1 preauth integrity chain. Chunks are hashed in order. */
export function preauthUpdate(prev: Uint8Array, message: Buffer | readonly Buffer[]): Buffer {
  const h = createHash('sha512').update(prev);
  if (Buffer.isBuffer(message)) h.update(message);
  else for (const c of message) h.update(c);
  return h.digest();
}
