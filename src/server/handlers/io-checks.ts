import { Status } from '../../protocol/nt-status.js';
import type { RequestContext } from '../context.js';

/**
 * MS-SMB2 3.3.5.2.5: with multi-credit dialects a request moving `payload` bytes must carry a CreditCharge of at
 * least ceil(payload / 64 KiB). Returns a status when it does not.
 */
export function checkCreditCharge(ctx: RequestContext, payload: number): number | undefined {
  if (!ctx.conn.traits?.multiCredit) return payload > 65536 ? Status.INVALID_PARAMETER : undefined;
  const needed = Math.max(1, Math.ceil(payload / 65536));
  return Math.max(1, ctx.header.creditCharge) < needed ? Status.INVALID_PARAMETER : undefined;
}

/** Largest file offset Windows accepts (MS-FSA: offsets are signed 64-bit). */
export const MAX_FILE_OFFSET = 0x7fffffffffffffffn;

/**
 * Largest file size served: NTFS's limit (16 TiB - 64 KiB). A write ending beyond it is STATUS_INVALID_PARAMETER,
 * as Windows answers; it also keeps every file position exact as a JavaScript number.
 */
export const MAX_FILE_SIZE = 0xfffffff0000n;
