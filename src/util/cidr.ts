import { isIP } from 'node:net';

/**
 * IPv4/IPv6 addresses and CIDR ranges, parsed once into 128-bit numbers (IPv4 as ::ffff:a.b.c.d, so an IPv4
 * rule also matches an IPv4-mapped IPv6 peer).
 */
export interface CidrRange {
  readonly text: string;
  readonly base: bigint;
  readonly prefix: number; // 0..128 in the IPv6 space
}

const V4_MAPPED = 0xffffn << 32n;

export function parseAddress(addr: string): bigint | undefined {
  const a = addr.split('%')[0]!;
  const kind = isIP(a);
  if (kind === 4) {
    const parts = a.split('.').map(Number);
    return V4_MAPPED | BigInt(((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0);
  }
  if (kind === 6) {
    let text = a.toLowerCase();
    // A trailing dotted IPv4 part (::ffff:1.2.3.4).
    const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (m) {
      const v4 = parseAddress(m[2]!)! & 0xffffffffn;
      text = `${m[1]}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
    }
    const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    if (groups.length !== 8) return undefined;
    let v = 0n;
    for (const g of groups) v = (v << 16n) | BigInt(parseInt(g || '0', 16));
    return v;
  }
  return undefined;
}

/** "10.0.0.0/8", "192.168.1.5", "fd00::/8", "::1". Throws on anything else. */
export function parseCidr(text: string): CidrRange {
  const [addr, bits] = text.trim().split('/');
  const base = parseAddress(addr ?? '');
  if (base === undefined) throw new Error(`not an address or CIDR range: ${text}`);
  const v4 = isIP((addr ?? '').split('%')[0]!) === 4;
  const max = v4 ? 32 : 128;
  const n = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(n) || n < 0 || n > max || (bits !== undefined && !/^\d+$/.test(bits))) {
    throw new Error(`bad prefix length in ${text}`);
  }
  const prefix = v4 ? 96 + n : n;
  return { text, base: mask(base, prefix), prefix };
}

function mask(v: bigint, prefix: number): bigint {
  if (prefix === 0) return 0n;
  const hostBits = 128n - BigInt(prefix);
  return (v >> hostBits) << hostBits;
}

export function inRange(addr: bigint, r: CidrRange): boolean {
  return mask(addr, r.prefix) === r.base;
}

/** True when `address` lies in any of the ranges. Unparseable addresses match nothing. */
export function matchesAny(address: string, ranges: readonly CidrRange[]): boolean {
  const v = parseAddress(address);
  return v !== undefined && ranges.some((r) => inRange(v, r));
}

/** The RFC 5952 text form of 16 address bytes: lower-case hex, the first longest run of 2+ zero groups as "::". */
export function ipv6ToText(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)).toString(16));
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
