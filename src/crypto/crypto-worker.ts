/**
 * A crypto pool worker (crypto-pool.ts): runs the same functions as the inline path over buffers in shared memory,
 * encrypting and decrypting them in place. It keeps no state between requests.
 */
import { parentPort } from 'node:worker_threads';
import { WireError } from '../errors.js';
import { decryptMessage, sealInPlace, TRANSFORM_HEADER_SIZE } from './encryption.js';
import { sign, verifyMessage } from './signing.js';
import type { CryptoReply, CryptoRequest } from './crypto-pool.js';

const view = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

function perform(req: CryptoRequest): Uint8Array | boolean | undefined {
  switch (req.op) {
    case 'seal': {
      const header = view(req.header);
      sealInPlace(req.cipher, req.key, header, req.chunks.map(view));
      return header.subarray(4, 20);
    }
    case 'open': {
      const transform = view(req.transform);
      const plain = transform.subarray(TRANSFORM_HEADER_SIZE);
      if (decryptMessage(req.cipher, req.key, transform, plain) !== plain) throw new Error('plaintext not written in place');
      return undefined;
    }
    case 'sign':
      return sign(req.algorithm, req.key, req.message.map(view));
    case 'verify':
      return verifyMessage(req.algorithm, req.key, req.message.map(view));
  }
}

const port = parentPort;
if (port === null) throw new Error('crypto-worker.js runs only as a worker thread');
port.on('message', ({ id, req }: { id: number; req: CryptoRequest }) => {
  let reply: CryptoReply;
  try {
    reply = { id, ok: true, value: perform(req) };
  } catch (err) {
    reply = { id, ok: false, error: (err as Error).message, wire: err instanceof WireError };
  }
  port.postMessage(reply);
});
