import { AccessMask, ShareAccess } from '../../protocol/smb2/constants.js';
import type { Open } from './open.js';

/**
 * One per open path (per share): the opens on it, and what they share (delete-pending). Share-mode rules
 * live here (MS-FSA 2.1.5.1.2 "Check sharing access").
 */
export class FileNode {
  key: string;
  /** The store path with its on-disk spelling; updated on rename. */
  path: string;
  readonly opens = new Set<Open>();
  deletePending = false;

  constructor(key: string, path: string) {
    this.key = key;
    this.path = path;
  }

  /** True when an open with (access, share) may coexist with every current open. */
  shareAllows(access: number, share: number): boolean {
    for (const o of this.opens) {
      if (!sharingCompatible(o.grantedAccess, o.shareAccess, access, share)) return false;
    }
    return true;
  }
}

const READ_LIKE = AccessMask.FILE_READ_DATA | AccessMask.FILE_EXECUTE;
const WRITE_LIKE = AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA;

/** Only data and delete access take part in sharing; attribute-only opens never conflict. */
export function sharingCompatible(aAccess: number, aShare: number, bAccess: number, bShare: number): boolean {
  const conflicts = (access: number, share: number) =>
    ((access & READ_LIKE) !== 0 && (share & ShareAccess.READ) === 0) ||
    ((access & WRITE_LIKE) !== 0 && (share & ShareAccess.WRITE) === 0) ||
    ((access & AccessMask.DELETE) !== 0 && (share & ShareAccess.DELETE) === 0);
  return !conflicts(bAccess, aShare) && !conflicts(aAccess, bShare);
}

/** Whether an access mask touches data or delete (and so takes part in share-mode checks). */
export function isDataAccess(access: number): boolean {
  return (access & (READ_LIKE | WRITE_LIKE | AccessMask.DELETE)) !== 0;
}
