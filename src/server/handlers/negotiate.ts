import { randomBytes } from 'node:crypto';
import { Status } from '../../protocol/nt-status.js';
import {
  Cipher,
  Command,
  Dialect,
  GlobalCapabilities,
  HashAlgorithm,
  HeaderFlags,
  SecurityMode,
  SigningAlgorithm,
} from '../../protocol/smb2/constants.js';
import { encodeHeader } from '../../protocol/smb2/header.js';
import { decodeNegotiateRequest, encodeNegotiateResponse, type NegotiateResponse } from '../../protocol/smb2/commands/negotiate.js';
import type { NegotiateContext } from '../../protocol/smb2/contexts/negotiate-contexts.js';
import { decodeSmb1NegotiateRequest, smb2DialectFromSmb1 } from '../../protocol/smb1/negotiate.js';
import { preauthInitial, preauthUpdate } from '../../crypto/preauth.js';
import { spnegoInitToken } from '../../auth/spnego-server.js';
import { nowFiletime } from '../../util/filetime.js';
import { Writer } from '../../util/writer.js';
import { WireError } from '../../errors.js';
import type { Connection } from '../connection.js';
import type { Outcome, RequestContext } from '../context.js';
import { dialectTraits } from '../dialects.js';

/** Signing algorithms we offer for 3.1.1, in preference order (MS-SMB2 3.3.5.4: the server picks). */
const SIGNING_PREFERENCE = [SigningAlgorithm.AES_GMAC, SigningAlgorithm.AES_CMAC, SigningAlgorithm.HMAC_SHA256];

/** SMB2 NEGOTIATE (MS-SMB2 3.3.5.4). */
export function handleNegotiate(ctx: RequestContext): Outcome {
  const conn = ctx.conn;
  if (conn.negotiated) {
    conn.close('second NEGOTIATE on a connection');
    return Status.INVALID_PARAMETER;
  }
  const req = decodeNegotiateRequest(ctx.r);
  if (req.dialects.length === 0) return Status.INVALID_PARAMETER;
  const cfg = conn.server.config;
  const dialect = [...req.dialects]
    .filter((d) => d >= cfg.minDialect && d <= cfg.maxDialect && d !== Dialect.WILDCARD)
    .filter((d) => [0x0202, 0x0210, 0x0300, 0x0302, 0x0311].includes(d))
    .sort((a, b) => b - a)[0];
  if (dialect === undefined) {
    conn.log.info('no common dialect', { conn: conn.id, offered: req.dialects.map((d) => d.toString(16)) });
    return Status.NOT_SUPPORTED;
  }
  const traits = dialectTraits(dialect);
  const contexts: NegotiateContext[] = [];
  let signingAlgorithm = traits.defaultSigning;
  if (traits.negotiateContexts) {
    const preauth = req.negotiateContexts.filter((c) => c.kind === 'preauthIntegrity');
    if (preauth.length !== 1) return Status.INVALID_PARAMETER;
    if (!preauth[0]!.hashAlgorithms.includes(HashAlgorithm.SHA512)) return Status.SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP;
    contexts.push({ kind: 'preauthIntegrity', hashAlgorithms: [HashAlgorithm.SHA512], salt: randomBytes(32) });
    const enc = req.negotiateContexts.filter((c) => c.kind === 'encryption');
    if (enc.length > 1) return Status.INVALID_PARAMETER;
    if (enc[0]) {
      if (enc[0].ciphers.length === 0) return Status.INVALID_PARAMETER;
      // The server's preference decides (MS-SMB2 3.3.5.4); 0 = no common cipher.
      const offered = cfg.encryption === 'off' ? [] : cfg.ciphers;
      const cipher = offered.find((c) => enc[0]!.ciphers.includes(c)) ?? 0;
      conn.cipher = cipher;
      contexts.push({ kind: 'encryption', ciphers: [cipher] });
    }
    const sig = req.negotiateContexts.filter((c) => c.kind === 'signing');
    if (sig.length > 1) return Status.INVALID_PARAMETER;
    if (sig[0]) {
      if (sig[0].signingAlgorithms.length === 0) return Status.INVALID_PARAMETER;
      signingAlgorithm = SIGNING_PREFERENCE.find((a) => sig[0]!.signingAlgorithms.includes(a)) ?? SigningAlgorithm.AES_CMAC;
      contexts.push({ kind: 'signing', signingAlgorithms: [signingAlgorithm] });
    }
  }
  conn.dialect = dialect;
  conn.traits = traits;
  conn.negotiated = true;
  conn.clientGuid = Buffer.from(req.clientGuid);
  conn.clientCapabilities = req.capabilities;
  conn.clientSecurityMode = req.securityMode;
  conn.clientDialects = [...req.dialects];
  conn.signingAlgorithm = signingAlgorithm;
  conn.serverSecurityMode = SecurityMode.SIGNING_ENABLED | (cfg.signingRequired ? SecurityMode.SIGNING_REQUIRED : 0);
  conn.serverCapabilities = traits.capabilities & ~GlobalCapabilities.DFS;
  // Directory leases (3.x, MS-SMB2 3.3.5.4) are advertised as Windows does: only to a client that offers
  // SMB2_GLOBAL_CAP_DIRECTORY_LEASING itself. impacket 0.10 offers only ENCRYPTION and fails every CREATE
  // at the share root when a server advertises directory leasing to it anyway.
  if (!(req.capabilities & GlobalCapabilities.DIRECTORY_LEASING)) conn.serverCapabilities &= ~GlobalCapabilities.DIRECTORY_LEASING;
  // Session binding (multichannel, MS-SMB2 3.3.5.5.2) is offered only when configured.
  if (!cfg.multichannel) conn.serverCapabilities &= ~GlobalCapabilities.MULTI_CHANNEL;
  // Persistent handles (3.x) where a share is continuously available (MS-SMB2 3.3.5.4).
  if (traits.kdf !== 'none' && ctx.conn.server.persistentHandles) conn.serverCapabilities |= GlobalCapabilities.PERSISTENT_HANDLES;
  // 3.0/3.0.2 encrypt with AES-128-CCM when both sides have the capability (3.1.1 uses the context instead).
  if (traits.kdf === 'smb30' && cfg.encryption !== 'off' && req.capabilities & GlobalCapabilities.ENCRYPTION) {
    conn.serverCapabilities |= GlobalCapabilities.ENCRYPTION;
    conn.cipher = Cipher.AES128_CCM;
  }
  if (!traits.largeMtu) {
    conn.maxReadSize = conn.maxWriteSize = conn.maxTransactSize = 65536;
  }
  if (traits.negotiateContexts) conn.preauthHash = preauthUpdate(preauthInitial(), ctx.message);
  const res: NegotiateResponse = {
    securityMode: conn.serverSecurityMode,
    dialectRevision: dialect,
    serverGuid: conn.server.serverGuid,
    capabilities: conn.serverCapabilities,
    maxTransactSize: conn.maxTransactSize,
    maxReadSize: conn.maxReadSize,
    maxWriteSize: conn.maxWriteSize,
    systemTime: nowFiletime(),
    serverStartTime: 0n,
    securityBuffer: spnegoInitToken(),
    negotiateContexts: contexts,
  };
  conn.log.debug('negotiated', { conn: conn.id, dialect: traits.name, signing: signingAlgorithm });
  return {
    body: (w) => encodeNegotiateResponse(w, res),
    after: (chunks) => conn.updatePreauth([...chunks]),
  };
}

/**
 * An SMB1 NEGOTIATE (MS-SMB2 3.3.5.3.1): one that offers "SMB 2.???" or "SMB 2.002" gets an SMB2 NEGOTIATE
 * response; one that offers only SMB1 dialects is refused (SMB1 is off) by closing the connection.
 */
export async function handleSmb1Negotiate(conn: Connection, msg: Buffer): Promise<void> {
  let dialects: string[];
  try {
    dialects = decodeSmb1NegotiateRequest(msg).dialects;
  } catch (err) {
    conn.close(`malformed SMB1 message: ${err instanceof WireError ? err.message : String(err)}`);
    return;
  }
  if (conn.negotiated) {
    conn.close('SMB1 NEGOTIATE after NEGOTIATE');
    return;
  }
  const cfg = conn.server.config;
  let smb2 = smb2DialectFromSmb1(dialects);
  // "SMB 2.???" means the client can do 2.1+; if we cannot go above 2.0.2, answer 2.0.2 directly.
  if (smb2 === Dialect.WILDCARD && cfg.maxDialect < Dialect.SMB210) smb2 = dialects.includes('SMB 2.002') ? Dialect.SMB202 : undefined;
  if (smb2 === Dialect.SMB202 && cfg.minDialect > Dialect.SMB202) smb2 = undefined;
  if (smb2 === undefined) {
    conn.server.log.info('SMB1-only client refused (SMB1 is off)', { conn: conn.id, remote: conn.transport.remoteAddress, dialects });
    conn.close('SMB1 only');
    return;
  }
  const w = new Writer(256);
  encodeHeader(w, {
    creditCharge: 0,
    status: Status.SUCCESS,
    command: Command.NEGOTIATE,
    credits: 1,
    flags: HeaderFlags.SERVER_TO_REDIR,
    nextCommand: 0,
    messageId: 0n,
    treeId: 0,
    asyncId: 0n,
    sessionId: 0n,
    signature: Buffer.alloc(16),
  });
  const traits = dialectTraits(smb2 === Dialect.WILDCARD ? Dialect.SMB210 : Dialect.SMB202);
  const large = traits.largeMtu;
  encodeNegotiateResponse(w, {
    securityMode: SecurityMode.SIGNING_ENABLED | (cfg.signingRequired ? SecurityMode.SIGNING_REQUIRED : 0),
    dialectRevision: smb2,
    serverGuid: conn.server.serverGuid,
    capabilities: large ? GlobalCapabilities.LARGE_MTU : 0,
    maxTransactSize: large ? cfg.maxIoSize : 65536,
    maxReadSize: large ? cfg.maxIoSize : 65536,
    maxWriteSize: large ? cfg.maxIoSize : 65536,
    systemTime: nowFiletime(),
    serverStartTime: 0n,
    securityBuffer: spnegoInitToken(),
    negotiateContexts: [],
  });
  if (smb2 === Dialect.SMB202) {
    // The negotiation is complete at 2.0.2 (MS-SMB2 3.3.5.3.1).
    conn.dialect = smb2;
    conn.traits = traits;
    conn.negotiated = true;
    conn.signingAlgorithm = traits.defaultSigning;
    conn.serverSecurityMode = SecurityMode.SIGNING_ENABLED | (cfg.signingRequired ? SecurityMode.SIGNING_REQUIRED : 0);
    conn.maxReadSize = conn.maxWriteSize = conn.maxTransactSize = 65536;
  }
  conn.smb1NegotiateAnswered();
  conn.transport.send([w.finish()]);
}
