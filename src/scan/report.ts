/**
 * Readable output of a scan (and of the local ports report): a per-host block with aligned rows, findings coloured
 * by severity when the output is a terminal. JSON output is the report object itself (docs/scan-schema.md).
 */
import type { Finding, HostReport, ScanReport, Severity } from './types.js';

export interface Style {
  color: boolean;
}

const CODES = { red: 31, yellow: 33, cyan: 36, green: 32, dim: 2, bold: 1 } as const;
type Tone = keyof typeof CODES;

export function paint(s: string, tone: Tone, style: Style): string {
  return style.color ? `\x1b[${CODES[tone]}m${s}\x1b[0m` : s;
}

const SEVERITY_TONE: Record<Severity, Tone> = { high: 'red', medium: 'yellow', low: 'cyan' };

/** Colour only on a terminal and when NO_COLOR is unset (https://no-color.org). */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  return { color: stream.isTTY === true && (env['NO_COLOR'] === undefined || env['NO_COLOR'] === '') };
}

export function formatFinding(f: Finding, style: Style, indent = '  '): string {
  const sev = paint(f.severity.toUpperCase().padEnd(6), SEVERITY_TONE[f.severity], style);
  return `${indent}${sev} ${f.title} (${f.detail})\n${indent}       fix: ${f.remedy}\n`;
}

function row(label: string, value: string): string {
  return `  ${label.padEnd(10)} ${value}\n`;
}

function yesNo(v: boolean | null, style: Style, goodWhen: boolean): string {
  if (v === null) return paint('?', 'dim', style);
  return paint(v ? 'yes' : 'no', v === goodWhen ? 'green' : 'yellow', style);
}

function algorithms(list: { name: string; accepted: boolean | null }[]): string {
  const on = list.filter((a) => a.accepted === true).map((a) => a.name);
  return on.length > 0 ? on.join(', ') : 'none';
}

export function formatHost(h: HostReport, style: Style): string {
  let out = `${paint(h.target === h.host ? h.host : `${h.host} (${h.target})`, 'bold', style)}  ${h.summary}\n`;
  const ports = h.ports.map((p) => `${p.port}/${p.role === 'smb' ? 'smb' : 'netbios'} ${p.state}`).join(', ');
  if (ports) out += row('ports', `${ports}${h.netbios ? ` (NetBIOS: ${h.netbios.detail})` : ''}`);
  if (h.address !== null && h.address !== h.host) out += row('address', `${h.address} (${h.addressClass})`);
  else out += row('address', h.addressClass);
  if (h.status !== 'smb') {
    for (const f of h.findings) out += formatFinding(f, style);
    return out;
  }
  if (h.smb1) out += row('SMB1', h.smb1.accepted === true ? paint('accepted (NT LM 0.12)', 'red', style) : `${h.smb1.state}: ${h.smb1.detail}`);
  out += `  ${'dialect'.padEnd(10)} ${'accepted'.padEnd(9)} ${'signing'.padEnd(9)} ${'required'.padEnd(9)} capabilities\n`;
  for (const d of h.dialects) {
    const acc = d.accepted ? paint('yes'.padEnd(9), 'green', style) : paint((d.state === 'refused' ? 'no' : d.state).padEnd(9), 'dim', style);
    const en = d.accepted ? yesNo(d.signingEnabled, style, true) + ' '.repeat(9 - (d.signingEnabled ? 3 : 2)) : ' '.repeat(9);
    const req = d.accepted ? yesNo(d.signingRequired, style, true) + ' '.repeat(9 - (d.signingRequired ? 3 : 2)) : ' '.repeat(9);
    out += `  ${d.dialect.padEnd(10)} ${acc} ${en} ${req} ${d.capabilities.join(', ')}\n`;
  }
  if (h.smb311) {
    out += row('ciphers', algorithms(h.smb311.ciphers));
    out += row('signing', algorithms(h.smb311.signingAlgorithms));
    out += row('compress', algorithms(h.smb311.compressionAlgorithms));
  }
  out += row('server', `guid ${h.serverGuid ?? '?'}, time ${h.systemTime ?? '?'}, boot ${h.bootTime ?? 'not given'}`);
  if (h.ntlm) {
    const n = h.ntlm;
    const parts = [
      `name ${n.netbiosComputerName ?? '?'}`,
      `domain ${n.netbiosDomainName ?? '?'}`,
      `dns ${n.dnsComputerName ?? '?'}${n.dnsDomainName ? `.${n.dnsDomainName}` : ''}`,
      `os ${n.osVersion ?? '?'}`,
    ];
    out += row('ntlm', parts.join(', '));
  }
  if (h.mechanisms.length > 0) out += row('auth', h.mechanisms.join(', '));
  for (const kind of ['anonymous', 'guest'] as const) {
    const s = h.sessions[kind];
    const v = s.accepted === true ? paint(s.detail, 'yellow', style) : s.detail;
    out += row(kind, `${v}${s.reached.length > 0 ? `; reached ${s.reached.join(', ')}` : ''}`);
  }
  out += row('shares', h.shares.checked ? h.shares.names.join(', ') || 'none listed' : h.shares.detail);
  if (h.findings.length === 0) out += `  ${paint('no findings', 'green', style)}\n`;
  for (const f of h.findings) out += formatFinding(f, style);
  return out;
}

export function formatScan(r: ScanReport, style: Style): string {
  const blocks: string[] = [];
  const quiet: HostReport[] = [];
  for (const h of r.hosts) {
    if (r.hosts.length > 1 && (h.status === 'closed' || h.status === 'unreachable') && h.findings.length === 0) quiet.push(h);
    else blocks.push(formatHost(h, style));
  }
  let out = blocks.join('\n');
  if (quiet.length > 0) {
    out += `${blocks.length > 0 ? '\n' : ''}${quiet.length} host(s) without an open SMB port: ${quiet
      .slice(0, 20)
      .map((h) => h.target)
      .join(', ')}${quiet.length > 20 ? ', ...' : ''}\n`;
  }
  const c = r.counts;
  out += `\n${r.hosts.length} host(s) scanned: ${paint(`${c.high} high`, c.high ? 'red' : 'green', style)}, ${paint(
    `${c.medium} medium`,
    c.medium ? 'yellow' : 'green',
    style,
  )}, ${paint(`${c.low} low`, c.low ? 'cyan' : 'green', style)}\n`;
  return out;
}
