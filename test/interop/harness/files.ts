/** Test payloads: files of exact sizes with non-repeating content, and streaming hashes. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

const BLOCK = 1024 * 1024;

/**
 * Write `size` bytes to `path`: one random 1 MiB block reused, with each block's first
 * 16 bytes replaced by a block counter and a per-file nonce, so no two blocks (and no
 * two files) are equal and a misplaced or repeated block changes the hash.
 */
export async function makeFile(path: string, size: number): Promise<void> {
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`bad size ${size}`);
  const base = randomBytes(Math.min(BLOCK, Math.max(size, 1)));
  const nonce = randomBytes(8);
  const fh = await open(path, 'w');
  try {
    let written = 0;
    let index = 0n;
    while (written < size) {
      const n = Math.min(base.length, size - written);
      const block = Buffer.from(base.subarray(0, n));
      if (n >= 16) {
        block.writeBigUInt64LE(index, 0);
        nonce.copy(block, 8);
      }
      let off = 0;
      while (off < n) {
        const { bytesWritten } = await fh.write(block, off, n - off, written + off);
        off += bytesWritten;
      }
      written += n;
      index++;
    }
  } finally {
    await fh.close();
  }
}

/** SHA-256 of a file, hex, read as a stream. */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    const s = createReadStream(path, { highWaterMark: BLOCK });
    s.on('data', (chunk) => h.update(chunk));
    s.on('error', reject);
    s.on('end', () => resolve(h.digest('hex')));
  });
}

export const KiB = 1024;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
