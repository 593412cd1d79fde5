import { WireError } from '../../errors.js';
import {
  Tag,
  children,
  contextTag,
  decodeOid,
  decodeOne,
  decodeSmallInt,
  enumerated,
  explicit,
  octetString,
  oid,
  sequence,
  tlv,
} from './asn1.js';

/** OIDs met in SMB security buffers. */
export const Oid = {
  SPNEGO: '1.3.6.1.5.5.2',
  NTLMSSP: '1.3.6.1.4.1.311.2.2.10',
  /** NEGOEX (MS-NEGOEX), which Windows advertises; we decline it. */
  NEGOEX: '1.3.6.1.4.1.311.2.2.30',
  KERBEROS: '1.2.840.113554.1.2.2',
  /** The "MS KRB5" OID Windows clients send (a historical mis-encoding of the Kerberos OID). */
  MS_KERBEROS: '1.2.840.48018.1.2.2',
  KERBEROS_USER_TO_USER: '1.2.840.113554.1.2.2.3',
} as const;

/** The hint name Windows puts in NegTokenInit2 (MS-SPNG 2.2.1). */
export const NEG_HINT_NAME = 'not_defined_in_RFC4178@please_ignore';

/** RFC 4178 4.2.2 negState. */
export const NegState = {
  ACCEPT_COMPLETED: 0,
  ACCEPT_INCOMPLETE: 1,
  REJECT: 2,
  REQUEST_MIC: 3,
} as const;

export interface NegTokenInit {
  kind: 'init';
  mechTypes: string[];
  /**
   * The DER of the MechTypeList exactly as received (or as we encoded it): the input to mechListMIC
   * (RFC 4178 5: "the DER encoding of the mechTypes").
   */
  mechTypesDer: Buffer;
  reqFlags?: Buffer;
  mechToken?: Buffer;
  /** MS-SPNG NegTokenInit2 negHints.hintName. */
  hintName?: string;
  mechListMIC?: Buffer;
}

export interface NegTokenResp {
  kind: 'resp';
  negState?: number;
  supportedMech?: string;
  responseToken?: Buffer;
  mechListMIC?: Buffer;
}

export type NegotiationToken = NegTokenInit | NegTokenResp;

function decodeMechTypeList(der: Buffer): string[] {
  const seq = decodeOne(der);
  if (seq.tag !== Tag.SEQUENCE) throw new WireError('SPNEGO: MechTypeList is not a SEQUENCE');
  const r = children(seq);
  const out: string[] = [];
  while (!r.done) {
    if (out.length >= 32) throw new WireError('SPNEGO: too many mechTypes');
    out.push(decodeOid(r.expect(Tag.OID, 'mech OID').content));
  }
  return out;
}

function decodeInit(content: Buffer): NegTokenInit {
  const seq = decodeOne(content);
  if (seq.tag !== Tag.SEQUENCE) throw new WireError('SPNEGO: NegTokenInit is not a SEQUENCE');
  const r = children(seq);
  const tok: NegTokenInit = { kind: 'init', mechTypes: [], mechTypesDer: Buffer.alloc(0) };
  let sawMechTypes = false;
  let last = -1;
  while (!r.done) {
    const el = r.next();
    const n = el.tag - 0xa0;
    if (n < 0 || n > 4 || n <= last) throw new WireError('SPNEGO: unexpected NegTokenInit field');
    last = n;
    const inner = decodeOne(el.content);
    switch (n) {
      case 0:
        tok.mechTypesDer = inner.raw;
        tok.mechTypes = decodeMechTypeList(inner.raw);
        sawMechTypes = true;
        break;
      case 1:
        if (inner.tag !== Tag.BIT_STRING) throw new WireError('SPNEGO: reqFlags is not a BIT STRING');
        tok.reqFlags = inner.content;
        break;
      case 2:
        if (inner.tag !== Tag.OCTET_STRING) throw new WireError('SPNEGO: mechToken is not an OCTET STRING');
        tok.mechToken = inner.content;
        break;
      case 3:
        // RFC 4178: mechListMIC OCTET STRING; MS-SPNG NegTokenInit2: negHints SEQUENCE.
        if (inner.tag === Tag.OCTET_STRING) {
          tok.mechListMIC = inner.content;
        } else if (inner.tag === Tag.SEQUENCE) {
          const hints = children(inner);
          while (!hints.done) {
            const h = hints.next();
            if (h.tag === contextTag(0)) {
              const name = decodeOne(h.content);
              if (name.tag !== Tag.GENERAL_STRING) throw new WireError('SPNEGO: hintName is not a GeneralString');
              tok.hintName = name.content.toString('latin1');
            }
          }
        } else {
          throw new WireError('SPNEGO: bad NegTokenInit [3]');
        }
        break;
      case 4:
        if (inner.tag !== Tag.OCTET_STRING) throw new WireError('SPNEGO: mechListMIC is not an OCTET STRING');
        tok.mechListMIC = inner.content;
        break;
    }
  }
  if (!sawMechTypes) throw new WireError('SPNEGO: NegTokenInit without mechTypes');
  return tok;
}

function decodeResp(content: Buffer): NegTokenResp {
  const seq = decodeOne(content);
  if (seq.tag !== Tag.SEQUENCE) throw new WireError('SPNEGO: NegTokenResp is not a SEQUENCE');
  const r = children(seq);
  const tok: NegTokenResp = { kind: 'resp' };
  let last = -1;
  while (!r.done) {
    const el = r.next();
    const n = el.tag - 0xa0;
    if (n < 0 || n > 3 || n <= last) throw new WireError('SPNEGO: unexpected NegTokenResp field');
    last = n;
    const inner = decodeOne(el.content);
    switch (n) {
      case 0:
        if (inner.tag !== Tag.ENUMERATED) throw new WireError('SPNEGO: negState is not ENUMERATED');
        tok.negState = decodeSmallInt(inner.content);
        break;
      case 1:
        if (inner.tag !== Tag.OID) throw new WireError('SPNEGO: supportedMech is not an OID');
        tok.supportedMech = decodeOid(inner.content);
        break;
      case 2:
        if (inner.tag !== Tag.OCTET_STRING) throw new WireError('SPNEGO: responseToken is not an OCTET STRING');
        tok.responseToken = inner.content;
        break;
      case 3:
        if (inner.tag !== Tag.OCTET_STRING) throw new WireError('SPNEGO: mechListMIC is not an OCTET STRING');
        tok.mechListMIC = inner.content;
        break;
    }
  }
  return tok;
}

/**
 * Decodes a security buffer holding SPNEGO: the GSS InitialContextToken ([APPLICATION 0] { SPNEGO OID,
 * NegTokenInit }), or a bare NegotiationToken ([0] NegTokenInit / [1] NegTokenResp).
 */
export function decodeSpnego(buf: Buffer): NegotiationToken {
  const outer = decodeOne(buf);
  if (outer.tag === Tag.APPLICATION_0) {
    const r = children(outer);
    const mech = decodeOid(r.expect(Tag.OID, 'GSS mech OID').content);
    if (mech !== Oid.SPNEGO) throw new WireError(`GSS token for ${mech}, not SPNEGO`);
    const inner = r.next();
    if (!r.done) throw new WireError('SPNEGO: trailing bytes in InitialContextToken');
    return decodeNegotiationToken(inner.tag, inner.content);
  }
  return decodeNegotiationToken(outer.tag, outer.content);
}

function decodeNegotiationToken(tag: number, content: Buffer): NegotiationToken {
  if (tag === contextTag(0)) return decodeInit(content);
  if (tag === contextTag(1)) return decodeResp(content);
  throw new WireError(`SPNEGO: unknown NegotiationToken tag 0x${tag.toString(16)}`);
}

/** The DER of a MechTypeList. */
export function encodeMechTypeList(mechTypes: readonly string[]): Buffer {
  return sequence(...mechTypes.map(oid));
}

export interface NegTokenInitFields {
  mechTypes: readonly string[];
  mechToken?: Buffer;
  /** Writes the MS-SPNG NegTokenInit2 negHints with this hintName (what servers send in NEGOTIATE). */
  hintName?: string;
  mechListMIC?: Buffer;
}

/** Encodes a NegTokenInit inside the GSS InitialContextToken (as both SMB clients and servers send it). */
export function encodeNegTokenInit(f: NegTokenInitFields): Buffer {
  const fields: Buffer[] = [explicit(0, encodeMechTypeList(f.mechTypes))];
  if (f.mechToken !== undefined) fields.push(explicit(2, octetString(f.mechToken)));
  if (f.hintName !== undefined) {
    fields.push(explicit(3, sequence(explicit(0, tlv(Tag.GENERAL_STRING, Buffer.from(f.hintName, 'latin1'))))));
    if (f.mechListMIC !== undefined) fields.push(explicit(4, octetString(f.mechListMIC)));
  } else if (f.mechListMIC !== undefined) {
    fields.push(explicit(3, octetString(f.mechListMIC)));
  }
  return tlv(Tag.APPLICATION_0, oid(Oid.SPNEGO), explicit(0, sequence(...fields)));
}

export interface NegTokenRespFields {
  negState?: number;
  supportedMech?: string;
  responseToken?: Buffer;
  mechListMIC?: Buffer;
}

/** Encodes a NegTokenResp as [1] NegTokenResp (never GSS-wrapped: RFC 4178 4.2). */
export function encodeNegTokenResp(f: NegTokenRespFields): Buffer {
  const fields: Buffer[] = [];
  if (f.negState !== undefined) fields.push(explicit(0, enumerated(f.negState)));
  if (f.supportedMech !== undefined) fields.push(explicit(1, oid(f.supportedMech)));
  if (f.responseToken !== undefined) fields.push(explicit(2, octetString(f.responseToken)));
  if (f.mechListMIC !== undefined) fields.push(explicit(3, octetString(f.mechListMIC)));
  return explicit(1, sequence(...fields));
}
