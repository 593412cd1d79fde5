import type { ShareDef } from './shares.js';
import type { Session } from './session.js';

/** One tree connect (MS-SMB2 3.3.1.9). */
export class Tree {
  readonly id: number;
  readonly session: Session;
  readonly share: ShareDef;
  /** Access the session has on the share (MaximalAccess in the TREE_CONNECT response). */
  readonly maximalAccess: number;
  readonly readOnly: boolean;
  /** Requests on this tree must be encrypted (Tree.EncryptData). */
  readonly encrypt: boolean;

  constructor(id: number, session: Session, share: ShareDef, maximalAccess: number, readOnly: boolean, encrypt = false) {
    this.id = id;
    this.session = session;
    this.share = share;
    this.maximalAccess = maximalAccess;
    this.readOnly = readOnly;
    this.encrypt = encrypt;
  }
}
