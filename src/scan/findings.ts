/**
 * The scanner's findings: each rule reads a host's probe results and yields at most one finding with a severity
 * and a one-line remedy. Rules are written once here; report.ts only shows them.
 */
import type { Finding, HostReport, Severity } from './types.js';

const RANK: Record<Severity, number> = { high: 3, medium: 2, low: 1 };

export function severityRank(s: Severity): number {
  return RANK[s];
}

export function isSeverity(s: string): s is Severity {
  return s === 'high' || s === 'medium' || s === 'low';
}

/** True when some finding is at or above `threshold` (for --fail-on). */
export function failsAt(findings: readonly Finding[], threshold: Severity): boolean {
  return findings.some((f) => RANK[f.severity] >= RANK[threshold]);
}

/** Findings in order of severity, then id (stable output). */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => RANK[b.severity] - RANK[a.severity] || a.id.localeCompare(b.id));
}

export type HostFacts = Omit<HostReport, 'findings'>;

const OLD_DIALECTS = new Set(['2.0.2', '2.1']);

export function hostFindings(h: HostFacts): Finding[] {
  const out: Finding[] = [];
  const smbOpen = h.ports.some((p) => p.state === 'open');
  const accepted = h.dialects.filter((d) => d.accepted);

  if (h.smb1?.accepted === true) {
    out.push({
      id: 'smb1-enabled',
      severity: 'high',
      title: 'SMB1 is enabled',
      detail: 'the server accepted a NEGOTIATE offering only "NT LM 0.12"',
      remedy: 'disable SMB1 (Samba: server min protocol = SMB2_10; Windows: Set-SmbServerConfiguration -EnableSMB1Protocol $false)',
    });
  }

  if (smbOpen && h.addressClass === 'public') {
    const open = h.ports.filter((p) => p.state === 'open').map((p) => p.port);
    out.push({
      id: 'public-exposure',
      severity: 'high',
      title: 'SMB is reachable on a public address',
      detail: `${h.address ?? h.host} is a public address with port ${open.join(' and ')} open`,
      remedy: 'block TCP 139/445 at the firewall or bind the server to private interfaces only',
    });
  }

  for (const [kind, s] of [
    ['anonymous', h.sessions.anonymous],
    ['guest', h.sessions.guest],
  ] as const) {
    if (s.accepted !== true) continue;
    const disk = s.reached.filter((n) => n.toUpperCase() !== 'IPC$');
    // Listing alone tells names; reaching a share (a TREE_CONNECT other than IPC$) is what makes it high.
    const listed = h.shares.checked && h.shares.names.length > 0;
    const high = disk.length > 0;
    const reach = s.reached.length > 0 ? `; reached ${s.reached.join(', ')}` : '';
    out.push({
      id: `${kind}-access`,
      severity: high ? 'high' : 'medium',
      title: kind === 'anonymous' ? 'anonymous (null) sessions are accepted' : 'guest sessions are accepted',
      detail: `${kind === 'anonymous' ? 'an empty user name' : 'an unknown user name'} got a session${reach}${listed ? `; shares listed: ${h.shares.names.join(', ')}` : ''}`,
      remedy:
        kind === 'anonymous'
          ? 'refuse null sessions (Samba: restrict anonymous = 2; Windows: RestrictNullSessAccess = 1)'
          : 'refuse guest logons (Samba: map to guest = never and no guest ok shares; Windows: disable the Guest account)',
    });
  }

  if (accepted.length > 0 && h.signing !== null && !h.signing.required) {
    const loose = accepted.filter((d) => d.signingRequired !== true).map((d) => d.dialect);
    out.push({
      id: 'signing-not-required',
      severity: 'medium',
      title: 'SMB signing is not required',
      detail: `signing is ${h.signing.enabled ? 'enabled but not required' : 'disabled'} for ${loose.join(', ')}`,
      remedy: 'require signing (Samba: server signing = mandatory; Windows: RequireSecuritySignature = 1)',
    });
  } else if (accepted.length === 0 && h.smb1?.accepted === true && h.smb1.signingRequired === false) {
    out.push({
      id: 'signing-not-required',
      severity: 'medium',
      title: 'SMB signing is not required',
      detail: 'SMB1 signing is not required',
      remedy: 'require signing (Samba: server signing = mandatory; Windows: RequireSecuritySignature = 1)',
    });
  }

  if (accepted.length > 0 || h.smb1?.accepted === true) {
    const enc = encryptionOffered(h);
    if (enc === 'none') {
      out.push({
        id: 'no-encryption',
        severity: 'low',
        title: 'no SMB encryption offered',
        detail: 'no accepted dialect offers encryption (SMB 3.x with a cipher)',
        remedy: 'enable SMB 3 encryption (Samba: server max protocol = SMB3_11, server smb encrypt = desired)',
      });
    } else if (enc === 'ccm-only') {
      out.push({
        id: 'encryption-ccm-only',
        severity: 'low',
        title: 'only AES-CCM encryption offered',
        detail: 'no AES-GCM cipher is accepted (3.0/3.0.2 know only AES-128-CCM)',
        remedy: 'enable SMB 3.1.1 with AES-GCM (Samba: server max protocol = SMB3_11)',
      });
    }
  }

  const smb2Names = accepted.map((d) => d.dialect);
  if ((smb2Names.length > 0 && smb2Names.every((d) => OLD_DIALECTS.has(d))) || (smb2Names.length === 0 && h.smb1?.accepted === true)) {
    out.push({
      id: 'old-dialects-only',
      severity: 'medium',
      title: 'only old dialects are offered',
      detail: `accepted: ${[...(h.smb1?.accepted ? ['NT LM 0.12'] : []), ...smb2Names].join(', ')}; no SMB 3.x`,
      remedy: 'enable SMB 3.x (Samba: server max protocol = SMB3_11)',
    });
  }

  const nb = h.ports.find((p) => p.role === 'netbios');
  if (nb?.state === 'open') {
    out.push({
      id: 'netbios-open',
      severity: 'low',
      title: 'NetBIOS session service (TCP 139) is open',
      detail: h.netbios ? `port ${nb.port}: ${h.netbios.detail}` : `port ${nb.port} accepts connections`,
      remedy: 'serve SMB on 445 only (Samba: smb ports = 445, disable netbios = yes; Windows: disable NetBIOS over TCP/IP)',
    });
  }
  return sortFindings(out);
}

/** 'gcm' when an AES-GCM cipher is accepted, 'ccm-only' when only CCM is, 'none' when no cipher is. */
export function encryptionOffered(h: HostFacts): 'gcm' | 'ccm-only' | 'none' {
  const ciphers = h.smb311?.ciphers.filter((c) => c.accepted === true).map((c) => c.name) ?? [];
  if (ciphers.some((c) => c.includes('gcm'))) return 'gcm';
  const ccm3x = h.dialects.some((d) => d.accepted && (d.dialect === '3.0' || d.dialect === '3.0.2') && d.capabilities.includes('encryption'));
  if (ciphers.length > 0 || ccm3x) return 'ccm-only';
  return 'none';
}
