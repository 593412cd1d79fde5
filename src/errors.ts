/** Malformed bytes from the wire: a length, offset or value that breaks the structure's rules. */
export class WireError extends Error {
  override readonly name = 'WireError';
  /** NTSTATUS to answer with, when the spec names one (else the caller picks, usually INVALID_PARAMETER). */
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

/** An SMB operation that failed with an NTSTATUS. `code` is Node-like (ENOENT, EACCES, ...) where one exists. */
export class SmbError extends Error {
  override readonly name = 'SmbError';
  readonly status: number;
  readonly statusName: string;
  readonly code: string;
  readonly path: string | undefined;
  constructor(status: number, statusName: string, code: string, path?: string) {
    super(path === undefined ? statusName : `${statusName}: ${path}`);
    this.status = status;
    this.statusName = statusName;
    this.code = code;
    this.path = path;
  }
}

/** A connection that closed, timed out or could not be made. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  readonly code: string;
  constructor(message: string, code = 'ECONNRESET') {
    super(message);
    this.code = code;
  }
}
