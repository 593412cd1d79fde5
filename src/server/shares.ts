import type { FileStore } from '../store/types.js';
import type { CidrRange } from '../util/cidr.js';
import type { Spooler } from './print/spooler.js';

/** A share as the server serves it: its store (or spool) and who may use it. */
export interface ShareDef {
  readonly name: string;
  readonly kind: 'disk' | 'ipc' | 'printer';
  /** The files of a disk share. */
  readonly store: FileStore | undefined;
  /** The print jobs of a printer share. */
  readonly spooler: Spooler | undefined;
  readonly readOnly: boolean;
  /** Guest sessions may connect. */
  readonly guest: boolean;
  /** Lower-cased user names allowed; undefined = every authenticated user. */
  readonly users: ReadonlySet<string> | undefined;
  readonly comment: string;
  /** Every request must arrive encrypted (MS-SMB2 Share.EncryptData). */
  readonly encrypt: boolean;
  /** Addresses that may connect to this share (undefined = any); deny wins. */
  readonly hostsAllow: readonly CidrRange[] | undefined;
  readonly hostsDeny: readonly CidrRange[];
  /** Share.IsCA: opens may be persistent (their state is journalled and outlives a restart of the server). */
  readonly continuousAvailability: boolean;
}

export function ipcShare(): ShareDef {
  return { name: 'IPC$', kind: 'ipc', store: undefined, spooler: undefined, readOnly: true, guest: true, users: undefined, comment: 'IPC Service', encrypt: false, hostsAllow: undefined, hostsDeny: [], continuousAvailability: false };
}
