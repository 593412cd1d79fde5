/** smbkit's public API: the SMB 2/3 client, the server, its stores, and the error classes. */
export { connect, parseSmbUrl, Client } from './client/client.js';
export type { ConnectOptions, ClientInfo, ShareEntry } from './client/client.js';
export { RpcError } from './client/rpc.js';
export { Share, smbPath } from './client/share.js';
export type { OpenFlags, ReaddirOptions, RmOptions } from './client/share.js';
export { FileHandle } from './client/file-handle.js';
export type { TransferOptions } from './client/transfer.js';
export { SmbStats, SmbDirent } from './client/stats.js';
export type { CipherName, DialectName, Protection } from './client/session.js';
export { SmbError, TransportError, WireError } from './errors.js';
export { Status, statusName, statusErrno } from './protocol/nt-status.js';
export { SmbServer } from './server/server.js';
export type { ServerConfig } from './server/server.js';
export type { DiscoveryOptions } from './server/discovery/index.js';
export { MemoryStore } from './store/memory.js';
export { LocalStore } from './store/local.js';
