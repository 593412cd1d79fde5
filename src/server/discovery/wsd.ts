import { createHash, randomInt, randomUUID } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { WireError } from '../../errors.js';
import {
  Action,
  ANONYMOUS,
  buildEnvelope,
  byeBody,
  DISCOVERY_URN,
  getResponseBody,
  helloBody,
  parseProbe,
  parseResolve,
  parseSoapEnvelope,
  probeMatches,
  probeMatchesBody,
  resolveMatchesBody,
  WSD_HTTP_PORT,
  WSD_MAX_DATAGRAM,
  WSD_MULTICAST_V4,
  WSD_PORT,
  type DeviceMetadata,
  type EnvelopeHeader,
  type SoapMessage,
  type TargetDescription,
} from '../../protocol/wsd/messages.js';
import type { Logger } from '../../util/log.js';
import { onSubnet, type Ipv4Interface } from './interfaces.js';
import { bindUdp, closeUdp } from './udp.js';

/**
 * WS-Discovery target service (WS-Discovery 2005/04 over SOAP-over-UDP) plus the DPWS metadata that Windows fetches
 * over HTTP: what makes the server appear in Explorer's Network view. One UDP socket and one HTTP listener per
 * selected interface; each answers only askers on its own subnet.
 */

/** SOAP-over-UDP 1.1 Appendix I: how often a datagram is sent, and the retransmission delays. */
const MULTICAST_UDP_REPEAT = 4;
const UNICAST_UDP_REPEAT = 2;
const UDP_MIN_DELAY = 50;
const UDP_MAX_DELAY = 250;
const UDP_UPPER_DELAY = 500;
/** WS-Discovery 2005/04, 2.4: a reply to a multicast Probe or Resolve waits a random time up to this. */
const APP_MAX_DELAY = 500;
/** Message ids remembered to drop the retransmissions of one message. */
const KNOWN_MESSAGES = 64;
const HTTP_MAX_BODY = 32 * 1024;
const HTTP_TIMEOUT_MS = 10_000;
const HTTP_MAX_CONNECTIONS = 32;
/** Byes are sent this often at shutdown (fewer than MULTICAST_UDP_REPEAT, so closing stays quick). */
const BYE_REPEAT = 2;

/** A name-based UUID (RFC 4122 4.3, SHA-1): the same server name gives the same endpoint after a restart. */
export function endpointUuid(name: string, workgroup: string): string {
  const ns = Buffer.from('6ba7b8109dad11d180b400c04fd430c8', 'hex'); // the RFC 4122 DNS namespace
  const h = createHash('sha1').update(ns).update(`smbkit:${name.toUpperCase()}/${workgroup.toUpperCase()}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export interface WsdServiceOptions {
  name: string;
  workgroup: string;
  interfaces: readonly Ipv4Interface[];
  log: Logger;
  admits: (address: string) => boolean;
}

interface Link {
  iface: Ipv4Interface;
  udp: Socket;
  http: HttpServer;
}

export class WsDiscoveryService {
  private readonly opts: WsdServiceOptions;
  readonly uuid: string;
  private readonly endpoint: string;
  private readonly instanceId = Math.floor(Date.now() / 1000);
  private messageNumber = 1;
  private readonly links: Link[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly known: string[] = [];
  private closing = false;

  constructor(opts: WsdServiceOptions) {
    this.opts = opts;
    this.uuid = endpointUuid(opts.name, opts.workgroup);
    this.endpoint = `urn:uuid:${this.uuid}`;
  }

  async start(): Promise<void> {
    try {
      for (const iface of this.opts.interfaces) this.links.push(await this.open(iface));
    } catch (err) {
      await this.shutdown();
      throw err;
    }
    for (const l of this.links) {
      this.later(randomInt(APP_MAX_DELAY), () => this.multicast(l, this.envelope(DISCOVERY_URN, Action.HELLO, helloBody(this.target(l)))));
    }
    this.opts.log.info('ws-discovery', { endpoint: this.endpoint, interfaces: this.links.map((l) => l.iface.address).join(',') });
  }

  private async open(iface: Ipv4Interface): Promise<Link> {
    const udp = createSocket({ type: 'udp4', reuseAddr: true });
    const http = createServer({ maxHeaderSize: 8192, requestTimeout: HTTP_TIMEOUT_MS, headersTimeout: HTTP_TIMEOUT_MS }, (req, res) => this.onHttp(link, req, res));
    const link: Link = { iface, udp, http };
    try {
      // The socket binds the wildcard address: multicast datagrams reach only sockets bound to it (or to the group).
      await bindUdp(udp, '0.0.0.0', WSD_PORT, 'WS-Discovery');
      udp.addMembership(WSD_MULTICAST_V4, iface.address);
      udp.setMulticastInterface(iface.address);
      udp.setMulticastTTL(1);
      await new Promise<void>((resolve, reject) => {
        http.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`WS-Discovery metadata: cannot listen on ${iface.address}:${WSD_HTTP_PORT}: ${err.code ?? err.message}`)));
        http.listen({ host: iface.address, port: WSD_HTTP_PORT, exclusive: true }, () => resolve());
      });
    } catch (err) {
      await closeUdp(udp);
      if (http.listening) http.close();
      throw err;
    }
    udp.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onDatagram(link, msg, rinfo));
    http.maxConnections = HTTP_MAX_CONNECTIONS;
    http.keepAliveTimeout = 5_000;
    http.on('clientError', (_err, socket) => socket.destroy());
    http.on('error', (err) => this.opts.log.warn('ws-discovery http error', { error: err.message }));
    return link;
  }

  private target(l: Link): TargetDescription {
    return { endpoint: this.endpoint, xaddrs: [`http://${l.iface.address}:${WSD_HTTP_PORT}/${this.uuid}`], metadataVersion: 1 };
  }

  private envelope(to: string, action: string, body: string, relatesTo?: string): Buffer {
    const h: EnvelopeHeader = { to, action, messageId: `urn:uuid:${randomUUID()}`, appSequence: { instanceId: this.instanceId, messageNumber: this.messageNumber++ } };
    if (relatesTo !== undefined) h.relatesTo = relatesTo;
    return Buffer.from(buildEnvelope(h, body), 'utf8');
  }

  /** Remembers a message id; false when it was seen already (a retransmission). */
  private firstSighting(id: string): boolean {
    if (this.known.includes(id)) return false;
    this.known.push(id);
    if (this.known.length > KNOWN_MESSAGES) this.known.shift();
    return true;
  }

  private onDatagram(l: Link, msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closing || !onSubnet(rinfo.address, l.iface) || !this.opts.admits(rinfo.address)) return;
    try {
      if (msg.length > WSD_MAX_DATAGRAM) throw new WireError('WS-Discovery datagram too large');
      const m = parseSoapEnvelope(msg);
      if (!this.firstSighting(m.messageId)) return;
      const reply = this.answer(l, m);
      if (reply) this.later(randomInt(APP_MAX_DELAY), () => this.unicast(l, reply, rinfo));
    } catch (err) {
      if (err instanceof WireError) this.opts.log.debug('ws-discovery: malformed message', { from: rinfo.address, error: err.message });
      else this.opts.log.error('ws-discovery: internal error', { error: (err as Error).message });
    }
  }

  private answer(l: Link, m: SoapMessage): Buffer | undefined {
    if (m.action === Action.PROBE) {
      if (!probeMatches(parseProbe(m.body))) return undefined;
      return this.envelope(ANONYMOUS, Action.PROBE_MATCHES, probeMatchesBody(this.target(l)), m.messageId);
    }
    if (m.action === Action.RESOLVE) {
      if (parseResolve(m.body) !== this.endpoint) return undefined;
      return this.envelope(ANONYMOUS, Action.RESOLVE_MATCHES, resolveMatchesBody(this.target(l)), m.messageId);
    }
    return undefined;
  }

  private metadata(): DeviceMetadata {
    return {
      endpoint: this.endpoint,
      friendlyName: `smbkit ${this.opts.name}`,
      manufacturer: 'smbkit',
      modelName: 'smbkit',
      firmwareVersion: '1.0',
      serialNumber: this.uuid,
      computerName: this.opts.name.toUpperCase(),
      workgroup: this.opts.workgroup.toUpperCase(),
      domainMember: false,
    };
  }

  private onHttp(l: Link, req: IncomingMessage, res: ServerResponse): void {
    const remote = req.socket.remoteAddress ?? '';
    const finish = (status: number, body?: string): void => {
      if (body === undefined) res.writeHead(status, { 'Content-Length': 0, Connection: 'close' }).end();
      else res.writeHead(status, { 'Content-Type': 'application/soap+xml; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }).end(body);
    };
    if (!this.opts.admits(remote.startsWith('::ffff:') ? remote.slice(7) : remote)) {
      req.socket.destroy();
      return;
    }
    if (req.method !== 'POST') return finish(405);
    if (req.url !== `/${this.uuid}`) return finish(404);
    if (!/^application\/soap\+xml\b/i.test(req.headers['content-type'] ?? '')) return finish(415);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > HTTP_MAX_BODY) return finish(413);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > HTTP_MAX_BODY) {
        finish(413);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (size > HTTP_MAX_BODY) return;
      try {
        const m = parseSoapEnvelope(Buffer.concat(chunks));
        if (m.action !== Action.GET) return finish(400);
        finish(200, buildEnvelope({ to: ANONYMOUS, action: Action.GET_RESPONSE, messageId: `urn:uuid:${randomUUID()}`, relatesTo: m.messageId }, getResponseBody(this.metadata())));
        this.opts.log.debug('ws-discovery metadata', { from: remote, interface: l.iface.address });
      } catch (err) {
        if (!(err instanceof WireError)) this.opts.log.error('ws-discovery: internal error', { error: (err as Error).message });
        finish(400);
      }
    });
    req.on('error', () => req.destroy());
  }

  /** Runs `f` after `ms`, unless the service closes first. */
  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      f();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /** Sends now and repeats per SOAP-over-UDP (random first delay, doubling up to a cap). */
  private repeat(send: () => void, times: number): void {
    send();
    let delay = UDP_MIN_DELAY + randomInt(UDP_MAX_DELAY - UDP_MIN_DELAY + 1);
    let at = 0;
    for (let i = 1; i < times; i++) {
      at += delay;
      this.later(at, send);
      delay = Math.min(delay * 2, UDP_UPPER_DELAY);
    }
  }

  private unicast(l: Link, msg: Buffer, to: RemoteInfo): void {
    this.repeat(() => l.udp.send(msg, to.port, to.address, () => {}), UNICAST_UDP_REPEAT);
  }

  private multicast(l: Link, msg: Buffer, times = MULTICAST_UDP_REPEAT): void {
    this.repeat(() => l.udp.send(msg, WSD_PORT, WSD_MULTICAST_V4, () => {}), times);
  }

  /** Says Bye on every interface, then closes. */
  async close(): Promise<void> {
    if (this.closing) return;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const byes = this.links.map(
      (l) =>
        new Promise<void>((resolve) => {
          const msg = this.envelope(DISCOVERY_URN, Action.BYE, byeBody(this.endpoint));
          let left = BYE_REPEAT;
          const send = (): void => {
            l.udp.send(msg, WSD_PORT, WSD_MULTICAST_V4, () => {
              if (--left === 0) resolve();
              else setTimeout(send, UDP_MIN_DELAY);
            });
          };
          send();
        }),
    );
    this.closing = true;
    await Promise.all(byes);
    await this.shutdown();
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const links = this.links.splice(0);
    await Promise.all(
      links.map(async (l) => {
        await closeUdp(l.udp);
        await new Promise<void>((r) => {
          if (!l.http.listening) return r();
          l.http.close(() => r());
          l.http.closeAllConnections();
        });
      }),
    );
  }
}
