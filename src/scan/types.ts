/**
 * The scanner's report model: plain data, serialised as is by `smbkit scan --json` (docs/scan-schema.md).
 * Every field is always present; `null` means "not known" (not checked, or the probe got no answer).
 */

export type Severity = 'high' | 'medium' | 'low';
export const SEVERITIES: readonly Severity[] = ['high', 'medium', 'low'];

export interface Finding {
  /** Stable identifier, e.g. "smb1-enabled". */
  id: string;
  severity: Severity;
  /** One line: what was found. */
  title: string;
  /** One line: the evidence. */
  detail: string;
  /** One line: how to fix it. */
  remedy: string;
}

export type AddressClass = 'loopback' | 'private' | 'link-local' | 'public' | 'wildcard' | 'unknown';

export type DialectName = '2.0.2' | '2.1' | '3.0' | '3.0.2' | '3.1.1';

export interface PortReport {
  port: number;
  /** What it is probed for: the SMB port (direct TCP) or the NetBIOS session service. */
  role: 'smb' | 'netbios';
  state: 'open' | 'closed' | 'timeout' | 'unreachable' | 'error' | 'not-checked';
  detail: string;
}

export interface DialectReport {
  dialect: DialectName;
  accepted: boolean;
  /** 'accepted', 'refused', or how the probe failed ('timeout', 'not-smb', ...). */
  state: string;
  detail: string;
  signingEnabled: boolean | null;
  signingRequired: boolean | null;
  /** Capability names the server announced for this dialect (see CAPABILITY_NAMES). */
  capabilities: string[];
}

export interface AlgorithmReport {
  name: string;
  id: number;
  accepted: boolean | null;
}

export interface SessionReport {
  /** true: the server set up the session; false: refused; null: not checked or no answer. */
  accepted: boolean | null;
  detail: string;
  /** SMB2 session flags as names ("guest", "null", "encrypt"). */
  flags: ('guest' | 'null' | 'encrypt')[];
  /** Shares this session reached with a TREE_CONNECT (IPC$ and those listed or named with --share). */
  reached: string[];
}

export interface HostReport {
  /** The target as given (one address of an expanded CIDR range). */
  target: string;
  host: string;
  /** The address connected to (after name resolution), null when the name did not resolve. */
  address: string | null;
  addressClass: AddressClass;
  /** 'smb': an SMB server answered; 'not-smb': something else answered; 'closed', 'unreachable', 'timeout', 'error'. */
  status: 'smb' | 'not-smb' | 'closed' | 'unreachable' | 'timeout' | 'error';
  /** One plain sentence about the host. */
  summary: string;
  ports: PortReport[];
  netbios: { state: string; detail: string } | null;
  smb1: { accepted: boolean | null; state: string; detail: string; signingEnabled: boolean | null; signingRequired: boolean | null } | null;
  dialects: DialectReport[];
  /** The highest accepted dialect, null when none. */
  maxDialect: DialectName | null;
  /** Signing over the accepted SMB2/3 dialects: required only when every dialect requires it. */
  signing: { enabled: boolean; required: boolean } | null;
  /** Capabilities announced by any accepted dialect (3.0/3.0.2 encryption included; 3.1.1 encryption via ciphers). */
  capabilities: string[];
  serverGuid: string | null;
  /** ISO 8601 from the NEGOTIATE response's SystemTime. */
  systemTime: string | null;
  /** ISO 8601 from ServerStartTime; null when the server sends 0 (most do). */
  bootTime: string | null;
  maxReadSize: number | null;
  maxWriteSize: number | null;
  maxTransactSize: number | null;
  /** Security mechanisms of the server's SPNEGO hint ("ntlmssp", "kerberos", ...). */
  mechanisms: string[];
  /** 3.1.1 negotiate contexts accepted, one probe per algorithm; null when 3.1.1 is not accepted. */
  smb311: { ciphers: AlgorithmReport[]; signingAlgorithms: AlgorithmReport[]; compressionAlgorithms: AlgorithmReport[] } | null;
  ntlm: {
    netbiosComputerName: string | null;
    netbiosDomainName: string | null;
    dnsComputerName: string | null;
    dnsDomainName: string | null;
    dnsTreeName: string | null;
    targetName: string | null;
    osVersion: string | null;
    timestamp: string | null;
  } | null;
  sessions: { anonymous: SessionReport; guest: SessionReport };
  /** Shares listed to an anonymous or guest session; checked false when listing is not possible (no srvsvc). */
  shares: { checked: boolean; detail: string; names: string[] };
  findings: Finding[];
  /** Seconds the host's probes took. */
  elapsedSeconds: number;
}

export interface ScanReport {
  schema: 'smbkit-scan/1';
  startedAt: string;
  finishedAt: string;
  options: { timeoutMs: number; concurrency: number; sessions: boolean; shares: string[] };
  hosts: HostReport[];
  /** Findings per severity over all hosts. */
  counts: Record<Severity, number>;
}
