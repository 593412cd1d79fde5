import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { WireError } from '../../errors.js';
import {
  decodeNbnsPacket,
  NameFlag,
  NameSuffix,
  NBNS_CLASS_IN,
  NBNS_PORT,
  NbFlag,
  NbnsOpcode,
  NbnsType,
  negativeNameQueryResponse,
  NmFlag,
  nodeStatusResponse,
  positiveNameQueryResponse,
  WILDCARD_NAME,
  type NbnsPacket,
  type NodeStatusName,
} from '../../protocol/netbios/name-service.js';
import type { Logger } from '../../util/log.js';
import { ipv4Interfaces, listenIpv4Hosts, onSubnet, type Ipv4Interface } from './interfaces.js';
import { bindUdp, closeUdp } from './udp.js';

/**
 * NetBIOS name service responder (RFC 1001/1002, B-node behaviour): answers name queries and node status
 * requests for the server's own names on UDP 137 of the addresses the server listens on. It answers only; it
 * does not register or defend names by broadcast, and is no WINS server.
 */

/** Seconds a positive answer may be cached (the TTL Windows gives its own names). */
const NAME_TTL = 300_000;

export interface NameTableEntry {
  name: string;
  suffix: number;
  group: boolean;
}

/** The names a file server holds (RFC 1001 15.1.1; the suffixes are Microsoft's convention). */
export function serverNameTable(name: string, workgroup: string): NameTableEntry[] {
  const n = name.toUpperCase();
  const g = workgroup.toUpperCase();
  return [
    { name: n, suffix: NameSuffix.WORKSTATION, group: false },
    { name: n, suffix: NameSuffix.FILE_SERVER, group: false },
    { name: g, suffix: NameSuffix.WORKSTATION, group: true },
    { name: g, suffix: NameSuffix.BROWSER_ELECTION, group: true },
  ];
}

/**
 * The reply to one request, or undefined for silence. `address` is the IPv4 address to give out. Broadcast
 * queries for other names go unanswered (RFC 1002 5.1.1); a directed query for another name gets a negative answer.
 */
export function nbnsReply(p: NbnsPacket, table: readonly NameTableEntry[], address: string): Buffer | undefined {
  if (p.response || p.opcode !== NbnsOpcode.QUERY || p.questions.length !== 1) return undefined;
  const q = p.questions[0]!;
  if (q.class !== NBNS_CLASS_IN) return undefined;
  const ours = q.name.scope === '' ? q.name.name.toUpperCase() : undefined;
  if (q.type === NbnsType.NB) {
    const hit = table.find((e) => e.name === ours && e.suffix === q.name.suffix);
    if (hit) return positiveNameQueryResponse(p, q.name, [{ flags: (hit.group ? NbFlag.GROUP : 0) | NbFlag.ONT_B, address }], NAME_TTL);
    return p.nmFlags & NmFlag.B ? undefined : negativeNameQueryResponse(p, q.name);
  }
  if (q.type === NbnsType.NBSTAT) {
    const wildcard = q.name.name === WILDCARD_NAME && q.name.suffix === 0 && q.name.scope === '';
    if (!wildcard && !table.some((e) => e.name === ours)) return undefined;
    const names: NodeStatusName[] = table.map((e) => ({ name: e.name, suffix: e.suffix, flags: NameFlag.ACT | (e.group ? NameFlag.GROUP : 0) }));
    return nodeStatusResponse(p, q.name, names);
  }
  return undefined;
}

export interface NbnsServiceOptions {
  name: string;
  workgroup: string;
  /** The hosts of the SMB listeners. */
  hosts: readonly string[];
  log: Logger;
  /** Whether a source address may be answered (the server's hosts lists). */
  admits: (address: string) => boolean;
  /** Override of the local interfaces (tests). */
  interfaces?: readonly Ipv4Interface[];
}

interface Binding {
  socket: Socket;
  /** The address to answer with, for a request from `source`. */
  answerFor: (source: string) => string | undefined;
  /** Where replies leave from (a broadcast socket answers through its unicast sibling). */
  reply: () => Socket;
}

export class NetbiosNameService {
  private readonly opts: NbnsServiceOptions;
  private readonly table: NameTableEntry[];
  private readonly sockets: Socket[] = [];

  constructor(opts: NbnsServiceOptions) {
    this.opts = opts;
    this.table = serverNameTable(opts.name, opts.workgroup);
  }

  /** Binds UDP 137 where the server listens (and each subnet's broadcast address, where broadcasts arrive). */
  async start(): Promise<void> {
    const hosts = listenIpv4Hosts(this.opts.hosts);
    const ifaces = this.opts.interfaces ?? ipv4Interfaces();
    try {
      if (hosts === 'wildcard') {
        const s = await this.bind('0.0.0.0');
        // With a wildcard socket the destination is unknown: answer with the address on the asker's subnet.
        const answerFor = (src: string): string | undefined => (ifaces.find((i) => !i.internal && onSubnet(src, i)) ?? ifaces.find((i) => onSubnet(src, i)))?.address;
        this.serve({ socket: s, answerFor, reply: () => s });
      } else {
        for (const host of hosts) {
          const s = await this.bind(host);
          this.serve({ socket: s, answerFor: () => host, reply: () => s });
          const bcast = ifaces.find((i) => i.address === host)?.broadcast;
          if (bcast !== undefined) {
            const b = await this.bind(bcast, true);
            this.serve({ socket: b, answerFor: () => host, reply: () => s });
          }
        }
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    this.opts.log.info('netbios name service', { names: this.table.map((e) => `${e.name}<${e.suffix.toString(16).padStart(2, '0')}>`).join(',') });
  }

  private async bind(address: string, shared = false): Promise<Socket> {
    const s = createSocket({ type: 'udp4', reuseAddr: shared });
    this.sockets.push(s);
    await bindUdp(s, address, NBNS_PORT, 'NetBIOS name service');
    return s;
  }

  private serve(b: Binding): void {
    b.socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.handle(b, msg, rinfo));
  }

  private handle(b: Binding, msg: Buffer, rinfo: RemoteInfo): void {
    try {
      if (!this.opts.admits(rinfo.address)) return;
      const address = b.answerFor(rinfo.address);
      if (address === undefined) return;
      const reply = nbnsReply(decodeNbnsPacket(msg), this.table, address);
      if (reply) b.reply().send(reply, rinfo.port, rinfo.address, () => {});
    } catch (err) {
      if (err instanceof WireError) this.opts.log.debug('netbios name service: malformed packet', { from: rinfo.address, error: err.message });
      else this.opts.log.error('netbios name service: internal error', { error: (err as Error).message });
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.sockets.splice(0).map(closeUdp));
  }
}
