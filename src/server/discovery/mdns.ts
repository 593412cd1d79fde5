import { randomInt } from 'node:crypto';
import type { RemoteInfo } from 'node:dgram';
import type { Answer, Question, SrvAnswer, StringAnswer, TxtAnswer } from 'dns-packet';
import makeMdns from 'multicast-dns';
import type { Logger } from '../../util/log.js';
import { onSubnet, type Ipv4Interface } from './interfaces.js';

/**
 * Multicast DNS responder (RFC 6762) publishing the server by DNS-SD (RFC 6763): `_smb._tcp` with its SRV, TXT and
 * host address, and `_device-info._tcp` with the model macOS picks an icon by. One responder per selected
 * interface; each answers only queries from its own subnet and gives out only that interface's address. It does
 * not probe for name conflicts (RFC 6762 8.1): choose a server name unique on the link.
 */

export const MDNS_PORT = 5353;
/** RFC 6762 10: records naming a host (SRV, A) live 120 s; the others 75 minutes. */
const HOST_TTL = 120;
const OTHER_TTL = 4500;
/** RFC 6762 6.7: the TTL cap of answers to legacy unicast queries. */
const LEGACY_TTL = 10;
/** RFC 6762 8.3: announcements are repeated after one second. */
const ANNOUNCE_INTERVAL_MS = 1000;
/** dns-packet reports a class with the top (unicast-response) bit set as UNKNOWN_<n>: IN is 1, ANY is 255. */
const QU_CLASSES = new Set(['UNKNOWN_32769', 'UNKNOWN_33023']);
const QUERY_CLASSES = new Set(['IN', 'ANY', ...QU_CLASSES]);

const SERVICES = '_services._dns-sd._udp.local';
const SMB_SERVICE = '_smb._tcp.local';
const DEVICE_INFO = '_device-info._tcp.local';

export interface MdnsZone {
  /** The service instance label (the name Finder shows). */
  instance: string;
  /** The host label; the host is `<host>.local`. */
  host: string;
  /** The SMB port. */
  port: number;
  /** IPv4 addresses of the host on this link. */
  addresses: readonly string[];
  /** TXT model= of _device-info._tcp. */
  model: string;
}

/** The record kinds this responder publishes. */
type ZoneAnswer = StringAnswer | SrvAnswer | TxtAnswer;

interface ZoneRecord {
  answer: ZoneAnswer;
  /** Unique records carry the cache-flush bit in multicast responses (RFC 6762 10.2); shared ones (PTR) do not. */
  unique: boolean;
}

/** A DNS label from the server name: dots would split it, so they become dashes. */
export function instanceLabel(name: string): string {
  return name.replace(/\./g, '-');
}

/** A host label (letters, digits, dashes; RFC 952/1123) from the server name. */
export function hostLabel(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/^-+|-+$/g, '') || 'smbkit'
  );
}

export function zoneRecords(z: MdnsZone): ZoneRecord[] {
  const instance = `${z.instance}.${SMB_SERVICE}`;
  const host = `${z.host}.local`;
  const deviceInfo = `${z.instance}.${DEVICE_INFO}`;
  return [
    { answer: { name: SERVICES, type: 'PTR', ttl: OTHER_TTL, data: SMB_SERVICE }, unique: false },
    { answer: { name: SMB_SERVICE, type: 'PTR', ttl: OTHER_TTL, data: instance }, unique: false },
    { answer: { name: instance, type: 'SRV', ttl: HOST_TTL, data: { priority: 0, weight: 0, port: z.port, target: host } }, unique: true },
    // RFC 6763 6.1: a service with no attributes has a TXT record holding one empty string.
    { answer: { name: instance, type: 'TXT', ttl: OTHER_TTL, data: [Buffer.alloc(0)] }, unique: true },
    // _device-info is a pseudo-service: port 0, as Apple's and Avahi's responders publish it.
    { answer: { name: deviceInfo, type: 'SRV', ttl: HOST_TTL, data: { priority: 0, weight: 0, port: 0, target: host } }, unique: true },
    { answer: { name: deviceInfo, type: 'TXT', ttl: OTHER_TTL, data: [`model=${z.model}`] }, unique: true },
    ...z.addresses.map((a): ZoneRecord => ({ answer: { name: host, type: 'A', ttl: HOST_TTL, data: a }, unique: true })),
  ];
}

const sameName = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

function sameData(a: Answer, b: ZoneAnswer): boolean {
  if (a.type !== b.type || !sameName(a.name, b.name) || !('data' in a)) return false;
  if (typeof a.data === 'string' && typeof b.data === 'string') return sameName(a.data, b.data);
  return JSON.stringify(a.data) === JSON.stringify(b.data);
}

export interface MdnsAnswer {
  answers: ZoneRecord[];
  additionals: ZoneRecord[];
}

/**
 * The records answering `questions`, less those the asker listed as known with at least half their TTL left
 * (RFC 6762 7.1), plus the additional records DNS-SD recommends (RFC 6763 12).
 */
export function mdnsAnswer(questions: readonly Question[], known: readonly Answer[], records: readonly ZoneRecord[]): MdnsAnswer {
  const answers: ZoneRecord[] = [];
  for (const q of questions) {
    if (q.class !== undefined && !QUERY_CLASSES.has(q.class as string)) continue;
    for (const r of records) {
      if (!sameName(q.name, r.answer.name) || ((q.type as string) !== 'ANY' && q.type !== r.answer.type)) continue;
      if (known.some((k) => sameData(k, r.answer) && 'ttl' in k && (k.ttl ?? 0) >= (r.answer.ttl ?? 0) / 2)) continue;
      if (!answers.includes(r)) answers.push(r);
    }
  }
  const additionals: ZoneRecord[] = [];
  const add = (pred: (a: ZoneAnswer) => boolean): void => {
    for (const r of records) if (pred(r.answer) && !answers.includes(r) && !additionals.includes(r)) additionals.push(r);
  };
  for (const r of answers) {
    const a = r.answer;
    if (a.type === 'PTR' && sameName(a.name, SMB_SERVICE)) {
      add((x) => sameName(x.name, a.data) && (x.type === 'SRV' || x.type === 'TXT'));
      add((x) => x.type === 'A');
    }
    if (a.type === 'SRV') add((x) => x.type === 'A');
  }
  return { answers, additionals };
}

function outgoing(records: readonly ZoneRecord[], legacy: boolean, ttl?: number): Answer[] {
  return records.map((r) => {
    const a = { ...r.answer } as Answer & { flush?: boolean; ttl?: number };
    if (ttl !== undefined) a.ttl = ttl;
    else if (legacy) a.ttl = Math.min(a.ttl ?? LEGACY_TTL, LEGACY_TTL);
    if (r.unique && !legacy) a.flush = true;
    // dns-packet turns TXT strings into Buffers in place: give each packet its own array.
    if (a.type === 'TXT' && Array.isArray(a.data)) a.data = [...a.data];
    return a;
  });
}

export interface MdnsServiceOptions {
  name: string;
  port: number;
  model: string;
  interfaces: readonly Ipv4Interface[];
  log: Logger;
}

interface Responder {
  iface: Ipv4Interface;
  mdns: makeMdns.MulticastDNS;
  records: ZoneRecord[];
}

export class MdnsService {
  private readonly opts: MdnsServiceOptions;
  private readonly responders: Responder[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(opts: MdnsServiceOptions) {
    this.opts = opts;
  }

  async start(): Promise<void> {
    try {
      for (const iface of this.opts.interfaces) this.responders.push(await this.open(iface));
    } catch (err) {
      await this.destroy();
      throw err;
    }
    for (const r of this.responders) {
      this.announce(r);
      this.later(ANNOUNCE_INTERVAL_MS, () => this.announce(r));
    }
    const instance = instanceLabel(this.opts.name);
    this.opts.log.info('mdns', { service: `${instance}.${SMB_SERVICE}`, host: `${hostLabel(this.opts.name)}.local`, interfaces: this.responders.map((r) => r.iface.address).join(',') });
  }

  private open(iface: Ipv4Interface): Promise<Responder> {
    // Bound to the wildcard address (multicast reaches only such sockets); the membership and the outgoing
    // interface are the selected interface's.
    const mdns = makeMdns({ interface: iface.address, bind: '0.0.0.0', port: MDNS_PORT, reuseAddr: true });
    const r: Responder = {
      iface,
      mdns,
      records: zoneRecords({ instance: instanceLabel(this.opts.name), host: hostLabel(this.opts.name), port: this.opts.port, addresses: [iface.address], model: this.opts.model }),
    };
    return new Promise((resolve, reject) => {
      mdns.once('ready', () => {
        mdns.removeAllListeners('error');
        mdns.on('error', (err: Error) => this.opts.log.warn('mdns socket error', { error: err.message }));
        mdns.on('warning', () => {});
        mdns.on('query', (q, rinfo) => this.onQuery(r, q, rinfo));
        resolve(r);
      });
      mdns.once('error', (err: NodeJS.ErrnoException) => {
        mdns.destroy();
        reject(new Error(`mDNS: cannot bind 0.0.0.0:${MDNS_PORT} for ${iface.address}: ${err.code ?? err.message}`));
      });
    });
  }

  private onQuery(r: Responder, q: makeMdns.QueryPacket, rinfo: RemoteInfo): void {
    try {
      if (!onSubnet(rinfo.address, r.iface)) return;
      const questions = q.questions ?? [];
      const { answers, additionals } = mdnsAnswer(questions, q.answers ?? [], r.records);
      if (answers.length === 0) return;
      // RFC 6762 6.7: a query from a port other than 5353 is a legacy resolver's; answer it alone, by unicast.
      if (rinfo.port !== MDNS_PORT) {
        r.mdns.respond({ id: q.id ?? 0, questions, answers: outgoing(answers, true), additionals: outgoing(additionals, true) }, { port: rinfo.port, address: rinfo.address });
        return;
      }
      const packet = { answers: outgoing(answers, false), additionals: outgoing(additionals, false) };
      // RFC 6762 5.4: questions with the unicast-response bit may be answered by unicast.
      if (questions.every((x) => QU_CLASSES.has(x.class as string))) {
        r.mdns.respond(packet, { port: rinfo.port, address: rinfo.address });
        return;
      }
      // RFC 6762 6: shared records are answered after 20-120 ms, so several responders do not collide.
      if (answers.some((a) => !a.unique)) this.later(20 + randomInt(101), () => r.mdns.respond(packet));
      else r.mdns.respond(packet);
    } catch (err) {
      this.opts.log.debug('mdns: query not answered', { from: rinfo.address, error: (err as Error).message });
    }
  }

  private announce(r: Responder): void {
    r.mdns.respond({ answers: outgoing(r.records, false) });
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      f();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /** Sends goodbyes (every record with TTL 0, RFC 6762 10.1), then closes. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.responders.map((r) => new Promise<void>((resolve) => r.mdns.respond({ answers: outgoing(r.records, false, 0) }, () => resolve()))));
    await this.destroy();
  }

  private async destroy(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.responders.splice(0).map((r) => new Promise<void>((resolve) => r.mdns.destroy(() => resolve()))));
  }
}
