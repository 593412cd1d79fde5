import { Status } from '../../protocol/nt-status.js';
import { AccessMask, HeaderFlags } from '../../protocol/smb2/constants.js';
import { sharedMemoryPool } from '../../crypto/crypto-pool.js';
import { decodeReadRequest, encodeReadResponseHeader } from '../../protocol/smb2/commands/read.js';
import type { Outcome, RequestContext } from '../context.js';
import { readPool } from '../../util/buffer-pool.js';
import { storeErrorToStatus } from '../status-map.js';
import { pipeRead } from '../ipc/smb-pipe.js';
import { checkCreditCharge, MAX_FILE_OFFSET, MAX_FILE_SIZE } from './io-checks.js';

/** READ (MS-SMB2 3.3.5.12): the data goes out as its own chunk, read straight into a fresh buffer. */
export async function handleRead(ctx: RequestContext): Promise<Outcome> {
  const req = decodeReadRequest(ctx.r);
  const open = ctx.open(req.fileId);
  if (!open) return Status.FILE_CLOSED;
  if (open.pipe) return pipeRead(ctx, open.pipe, req);
  if (open.isDirectory || !open.handle) return Status.INVALID_DEVICE_REQUEST;
  if (!(open.grantedAccess & (AccessMask.FILE_READ_DATA | AccessMask.FILE_EXECUTE))) return Status.ACCESS_DENIED;
  if (req.length > ctx.conn.maxReadSize) return Status.INVALID_PARAMETER;
  const charge = checkCreditCharge(ctx, req.length);
  if (charge !== undefined) return charge;
  if (req.offset > MAX_FILE_OFFSET || req.offset + BigInt(req.length) > MAX_FILE_OFFSET) return Status.INVALID_PARAMETER;
  // MS-FSA 2.1.5.2: reading at or past the end is END_OF_FILE; no file reaches past MAX_FILE_SIZE.
  if (req.length > 0 && req.offset >= MAX_FILE_SIZE) return Status.END_OF_FILE;
  // MS-FSA 2.1.5.2: a read may not touch a range another open locked exclusively (a zero-length read checks none).
  if (req.length > 0 && open.node.existingLocks(open)?.ioConflicts(open, req.offset, BigInt(req.length), false)) {
    return Status.FILE_LOCK_CONFLICT;
  }
  // A reply that goes out encrypted or signed is read into memory the crypto workers see without a copy.
  const pool = ctx.encrypted || (ctx.header.flags & HeaderFlags.SIGNED) !== 0 ? sharedMemoryPool : readPool;
  const buf = pool.acquire(req.length);
  let n: number;
  try {
    n = req.length === 0 ? 0 : await readFully(open.handle, buf, Number(req.offset));
  } catch (err) {
    pool.release(buf);
    return storeErrorToStatus(err);
  }
  if ((n === 0 && req.length > 0) || n < req.minimumCount) {
    pool.release(buf);
    return Status.END_OF_FILE;
  }
  open.currentByteOffset = req.offset + BigInt(n);
  const data = buf.subarray(0, n);
  return {
    body: (w) => encodeReadResponseHeader(w, { dataLength: n, dataRemaining: 0 }),
    tail: data,
    onSent: () => pool.release(buf),
  };
}

/** Reads until `buf` is full or the file ends (a store may return short reads). */
async function readFully(handle: { read(b: Buffer, o: number, l: number, p: number): Promise<number> }, buf: Buffer, position: number): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const n = await handle.read(buf, got, buf.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
