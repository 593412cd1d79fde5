import { isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

/**
 * Which local IPv4 interfaces the discovery services may use, derived from where the SMB server listens: a
 * service never answers or announces on an interface the server does not listen on.
 *
 * - A listener on a specific IPv4 address selects the interface that carries that address.
 * - A wildcard listener (0.0.0.0 or ::) selects every IPv4 interface.
 * - IPv6 listeners and host names select nothing (NetBIOS is IPv4 only; mDNS and WS-Discovery run over IPv4 here).
 * Multicast services skip loopback interfaces, which carry no multicast.
 */

export interface Ipv4Interface {
  /** Interface name (eth0). */
  name: string;
  address: string;
  netmask: string;
  internal: boolean;
  /** The subnet's broadcast address; undefined on loopback and on /31 and /32 networks. */
  broadcast: string | undefined;
}

export function ipv4ToInt(a: string): number {
  const p = a.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

function prefixLength(mask: number): number {
  let n = 0;
  for (let m = mask; m & 0x80000000; m = (m << 1) >>> 0) n++;
  return n;
}

/** Every IPv4 address of the machine, one entry per address. */
export function ipv4Interfaces(nets: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): Ipv4Interface[] {
  const out: Ipv4Interface[] = [];
  for (const [name, addrs] of Object.entries(nets)) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4') continue;
      const mask = ipv4ToInt(a.netmask);
      const broadcast = a.internal || prefixLength(mask) >= 31 ? undefined : intToIpv4((ipv4ToInt(a.address) | ~mask) >>> 0);
      out.push({ name, address: a.address, netmask: a.netmask, internal: a.internal, broadcast });
    }
  }
  return out;
}

/** True when `address` (IPv4, possibly IPv4-mapped IPv6) lies in the interface's subnet. */
export function onSubnet(address: string, iface: Ipv4Interface): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(a) !== 4) return false;
  const mask = ipv4ToInt(iface.netmask);
  return ((ipv4ToInt(a) & mask) >>> 0) === ((ipv4ToInt(iface.address) & mask) >>> 0);
}

export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** The IPv4 hosts among the listeners: 'wildcard' when any listener binds every address. */
export function listenIpv4Hosts(hosts: readonly string[]): 'wildcard' | string[] {
  if (hosts.some(isWildcard)) return 'wildcard';
  return [...new Set(hosts.filter((h) => isIP(h) === 4))];
}

/** The interfaces selected by the listeners (see the module comment); `multicast` leaves out loopback. */
export function selectInterfaces(hosts: readonly string[], multicast: boolean, all: readonly Ipv4Interface[] = ipv4Interfaces()): Ipv4Interface[] {
  const sel = listenIpv4Hosts(hosts);
  const chosen = sel === 'wildcard' ? [...all] : all.filter((i) => sel.includes(i.address));
  return multicast ? chosen.filter((i) => !i.internal) : chosen;
}
