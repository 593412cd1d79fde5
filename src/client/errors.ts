import { SmbError } from '../errors.js';
import { statusErrno, statusName } from '../protocol/nt-status.js';

/** The SmbError for a failed status, carrying the UNC path it concerns (`\\host\share\a.txt`). */
export function smbError(status: number, path?: string): SmbError {
  return new SmbError(status >>> 0, statusName(status), statusErrno(status), path);
}

/** An SmbError for a condition found by the client itself (no status from the server). */
export function clientError(status: number, code: string, path?: string): SmbError {
  return new SmbError(status >>> 0, statusName(status), code, path);
}
