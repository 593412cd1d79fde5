import { Dialect, GlobalCapabilities, SigningAlgorithm } from '../protocol/smb2/constants.js';

/**
 * What differs per dialect, in one table (MS-SMB2 3.3.5.4, 3.1.4.1, 3.1.4.2). Handlers look here instead of
 * comparing dialect numbers.
 */
export interface DialectTraits {
  readonly code: number;
  readonly name: string;
  /** Signing algorithm when no SIGNING_CAPABILITIES context chose one. */
  readonly defaultSigning: number;
  /** Key derivation: none (2.x uses the session key directly), 3.0-style labels, or 3.1.1 with the preauth hash. */
  readonly kdf: 'none' | 'smb30' | 'smb311';
  /** Capabilities this dialect can advertise (the server masks them with what it supports). */
  readonly capabilities: number;
  readonly largeMtu: boolean;
  readonly negotiateContexts: boolean;
  readonly validateNegotiate: boolean;
  /** Credit charge is honoured (2.1+); 2.0.2 charges one credit per request. */
  readonly multiCredit: boolean;
}

const T = (t: DialectTraits) => t;

export const DIALECTS: ReadonlyMap<number, DialectTraits> = new Map(
  [
    T({ code: Dialect.SMB202, name: '2.0.2', defaultSigning: SigningAlgorithm.HMAC_SHA256, kdf: 'none', capabilities: GlobalCapabilities.DFS, largeMtu: false, negotiateContexts: false, validateNegotiate: false, multiCredit: false }),
    T({ code: Dialect.SMB210, name: '2.1', defaultSigning: SigningAlgorithm.HMAC_SHA256, kdf: 'none', capabilities: GlobalCapabilities.DFS | GlobalCapabilities.LARGE_MTU | GlobalCapabilities.LEASING, largeMtu: true, negotiateContexts: false, validateNegotiate: false, multiCredit: true }),
    T({ code: Dialect.SMB300, name: '3.0', defaultSigning: SigningAlgorithm.AES_CMAC, kdf: 'smb30', capabilities: GlobalCapabilities.DFS | GlobalCapabilities.LARGE_MTU | GlobalCapabilities.LEASING | GlobalCapabilities.MULTI_CHANNEL | GlobalCapabilities.DIRECTORY_LEASING, largeMtu: true, negotiateContexts: false, validateNegotiate: true, multiCredit: true }),
    T({ code: Dialect.SMB302, name: '3.0.2', defaultSigning: SigningAlgorithm.AES_CMAC, kdf: 'smb30', capabilities: GlobalCapabilities.DFS | GlobalCapabilities.LARGE_MTU | GlobalCapabilities.LEASING | GlobalCapabilities.MULTI_CHANNEL | GlobalCapabilities.DIRECTORY_LEASING, largeMtu: true, negotiateContexts: false, validateNegotiate: true, multiCredit: true }),
    T({ code: Dialect.SMB311, name: '3.1.1', defaultSigning: SigningAlgorithm.AES_CMAC, kdf: 'smb311', capabilities: GlobalCapabilities.DFS | GlobalCapabilities.LARGE_MTU | GlobalCapabilities.LEASING | GlobalCapabilities.MULTI_CHANNEL | GlobalCapabilities.DIRECTORY_LEASING, largeMtu: true, negotiateContexts: true, validateNegotiate: false, multiCredit: true }),
  ].map((t) => [t.code, t]),
);

export function dialectTraits(code: number): DialectTraits {
  const t = DIALECTS.get(code);
  if (!t) throw new Error(`no traits for dialect 0x${code.toString(16)}`);
  return t;
}
