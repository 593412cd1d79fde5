/**
 * Scan targets: a host name, an address, host:port ([v6]:port) or a CIDR range, expanded to one target per
 * address under a cap so a typo (/8 for /24) cannot start a scan of millions of hosts.
 */
import { isIP } from 'node:net';
import { parseCidr } from '../util/cidr.js';
import type { AddressClass } from './types.js';

export interface Target {
  /** The text the target came from (the CIDR range for its expanded addresses). */
  source: string;
  host: string;
  /** An explicit port (host:port): only that port is probed, as direct-TCP SMB. */
  port: number | undefined;
}

export class TargetError extends Error {
  override readonly name = 'TargetError';
}

export const DEFAULT_MAX_ADDRESSES = 1024;

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;

function parsePort(text: string, whole: string): number {
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text) || n < 1 || n > 65535) throw new TargetError(`bad port in target '${whole}'`);
  return n;
}

/** The number of addresses a CIDR range holds. */
function rangeSize(prefix: number, v4: boolean): bigint {
  return 1n << BigInt((v4 ? 32 : 128) - prefix);
}

function v4Text(v: bigint): string {
  const n = Number(v & 0xffffffffn);
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function v6Text(v: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
}

/** Parses one target argument; a range is expanded (at most `cap` addresses). */
export function parseTarget(text: string, cap = DEFAULT_MAX_ADDRESSES): Target[] {
  const t = text.trim();
  if (t === '') throw new TargetError('empty target');
  if (t.includes('/')) {
    const [addr] = t.split('/');
    const v4 = isIP(addr ?? '') === 4;
    if (!v4 && isIP(addr ?? '') !== 6) throw new TargetError(`not a CIDR range: '${t}'`);
    let range;
    try {
      range = parseCidr(t);
    } catch (e) {
      throw new TargetError(`bad CIDR range '${t}': ${(e as Error).message}`);
    }
    const prefix = v4 ? range.prefix - 96 : range.prefix;
    const size = rangeSize(prefix, v4);
    if (size > BigInt(cap)) {
      throw new TargetError(`range ${t} holds ${size} addresses, more than the limit of ${cap} (use a longer prefix, or --max-hosts)`);
    }
    const out: Target[] = [];
    for (let i = 0n; i < size; i++) {
      const v = range.base + i;
      out.push({ source: t, host: v4 ? v4Text(v) : v6Text(v), port: undefined });
    }
    return out;
  }
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(t);
  if (bracket) {
    if (isIP(bracket[1]!) !== 6) throw new TargetError(`not an IPv6 address: '${t}'`);
    return [{ source: t, host: bracket[1]!, port: bracket[2] === undefined ? undefined : parsePort(bracket[2], t) }];
  }
  if (isIP(t) !== 0) return [{ source: t, host: t, port: undefined }];
  const colon = t.lastIndexOf(':');
  if (colon > 0 && t.indexOf(':') === colon) {
    const host = t.slice(0, colon);
    if (isIP(host) !== 4 && !HOSTNAME.test(host)) throw new TargetError(`not a host name or address: '${t}'`);
    return [{ source: t, host, port: parsePort(t.slice(colon + 1), t) }];
  }
  if (!HOSTNAME.test(t)) throw new TargetError(`not a host name, address or CIDR range: '${t}'`);
  return [{ source: t, host: t, port: undefined }];
}

/** Parses every argument; the total number of targets is capped too. Duplicates (same host and port) are dropped. */
export function parseTargets(args: readonly string[], cap = DEFAULT_MAX_ADDRESSES): Target[] {
  if (args.length === 0) throw new TargetError('no target given');
  const out: Target[] = [];
  const seen = new Set<string>();
  for (const a of args) {
    for (const t of parseTarget(a, cap)) {
      const key = `${t.host.toLowerCase()}|${t.port ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(t);
      if (out.length > cap) throw new TargetError(`the targets hold more than the limit of ${cap} addresses (use --max-hosts)`);
    }
  }
  return out;
}

/** Loopback, private (RFC 1918, CGNAT, unique local), link-local, wildcard or public. */
export function classifyAddress(address: string): AddressClass {
  let a = address.toLowerCase().split('%')[0]!;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) a = mapped[1]!;
  const kind = isIP(a);
  if (kind === 4) {
    const [x, y] = a.split('.').map(Number) as [number, number];
    if (a === '0.0.0.0') return 'wildcard';
    if (x === 127) return 'loopback';
    if (x === 10 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168) || (x === 100 && y >= 64 && y <= 127)) return 'private';
    if (x === 169 && y === 254) return 'link-local';
    return 'public';
  }
  if (kind === 6) {
    if (a === '::') return 'wildcard';
    if (a === '::1') return 'loopback';
    if (/^fe[89ab]/.test(a)) return 'link-local';
    if (/^f[cd]/.test(a)) return 'private';
    return 'public';
  }
  return 'unknown';
}
