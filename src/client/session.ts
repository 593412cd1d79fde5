/**
 * Negotiate, session setup and tree connect on a client Connection (MS-SMB2 3.2.4.2, 3.2.5.2-3.2.5.5), and the
 * Session that adds its id, signing and encryption to every request it sends.
 */
import { randomBytes } from 'node:crypto';
import { ClientAuthenticator } from '../auth/spnego-client.js';
import { deriveSmbKeys } from '../crypto/kdf.js';
import { preauthInitial, preauthUpdate } from '../crypto/preauth.js';
import { verifyMessage } from '../crypto/signing.js';
import { TransportError } from '../errors.js';
import { Status } from '../protocol/nt-status.js';
import { encodeIoctlRequest, decodeIoctlResponse } from '../protocol/smb2/commands/ioctl.js';
import { encodeLogoffRequest } from '../protocol/smb2/commands/logoff.js';
import { decodeNegotiateResponse, encodeNegotiateRequest, type NegotiateResponse } from '../protocol/smb2/commands/negotiate.js';
import { decodeSessionSetupResponse, encodeSessionSetupRequest } from '../protocol/smb2/commands/session-setup.js';
import { decodeTreeConnectResponse, encodeTreeConnectRequest, type TreeConnectResponse } from '../protocol/smb2/commands/tree-connect.js';
import { encodeTreeDisconnectRequest } from '../protocol/smb2/commands/tree-disconnect.js';
import { RELATED_FILE_ID } from '../protocol/smb2/commands/file-id.js';
import {
  Cipher,
  Command,
  Dialect,
  Fsctl,
  GlobalCapabilities,
  HashAlgorithm,
  HeaderFlags,
  IoctlFlags,
  SecurityMode,
  SessionFlags,
  ShareFlags,
  SigningAlgorithm,
} from '../protocol/smb2/constants.js';
import type { NegotiateContext } from '../protocol/smb2/contexts/negotiate-contexts.js';
import { decodeValidateNegotiateInfoResponse, encodeValidateNegotiateInfoRequest } from '../protocol/smb2/fscc/fsctl.js';
import { Reader } from '../util/reader.js';
import { Writer } from '../util/writer.js';
import type { Connection, SmbRequest, SmbResponse } from './connection.js';
import { smbError } from './errors.js';

export type Protection = 'off' | 'desired' | 'required';
export type DialectName = '2.0.2' | '2.1' | '3.0' | '3.0.2' | '3.1.1';
export type CipherName = 'aes-128-gcm' | 'aes-128-ccm' | 'aes-256-gcm' | 'aes-256-ccm';

export const DIALECTS: Record<DialectName, number> = {
  '2.0.2': Dialect.SMB202,
  '2.1': Dialect.SMB210,
  '3.0': Dialect.SMB300,
  '3.0.2': Dialect.SMB302,
  '3.1.1': Dialect.SMB311,
};

export const CIPHERS: Record<CipherName, number> = {
  'aes-128-gcm': Cipher.AES128_GCM,
  'aes-128-ccm': Cipher.AES128_CCM,
  'aes-256-gcm': Cipher.AES256_GCM,
  'aes-256-ccm': Cipher.AES256_CCM,
};

export interface NegotiateParams {
  minDialect: number;
  maxDialect: number;
  signing: Protection;
  encryption: Protection;
  /** 3.1.1 cipher preference. */
  ciphers: number[];
  /** The ClientGuid to send; a reconnect repeats the first connection's (MS-SMB2 3.2.4.4). Default: a new one. */
  clientGuid?: Buffer;
}

/** What NEGOTIATE settled, and what the client sent (VALIDATE_NEGOTIATE_INFO repeats it). */
export interface Negotiated {
  dialect: number;
  response: NegotiateResponse;
  maxReadSize: number;
  maxWriteSize: number;
  maxTransactSize: number;
  serverSigningRequired: boolean;
  /** Connection.PreauthIntegrityHashValue after NEGOTIATE (3.1.1). */
  preauthHash: Buffer | undefined;
  sent: { dialects: number[]; securityMode: number; capabilities: number; clientGuid: Buffer };
}

/** Leases and persistent handles are advertised: durable opens ask for them (MS-SMB2 2.2.3, 3.2.4.2.2.2). */
const CLIENT_CAPABILITIES = GlobalCapabilities.LARGE_MTU | GlobalCapabilities.LEASING | GlobalCapabilities.PERSISTENT_HANDLES;

export async function negotiate(conn: Connection, p: NegotiateParams): Promise<Negotiated> {
  const dialects: number[] = [Dialect.SMB202, Dialect.SMB210, Dialect.SMB300, Dialect.SMB302, Dialect.SMB311].filter(
    (d) => d >= p.minDialect && d <= p.maxDialect,
  );
  if (dialects.length === 0) throw new RangeError('no dialect between minDialect and maxDialect');
  const securityMode = SecurityMode.SIGNING_ENABLED | (p.signing === 'required' ? SecurityMode.SIGNING_REQUIRED : 0);
  // Encryption support is always advertised: 'off' means "do not ask for it", but a server or share that
  // demands it is still served.
  const capabilities = CLIENT_CAPABILITIES | GlobalCapabilities.ENCRYPTION;
  const clientGuid = p.clientGuid ?? randomBytes(16);
  const contexts: NegotiateContext[] = [
    { kind: 'preauthIntegrity', hashAlgorithms: [HashAlgorithm.SHA512], salt: randomBytes(32) },
    { kind: 'signing', signingAlgorithms: [SigningAlgorithm.AES_GMAC, SigningAlgorithm.AES_CMAC, SigningAlgorithm.HMAC_SHA256] },
  ];
  contexts.push({ kind: 'encryption', ciphers: p.ciphers });
  let requestBytes: Buffer | undefined;
  const res = await conn.send({
    command: Command.NEGOTIATE,
    body: (w) => encodeNegotiateRequest(w, { securityMode, capabilities, clientGuid, dialects, negotiateContexts: contexts }),
    onSent: (m) => {
      requestBytes = m;
    },
  });
  if (res.status !== Status.SUCCESS) throw smbError(res.status, `\\\\${conn.host}`);
  const neg = decodeNegotiateResponse(res.body);
  const dialect = neg.dialectRevision;
  if (!dialects.includes(dialect)) {
    throw new TransportError(`server chose dialect 0x${dialect.toString(16)}, which was not offered`, 'EPROTO');
  }
  conn.dialect = dialect;
  conn.largeMtu = dialect >= Dialect.SMB210 && (neg.capabilities & GlobalCapabilities.LARGE_MTU) !== 0;
  conn.signingAlgorithm = dialect >= Dialect.SMB300 ? SigningAlgorithm.AES_CMAC : SigningAlgorithm.HMAC_SHA256;
  conn.cipher = 0;
  let preauthHash: Buffer | undefined;
  if (dialect === Dialect.SMB311) {
    for (const c of neg.negotiateContexts) {
      if (c.kind === 'signing' && c.signingAlgorithms[0] !== undefined) conn.signingAlgorithm = c.signingAlgorithms[0];
      if (c.kind === 'encryption' && c.ciphers[0] !== undefined && c.ciphers[0] !== 0) {
        if (!p.ciphers.includes(c.ciphers[0])) throw new TransportError('server chose a cipher that was not offered', 'EPROTO');
        conn.cipher = c.ciphers[0];
      }
      if (c.kind === 'preauthIntegrity' && !c.hashAlgorithms.includes(HashAlgorithm.SHA512)) {
        throw new TransportError('server chose an unknown preauth integrity hash', 'EPROTO');
      }
    }
    preauthHash = preauthUpdate(preauthUpdate(preauthInitial(), requestBytes!), res.message);
  } else if (dialect >= Dialect.SMB300 && (neg.capabilities & GlobalCapabilities.ENCRYPTION) !== 0) {
    conn.cipher = Cipher.AES128_CCM; // 3.0 / 3.0.2 know only AES-128-CCM
  }
  if (p.encryption === 'required' && conn.cipher === 0) {
    throw new TransportError(`encryption required but the server offers none (dialect 0x${dialect.toString(16)})`, 'EPROTO');
  }
  return {
    dialect,
    response: neg,
    maxReadSize: neg.maxReadSize,
    maxWriteSize: neg.maxWriteSize,
    maxTransactSize: neg.maxTransactSize,
    serverSigningRequired: (neg.securityMode & SecurityMode.SIGNING_REQUIRED) !== 0,
    preauthHash,
    sent: { dialects, securityMode, capabilities, clientGuid },
  };
}

export interface Credentials {
  user: string;
  password?: string;
  ntHash?: Buffer;
  domain: string;
}

/**
 * An authenticated session: adds its id, signing and encryption to the requests of the layers above. After a
 * reconnect (client.ts) the same object adopts the new connection's session, so trees and handles keep their
 * reference; while the reconnect runs, `gate` holds every request back.
 */
export class Session {
  id: bigint;
  flags: number;
  /** Every request of this session is encrypted (session ENCRYPT_DATA, or the client asked for it). */
  encryptAll: boolean;
  signing: boolean;
  conn: Connection;
  negotiated: Negotiated;
  /** Set while a reconnect runs: requests wait for it (and fail with it). */
  gate: Promise<void> | undefined;
  /** Set by a client that reconnects: called when a request finds the connection lost; settles with the reconnect. */
  onLost: (() => Promise<void>) | undefined;
  private loggedOff = false;

  constructor(conn: Connection, negotiated: Negotiated, o: { id: bigint; flags: number; encryptAll: boolean; signing: boolean }) {
    this.conn = conn;
    this.negotiated = negotiated;
    this.id = o.id;
    this.flags = o.flags;
    this.encryptAll = o.encryptAll;
    this.signing = o.signing;
  }

  /** Takes over the connection and session a reconnect established. */
  adopt(fresh: Session): void {
    this.conn = fresh.conn;
    this.negotiated = fresh.negotiated;
    this.id = fresh.id;
    this.flags = fresh.flags;
    this.encryptAll = fresh.encryptAll;
    this.signing = fresh.signing;
    this.loggedOff = false;
  }

  /** A promise to wait for before sending (a reconnect in progress or to start), or undefined when requests can go. */
  whenReady(): Promise<void> | undefined {
    if (this.gate) return this.gate;
    if (this.conn.closed && this.onLost && !this.loggedOff) return this.onLost();
    return undefined;
  }

  get canEncrypt(): boolean {
    return this.conn.cipher !== 0 && (this.flags & (SessionFlags.IS_GUEST | SessionFlags.IS_NULL)) === 0;
  }

  async send(req: SmbRequest): Promise<SmbResponse> {
    for (let wait = this.whenReady(); wait; wait = this.whenReady()) await wait;
    return this.conn.send(this.fill(req));
  }

  async sendCompound(reqs: SmbRequest[]): Promise<SmbResponse[]> {
    for (let wait = this.whenReady(); wait; wait = this.whenReady()) await wait;
    return this.conn.sendCompound(reqs.map((r) => this.fill(r)));
  }

  private fill(req: SmbRequest): SmbRequest {
    return { ...req, sessionId: this.id, encrypt: req.encrypt === true || this.encryptAll };
  }

  /** TREE_CONNECT to \\host\share; VALIDATE_NEGOTIATE_INFO on 3.0/3.0.2 (MS-SMB2 3.2.5.5). */
  async treeConnect(share: string, encryption: Protection): Promise<TreeInfo> {
    const unc = `\\\\${this.conn.host}\\${share}`;
    // MS-SMB2 3.2.4.1.1: on 3.1.1 a TREE_CONNECT is signed even when the session does not sign everything.
    const res = await this.send({
      command: Command.TREE_CONNECT,
      sign: this.negotiated.dialect === Dialect.SMB311,
      body: (w) => encodeTreeConnectRequest(w, { flags: 0, path: unc }),
    });
    if (res.status !== Status.SUCCESS) throw smbError(res.status, unc);
    const tc = decodeTreeConnectResponse(res.body);
    const treeId = res.header.treeId;
    const shareEncrypts = (tc.shareFlags & ShareFlags.ENCRYPT_DATA) !== 0;
    // MS-SMB2 3.2.5.5: a share that demands encryption gets every request encrypted; the client may ask too.
    const encrypt = this.canEncrypt && (shareEncrypts || encryption !== 'off');
    if (shareEncrypts && !this.canEncrypt) {
      throw new TransportError(`share ${unc} requires encryption, which this connection cannot do`, 'EPROTO');
    }
    if (encryption === 'required' && !encrypt) throw new TransportError(`cannot encrypt traffic to ${unc}`, 'EPROTO');
    const info: TreeInfo = { treeId, unc, response: tc, encrypt };
    const d = this.negotiated.dialect;
    if ((d === Dialect.SMB300 || d === Dialect.SMB302) && this.signing && !this.encryptAll) {
      await this.validateNegotiate(info);
    }
    return info;
  }

  /** FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 3.2.5.14.12 / 3.3.5.15.12): detects a downgraded negotiate. */
  private async validateNegotiate(tree: TreeInfo): Promise<void> {
    const sent = this.negotiated.sent;
    const res = await this.send({
      command: Command.IOCTL,
      treeId: tree.treeId,
      encrypt: tree.encrypt,
      body: (w) => {
        const input = new Writer(64);
        encodeValidateNegotiateInfoRequest(input, {
          capabilities: sent.capabilities,
          guid: sent.clientGuid,
          securityMode: sent.securityMode,
          dialects: sent.dialects,
        });
        encodeIoctlRequest(w, {
          ctlCode: Fsctl.VALIDATE_NEGOTIATE_INFO,
          fileId: RELATED_FILE_ID,
          input: Buffer.from(input.finish()),
          maxInputResponse: 0,
          output: Buffer.alloc(0),
          maxOutputResponse: 24,
          flags: IoctlFlags.IS_FSCTL,
        });
      },
    });
    // Servers that predate the FSCTL answer with one of these (signed, so not forged).
    if (res.status === Status.NOT_SUPPORTED || res.status === Status.INVALID_DEVICE_REQUEST || res.status === Status.FILE_CLOSED) return;
    if (res.status !== Status.SUCCESS) throw new TransportError(`VALIDATE_NEGOTIATE_INFO failed: ${smbError(res.status).message}`, 'EPROTO');
    const out = decodeIoctlResponse(res.body).output;
    const v = decodeValidateNegotiateInfoResponse(new Reader(out));
    const neg = this.negotiated.response;
    if (
      v.dialect !== neg.dialectRevision ||
      v.securityMode !== neg.securityMode ||
      v.capabilities !== neg.capabilities ||
      !v.guid.equals(neg.serverGuid)
    ) {
      this.conn.destroy(new TransportError('VALIDATE_NEGOTIATE_INFO mismatch: the negotiate was tampered with', 'EPROTO'));
      throw new TransportError('VALIDATE_NEGOTIATE_INFO mismatch: the negotiate was tampered with', 'EPROTO');
    }
  }

  async treeDisconnect(treeId: number, encrypt: boolean): Promise<void> {
    await this.send({ command: Command.TREE_DISCONNECT, treeId, encrypt, body: (w) => encodeTreeDisconnectRequest(w) });
  }

  async logoff(): Promise<void> {
    if (this.loggedOff) return;
    this.loggedOff = true;
    try {
      await this.send({ command: Command.LOGOFF, body: (w) => encodeLogoffRequest(w) });
    } finally {
      this.conn.dropSession(this.id);
    }
  }
}

export interface TreeInfo {
  treeId: number;
  unc: string;
  response: TreeConnectResponse;
  encrypt: boolean;
}

/** SESSION_SETUP with SPNEGO/NTLMv2 until success (MS-SMB2 3.2.5.3), then keys, signing and encryption. */
export async function authenticate(
  conn: Connection,
  neg: Negotiated,
  creds: Credentials,
  p: { signing: Protection; encryption: Protection; previousSessionId?: bigint },
): Promise<Session> {
  const auth = new ClientAuthenticator({
    user: creds.user,
    domain: creds.domain,
    ...(creds.password !== undefined ? { password: creds.password } : {}),
    ...(creds.ntHash !== undefined ? { ntHash: creds.ntHash } : {}),
  });
  let token = auth.initial();
  let hash = neg.preauthHash;
  let sessionId = 0n;
  for (let round = 0; round < 8; round++) {
    const securityMode = SecurityMode.SIGNING_ENABLED | (p.signing === 'required' ? SecurityMode.SIGNING_REQUIRED : 0);
    const res = await conn.send({
      command: Command.SESSION_SETUP,
      sessionId,
      body: (w) =>
        encodeSessionSetupRequest(w, { flags: 0, securityMode, capabilities: 0, channel: 0, previousSessionId: p.previousSessionId ?? 0n, securityBuffer: token }),
      onSent: (m) => {
        if (hash) hash = preauthUpdate(hash, m);
      },
    });
    if (res.status === Status.MORE_PROCESSING_REQUIRED) {
      if (hash) hash = preauthUpdate(hash, res.message);
      sessionId = res.header.sessionId;
      token = auth.step(decodeSessionSetupResponse(res.body).securityBuffer).token;
      continue;
    }
    if (res.status !== Status.SUCCESS) throw smbError(res.status, `\\\\${conn.host} (user ${creds.domain ? `${creds.domain}\\` : ''}${creds.user})`);
    sessionId = res.header.sessionId;
    const ss = decodeSessionSetupResponse(res.body);
    if (ss.securityBuffer.length > 0) auth.step(ss.securityBuffer);
    const anonymous = (ss.sessionFlags & (SessionFlags.IS_GUEST | SessionFlags.IS_NULL)) !== 0;
    const sessionKey = auth.sessionKey();
    const keys = !anonymous && sessionKey.length > 0 ? deriveSmbKeys(neg.dialect, sessionKey, hash, conn.cipher || undefined) : undefined;
    if (keys && (res.header.flags & HeaderFlags.SIGNED) !== 0) {
      if (!verifyMessage(conn.signingAlgorithm, keys.signingKey, res.message, { fromServer: true })) {
        throw new TransportError('the final SESSION_SETUP response signature does not verify (wrong password or tampering)', 'EPROTO');
      }
    } else if (keys && neg.dialect === Dialect.SMB311) {
      // MS-SMB2 3.2.5.3.1: on 3.1.1 the final response must be signed.
      throw new TransportError('the final SESSION_SETUP response is not signed', 'EPROTO');
    }
    const serverEncrypts = (ss.sessionFlags & SessionFlags.ENCRYPT_DATA) !== 0;
    const canEncrypt = keys !== undefined && conn.cipher !== 0;
    if (p.encryption === 'required' && !canEncrypt) throw new TransportError('encryption required but the session cannot encrypt', 'EPROTO');
    if (serverEncrypts && !canEncrypt) throw new TransportError('the server requires encryption, which this connection cannot do', 'EPROTO');
    const encryptAll = canEncrypt && (serverEncrypts || p.encryption !== 'off');
    const signing = keys !== undefined && (p.signing !== 'off' || neg.serverSigningRequired);
    if (p.signing === 'required' && keys === undefined) throw new TransportError('signing required but the session is anonymous or guest', 'EACCES');
    conn.setSession(sessionId, {
      signingKey: keys?.signingKey,
      encryptionKey: canEncrypt ? keys.encryptionKey : undefined,
      decryptionKey: canEncrypt ? keys.decryptionKey : undefined,
      signing,
    });
    return new Session(conn, neg, { id: sessionId, flags: ss.sessionFlags, encryptAll, signing });
  }
  throw new TransportError('SESSION_SETUP did not complete', 'EPROTO');
}
