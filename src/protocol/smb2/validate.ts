import { WireError } from '../../errors.js';
import { Status } from '../nt-status.js';
import { Command, SMB2_HEADER_SIZE } from './constants.js';

/**
 * StructureSize of every SMB2 request body (MS-SMB2 2.2.x), checked before any handler runs
 * (MS-SMB2 3.3.5.2.6). OPLOCK_BREAK has two valid sizes (24 oplock, 36 lease acknowledgment).
 */
export const REQUEST_STRUCTURE_SIZE: Readonly<Record<number, readonly number[]>> = {
  [Command.NEGOTIATE]: [36],
  [Command.SESSION_SETUP]: [25],
  [Command.LOGOFF]: [4],
  [Command.TREE_CONNECT]: [9],
  [Command.TREE_DISCONNECT]: [4],
  [Command.CREATE]: [57],
  [Command.CLOSE]: [24],
  [Command.FLUSH]: [24],
  [Command.READ]: [49],
  [Command.WRITE]: [49],
  [Command.LOCK]: [48],
  [Command.IOCTL]: [57],
  [Command.CANCEL]: [4],
  [Command.ECHO]: [4],
  [Command.QUERY_DIRECTORY]: [33],
  [Command.CHANGE_NOTIFY]: [32],
  [Command.QUERY_INFO]: [41],
  [Command.SET_INFO]: [33],
  [Command.OPLOCK_BREAK]: [24, 36],
};

/** StructureSize of every SMB2 response body; ERROR responses (9) are accepted for any command. */
export const RESPONSE_STRUCTURE_SIZE: Readonly<Record<number, readonly number[]>> = {
  [Command.NEGOTIATE]: [65],
  [Command.SESSION_SETUP]: [9],
  [Command.LOGOFF]: [4],
  [Command.TREE_CONNECT]: [16],
  [Command.TREE_DISCONNECT]: [4],
  [Command.CREATE]: [89],
  [Command.CLOSE]: [60],
  [Command.FLUSH]: [4],
  [Command.READ]: [17],
  [Command.WRITE]: [17],
  [Command.LOCK]: [4],
  [Command.IOCTL]: [49],
  [Command.ECHO]: [4],
  [Command.QUERY_DIRECTORY]: [9],
  [Command.CHANGE_NOTIFY]: [9],
  [Command.QUERY_INFO]: [9],
  [Command.SET_INFO]: [2],
  [Command.OPLOCK_BREAK]: [24, 36, 44],
};

export const ERROR_STRUCTURE_SIZE = 9;

/**
 * The fixed body length a StructureSize implies: an odd size counts one byte of the variable Buffer, which a
 * sender may omit when that buffer is empty, so the fixed part is size & ~1 (MS-SMB2 2.2).
 */
export function fixedBodyLength(structureSize: number): number {
  return structureSize & ~1;
}

/**
 * Checks the body of one message [start, end) of `frame` (the header at `start`) against the command's
 * StructureSize and fixed length. Throws WireError(INVALID_PARAMETER) on a violation; unknown commands are
 * left to the dispatcher (STATUS_INVALID_PARAMETER / NOT_SUPPORTED there).
 */
export function validateRequestBody(frame: Buffer, start: number, end: number, command: number): void {
  const sizes = REQUEST_STRUCTURE_SIZE[command];
  if (sizes === undefined) return;
  const body = start + SMB2_HEADER_SIZE;
  if (body + 2 > end) throw new WireError('message has no body', Status.INVALID_PARAMETER);
  const size = frame.readUInt16LE(body);
  if (!sizes.includes(size)) {
    throw new WireError(`StructureSize ${size} invalid for command ${command}`, Status.INVALID_PARAMETER);
  }
  if (body + fixedBodyLength(size) > end) throw new WireError('body shorter than its StructureSize', Status.INVALID_PARAMETER);
}

/** The same for a response (client side); an ERROR body is valid for any command when the status is an error. */
export function validateResponseBody(frame: Buffer, start: number, end: number, command: number, isError: boolean): void {
  const body = start + SMB2_HEADER_SIZE;
  if (body + 2 > end) throw new WireError('message has no body', Status.INVALID_PARAMETER);
  const size = frame.readUInt16LE(body);
  const sizes = RESPONSE_STRUCTURE_SIZE[command];
  const ok = (isError && size === ERROR_STRUCTURE_SIZE) || (sizes !== undefined && sizes.includes(size));
  if (!ok) throw new WireError(`response StructureSize ${size} invalid for command ${command}`, Status.INVALID_PARAMETER);
  if (body + fixedBodyLength(size) > end) throw new WireError('body shorter than its StructureSize', Status.INVALID_PARAMETER);
}
