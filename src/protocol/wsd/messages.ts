import { WireError } from '../../errors.js';
import { descend, escapeXml, parseXml, qnameList, type QName, type XmlElement, type XmlLimits } from './xml.js';

/**
 * WS-Discovery 2005/04 messages (SOAP 1.2 over UDP, port 3702) and the DPWS 2006/02 metadata exchange a Windows
 * client runs over HTTP (WS-Transfer Get, port 5357; MS-PBSD names the pub:Computer element). Parsing reads the
 * few header fields and bodies a target service acts on; building writes whole envelopes as text.
 */

export const WSD_PORT = 3702;
export const WSD_HTTP_PORT = 5357;
export const WSD_MULTICAST_V4 = '239.255.255.250';
/** SOAP-over-UDP datagrams are limited to 32767 bytes of envelope here (and in every implementation seen). */
export const WSD_MAX_DATAGRAM = 32767;

export const Ns = {
  soap: 'http://www.w3.org/2003/05/soap-envelope',
  wsa: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  wsd: 'http://schemas.xmlsoap.org/ws/2005/04/discovery',
  wsx: 'http://schemas.xmlsoap.org/ws/2004/09/mex',
  wsdp: 'http://schemas.xmlsoap.org/ws/2006/02/devprof',
  pnpx: 'http://schemas.microsoft.com/windows/pnpx/2005/10',
  pub: 'http://schemas.microsoft.com/windows/pub/2005/07',
} as const;

export const Action = {
  HELLO: `${Ns.wsd}/Hello`,
  BYE: `${Ns.wsd}/Bye`,
  PROBE: `${Ns.wsd}/Probe`,
  PROBE_MATCHES: `${Ns.wsd}/ProbeMatches`,
  RESOLVE: `${Ns.wsd}/Resolve`,
  RESOLVE_MATCHES: `${Ns.wsd}/ResolveMatches`,
  GET: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Get',
  GET_RESPONSE: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse',
} as const;

/** wsa:To of multicast discovery messages (WS-Discovery 2005/04, 2.4). */
export const DISCOVERY_URN = 'urn:schemas-xmlsoap-org:ws:2005:04:discovery';
/** wsa:To of replies (WS-Addressing 2004/08 anonymous role). */
export const ANONYMOUS = `${Ns.wsa}/role/anonymous`;

/** The types a computer offering file shares declares: a DPWS device that is a pub:Computer. */
export const COMPUTER_TYPES: readonly QName[] = [
  { uri: Ns.wsdp, local: 'Device' },
  { uri: Ns.pub, local: 'Computer' },
];

export interface SoapMessage {
  action: string;
  messageId: string;
  to: string | undefined;
  relatesTo: string | undefined;
  /** The first element inside soap:Body, if any. */
  body: XmlElement | undefined;
}

const trimmed = (el: XmlElement | undefined): string | undefined => (el ? el.text.trim() : undefined);

/** Parses a SOAP 1.2 envelope with WS-Addressing headers; Action and MessageID are required. */
export function parseSoapEnvelope(input: Buffer, limits?: XmlLimits): SoapMessage {
  const env = parseXml(input, limits);
  if (env.uri !== Ns.soap || env.local !== 'Envelope') throw new WireError('not a SOAP 1.2 envelope');
  const header = descend(env, [Ns.soap, 'Header']);
  const action = trimmed(descend(header, [Ns.wsa, 'Action']));
  const messageId = trimmed(descend(header, [Ns.wsa, 'MessageID']));
  if (!action) throw new WireError('SOAP message without wsa:Action');
  if (!messageId) throw new WireError('SOAP message without wsa:MessageID');
  return {
    action,
    messageId,
    to: trimmed(descend(header, [Ns.wsa, 'To'])),
    relatesTo: trimmed(descend(header, [Ns.wsa, 'RelatesTo'])),
    body: descend(env, [Ns.soap, 'Body'])?.children[0],
  };
}

export interface Probe {
  types: QName[];
  /** Scope URIs asked for; empty when none. */
  scopes: string[];
}

/** A wsd:Probe body (WS-Discovery 2005/04, 5.2). */
export function parseProbe(body: XmlElement | undefined): Probe {
  if (!body || body.uri !== Ns.wsd || body.local !== 'Probe') throw new WireError('expected wsd:Probe');
  const types = descend(body, [Ns.wsd, 'Types']);
  const scopes = descend(body, [Ns.wsd, 'Scopes']);
  return { types: types ? qnameList(types) : [], scopes: scopes ? scopes.text.split(/\s+/).filter((s) => s.length > 0) : [] };
}

/** The endpoint address of a wsd:Resolve body (WS-Discovery 2005/04, 6.1). */
export function parseResolve(body: XmlElement | undefined): string {
  if (!body || body.uri !== Ns.wsd || body.local !== 'Resolve') throw new WireError('expected wsd:Resolve');
  const address = trimmed(descend(body, [Ns.wsa, 'EndpointReference'], [Ns.wsa, 'Address']));
  if (!address) throw new WireError('wsd:Resolve without an endpoint address');
  return address;
}

/**
 * A Probe matches when every type it names is one of ours and it names no scope (we declare none; WS-Discovery
 * 2005/04, 5.1: a Target Service without scopes matches only a Probe without scopes).
 */
export function probeMatches(p: Probe, ours: readonly QName[] = COMPUTER_TYPES): boolean {
  if (p.scopes.length > 0) return false;
  return p.types.every((t) => ours.some((o) => o.uri === t.uri && o.local === t.local));
}

export interface AppSequence {
  instanceId: number;
  messageNumber: number;
}

export interface EnvelopeHeader {
  to: string;
  action: string;
  messageId: string;
  relatesTo?: string;
  appSequence?: AppSequence;
}

const NS_DECLS = Object.entries(Ns)
  .map(([p, uri]) => ` xmlns:${p}="${uri}"`)
  .join('');

/** A whole SOAP envelope; `body` is already-escaped XML using the prefixes of Ns. */
export function buildEnvelope(h: EnvelopeHeader, body: string): string {
  let header = `<wsa:To>${escapeXml(h.to)}</wsa:To><wsa:Action>${escapeXml(h.action)}</wsa:Action><wsa:MessageID>${escapeXml(h.messageId)}</wsa:MessageID>`;
  if (h.relatesTo !== undefined) header += `<wsa:RelatesTo>${escapeXml(h.relatesTo)}</wsa:RelatesTo>`;
  if (h.appSequence) header += `<wsd:AppSequence InstanceId="${h.appSequence.instanceId}" MessageNumber="${h.appSequence.messageNumber}"/>`;
  return `<?xml version="1.0" encoding="utf-8"?><soap:Envelope${NS_DECLS}><soap:Header>${header}</soap:Header><soap:Body>${body}</soap:Body></soap:Envelope>`;
}

const TYPES = 'wsdp:Device pub:Computer';
const epr = (address: string): string => `<wsa:EndpointReference><wsa:Address>${escapeXml(address)}</wsa:Address></wsa:EndpointReference>`;
const xaddrsElement = (xaddrs: readonly string[]): string => (xaddrs.length ? `<wsd:XAddrs>${escapeXml(xaddrs.join(' '))}</wsd:XAddrs>` : '');

export interface TargetDescription {
  /** The endpoint address, urn:uuid:... */
  endpoint: string;
  /** Transport addresses of the metadata service (http://addr:5357/uuid). */
  xaddrs: readonly string[];
  metadataVersion: number;
}

export function helloBody(t: TargetDescription): string {
  return `<wsd:Hello>${epr(t.endpoint)}<wsd:Types>${TYPES}</wsd:Types>${xaddrsElement(t.xaddrs)}<wsd:MetadataVersion>${t.metadataVersion}</wsd:MetadataVersion></wsd:Hello>`;
}

export function byeBody(endpoint: string): string {
  return `<wsd:Bye>${epr(endpoint)}</wsd:Bye>`;
}

/** ProbeMatches leaves XAddrs out, as Windows does, so a client resolves the endpoint on the interface it uses. */
export function probeMatchesBody(t: TargetDescription): string {
  return `<wsd:ProbeMatches><wsd:ProbeMatch>${epr(t.endpoint)}<wsd:Types>${TYPES}</wsd:Types><wsd:MetadataVersion>${t.metadataVersion}</wsd:MetadataVersion></wsd:ProbeMatch></wsd:ProbeMatches>`;
}

export function resolveMatchesBody(t: TargetDescription): string {
  return `<wsd:ResolveMatches><wsd:ResolveMatch>${epr(t.endpoint)}<wsd:Types>${TYPES}</wsd:Types>${xaddrsElement(t.xaddrs)}<wsd:MetadataVersion>${t.metadataVersion}</wsd:MetadataVersion></wsd:ResolveMatch></wsd:ResolveMatches>`;
}

export function probeBody(types = 'wsdp:Device'): string {
  return `<wsd:Probe><wsd:Types>${escapeXml(types)}</wsd:Types></wsd:Probe>`;
}

export function resolveBody(endpoint: string): string {
  return `<wsd:Resolve>${epr(endpoint)}</wsd:Resolve>`;
}

export interface DeviceMetadata {
  endpoint: string;
  friendlyName: string;
  manufacturer: string;
  modelName: string;
  firmwareVersion: string;
  serialNumber: string;
  /** The host's NetBIOS name as Explorer shows it. */
  computerName: string;
  /** Workgroup name, or the domain when `domainMember`. */
  workgroup: string;
  domainMember: boolean;
}

/**
 * The GetResponse body: ThisDevice, ThisModel and the host Relationship (DPWS 2006/02, 5.1-5.3) whose
 * pub:Computer value "NAME/Workgroup:GROUP" (or "/Domain:") is what Windows' Network view reads (MS-PBSD).
 */
export function getResponseBody(m: DeviceMetadata): string {
  const computer = `${m.computerName}/${m.domainMember ? 'Domain' : 'Workgroup'}:${m.workgroup}`;
  return (
    `<wsx:Metadata>` +
    `<wsx:MetadataSection Dialect="${Ns.wsdp}/ThisDevice"><wsdp:ThisDevice>` +
    `<wsdp:FriendlyName>${escapeXml(m.friendlyName)}</wsdp:FriendlyName>` +
    `<wsdp:FirmwareVersion>${escapeXml(m.firmwareVersion)}</wsdp:FirmwareVersion>` +
    `<wsdp:SerialNumber>${escapeXml(m.serialNumber)}</wsdp:SerialNumber>` +
    `</wsdp:ThisDevice></wsx:MetadataSection>` +
    `<wsx:MetadataSection Dialect="${Ns.wsdp}/ThisModel"><wsdp:ThisModel>` +
    `<wsdp:Manufacturer>${escapeXml(m.manufacturer)}</wsdp:Manufacturer>` +
    `<wsdp:ModelName>${escapeXml(m.modelName)}</wsdp:ModelName>` +
    `<pnpx:DeviceCategory>Computers</pnpx:DeviceCategory>` +
    `</wsdp:ThisModel></wsx:MetadataSection>` +
    `<wsx:MetadataSection Dialect="${Ns.wsdp}/Relationship"><wsdp:Relationship Type="${Ns.wsdp}/host"><wsdp:Host>` +
    `${epr(m.endpoint)}<wsdp:Types>pub:Computer</wsdp:Types><wsdp:ServiceId>${escapeXml(m.endpoint)}</wsdp:ServiceId>` +
    `<pub:Computer>${escapeXml(computer)}</pub:Computer>` +
    `</wsdp:Host></wsdp:Relationship></wsx:MetadataSection>` +
    `</wsx:Metadata>`
  );
}
