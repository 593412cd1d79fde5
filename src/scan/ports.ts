/**
 * Local listening sockets on the SMB-related ports, read from /proc/net/{tcp,tcp6,udp,udp6} (Linux), with the
 * owning process found through /proc/PID/fd socket links, each bound address classified, and a finding for each
 * SMB-related port bound to a public or wildcard address.
 */
import { readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { sortFindings } from './findings.js';
import { classifyAddress } from './targets.js';
import { ipv6ToText } from '../util/cidr.js';
import type { AddressClass, Finding, Severity } from './types.js';

/** RPC endpoint mapper, NetBIOS name/datagram/session, SMB direct. */
export const SMB_PORTS = [135, 137, 138, 139, 445] as const;

const PORT_SERVICE: Record<number, string> = {
  135: 'RPC endpoint mapper',
  137: 'NetBIOS name service',
  138: 'NetBIOS datagram service',
  139: 'NetBIOS session service (SMB)',
  445: 'SMB',
};

export interface ListeningSocket {
  protocol: 'tcp' | 'udp';
  family: 4 | 6;
  address: string;
  port: number;
  inode: number;
  addressClass: AddressClass;
  /** The owning process when /proc lets us see it. */
  pid: number | null;
  command: string | null;
}

export interface PortsReport {
  schema: 'smbkit-ports/1';
  sockets: ListeningSocket[];
  findings: (Finding & { socket: string })[];
  /** Files that could not be read (no /proc, or not Linux). */
  unreadable: string[];
}

const TCP_LISTEN = '0A';
/** UDP sockets sit in TCP_CLOSE (07) when bound and not connected. */
const UDP_UNCONNECTED = '07';

/** Decodes /proc/net's hex address: IPv4 is one host-order 32-bit word; IPv6 four of them. */
export function decodeProcAddress(hex: string): { address: string; family: 4 | 6 } {
  if (hex.length === 8) {
    const b = Buffer.from(hex, 'hex');
    return { address: `${b[3]}.${b[2]}.${b[1]}.${b[0]}`, family: 4 };
  }
  if (hex.length !== 32) throw new Error(`bad /proc/net address ${hex}`);
  const bytes = Buffer.alloc(16);
  for (let w = 0; w < 4; w++) {
    const word = Buffer.from(hex.slice(w * 8, w * 8 + 8), 'hex');
    for (let i = 0; i < 4; i++) bytes[w * 4 + i] = word[3 - i]!;
  }
  // ::ffff:a.b.c.d for IPv4-mapped addresses, else the RFC 5952 form.
  if (bytes.subarray(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return { address: `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`, family: 6 };
  }
  return { address: ipv6ToText(bytes), family: 6 };
}

/** Parses one /proc/net/{tcp,udp}[6] table, keeping listening (TCP) or unconnected bound (UDP) sockets on `ports`. */
export function parseProcNet(text: string, protocol: 'tcp' | 'udp', ports: readonly number[] = SMB_PORTS): Omit<ListeningSocket, 'pid' | 'command'>[] {
  const out: Omit<ListeningSocket, 'pid' | 'command'>[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [local, remote, state, inode] = [f[1]!, f[2]!, f[3]!, f[9]!];
    const [laddr, lport] = local.split(':');
    const [, rport] = remote.split(':');
    if (laddr === undefined || lport === undefined) continue;
    const port = parseInt(lport, 16);
    if (!ports.includes(port)) continue;
    if (protocol === 'tcp' && state !== TCP_LISTEN) continue;
    if (protocol === 'udp' && (state !== UDP_UNCONNECTED || parseInt(rport ?? '0', 16) !== 0)) continue;
    const { address, family } = decodeProcAddress(laddr);
    out.push({ protocol, family, address, port, inode: Number(inode), addressClass: classifyAddress(address) });
  }
  return out;
}

/** socket inode -> owning process, from /proc/PID/fd links ("socket:[INODE]"); unreadable processes are skipped. */
export async function socketOwners(inodes: ReadonlySet<number>, proc = '/proc'): Promise<Map<number, { pid: number; command: string | null }>> {
  const owners = new Map<number, { pid: number; command: string | null }>();
  if (inodes.size === 0) return owners;
  let pids: string[];
  try {
    pids = (await readdir(proc)).filter((p) => /^\d+$/.test(p));
  } catch {
    return owners;
  }
  await Promise.all(
    pids.map(async (pid) => {
      let fds: string[];
      try {
        fds = await readdir(join(proc, pid, 'fd'));
      } catch {
        return;
      }
      for (const fd of fds) {
        let link: string;
        try {
          link = await readlink(join(proc, pid, 'fd', fd));
        } catch {
          continue;
        }
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (!m || !inodes.has(Number(m[1])) || owners.has(Number(m[1]))) continue;
        let command: string | null = null;
        try {
          command = (await readFile(join(proc, pid, 'comm'), 'utf8')).trim();
        } catch {
          // gone
        }
        owners.set(Number(m[1]), { pid: Number(pid), command });
      }
    }),
  );
  return owners;
}

function portFinding(s: ListeningSocket): (Finding & { socket: string }) | undefined {
  if (s.addressClass !== 'public' && s.addressClass !== 'wildcard') return undefined;
  const smb = s.port === 445 || s.port === 139;
  const severity: Severity = s.addressClass === 'public' ? (smb ? 'high' : 'medium') : smb ? 'medium' : 'low';
  const where = s.addressClass === 'public' ? `the public address ${s.address}` : `every address (${s.address})`;
  const socket = `${s.protocol}/${s.family === 6 ? `[${s.address}]` : s.address}:${s.port}`;
  return {
    id: `listening-${s.addressClass}`,
    severity,
    title: `${PORT_SERVICE[s.port] ?? `port ${s.port}`} listens on ${where}`,
    detail: `${socket}${s.command !== null ? ` (${s.command}, pid ${s.pid})` : ''}`,
    remedy:
      s.addressClass === 'public'
        ? `bind it to private or loopback addresses, or block ${s.protocol.toUpperCase()} ${s.port} at the firewall`
        : `bind it to the addresses that need it (Samba: interfaces + bind interfaces only = yes), or firewall ${s.protocol.toUpperCase()} ${s.port}`,
    socket,
  };
}

/** Reads the local listening sockets on the SMB-related ports. */
export async function localPorts(o: { proc?: string; ports?: readonly number[] } = {}): Promise<PortsReport> {
  const proc = o.proc ?? '/proc';
  const ports = o.ports ?? SMB_PORTS;
  const unreadable: string[] = [];
  const found: Omit<ListeningSocket, 'pid' | 'command'>[] = [];
  for (const [file, protocol] of [
    ['tcp', 'tcp'],
    ['tcp6', 'tcp'],
    ['udp', 'udp'],
    ['udp6', 'udp'],
  ] as const) {
    const path = join(proc, 'net', file);
    try {
      found.push(...parseProcNet(await readFile(path, 'utf8'), protocol, ports));
    } catch {
      unreadable.push(path);
    }
  }
  const owners = await socketOwners(new Set(found.map((s) => s.inode)), proc);
  const sockets: ListeningSocket[] = found
    .map((s) => {
      const owner = owners.get(s.inode);
      return { ...s, pid: owner?.pid ?? null, command: owner?.command ?? null };
    })
    .sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol) || a.family - b.family || a.address.localeCompare(b.address));
  const findings = sortFindings(sockets.map(portFinding).filter((f): f is Finding & { socket: string } => f !== undefined)) as (Finding & {
    socket: string;
  })[];
  return { schema: 'smbkit-ports/1', sockets, findings, unreadable };
}
