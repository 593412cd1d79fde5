import { randomBytes } from 'node:crypto';

/** A GUID as its 16 wire bytes (MS-DTYP 2.3.4.2 layout). */
export function newGuid(): Buffer {
  return randomBytes(16);
}

/** The canonical text form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx of 16 wire bytes. */
export function guidToString(b: Buffer): string {
  const h = (s: Buffer) => s.toString('hex');
  const le = (s: Buffer) => h(Buffer.from(s).reverse());
  return `${le(b.subarray(0, 4))}-${le(b.subarray(4, 6))}-${le(b.subarray(6, 8))}-${h(b.subarray(8, 10))}-${h(b.subarray(10, 16))}`;
}

export function guidFromString(s: string): Buffer {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(s);
  if (!m) throw new TypeError(`not a GUID: ${s}`);
  const rev = (x: string) => Buffer.from(x, 'hex').reverse();
  return Buffer.concat([rev(m[1]!), rev(m[2]!), rev(m[3]!), Buffer.from(m[4]! + m[5]!, 'hex')]);
}
