import type { Logger } from '../../util/log.js';
import { selectInterfaces, type Ipv4Interface } from './interfaces.js';
import { MdnsService } from './mdns.js';
import { NetbiosNameService } from './nbns.js';
import { WsDiscoveryService } from './wsd.js';

/** Which discovery services run (config/schema.ts holds the switches and their defaults). */
export interface DiscoveryOptions {
  netbiosNameService: boolean;
  mdns: boolean;
  /** TXT model= of the _device-info._tcp record. */
  mdnsModel: string;
  wsDiscovery: boolean;
}

export interface DiscoveryContext {
  name: string;
  workgroup: string;
  /** Hosts of every SMB listener (direct TCP and NetBIOS session). */
  hosts: readonly string[];
  /** The direct-TCP port announced by mDNS. */
  smbPort: number;
  log: Logger;
  admits: (address: string) => boolean;
  /** Override of the machine's interfaces (tests). */
  interfaces?: readonly Ipv4Interface[];
}

interface Service {
  close(): Promise<void>;
}

/** The running discovery services; close() says goodbye on each and stops them. */
export class Discovery {
  private readonly services: Service[] = [];

  static async start(o: DiscoveryOptions, c: DiscoveryContext): Promise<Discovery> {
    const d = new Discovery();
    try {
      if (o.netbiosNameService) {
        const s = new NetbiosNameService({ name: c.name, workgroup: c.workgroup, hosts: c.hosts, log: c.log, admits: c.admits, ...(c.interfaces ? { interfaces: c.interfaces } : {}) });
        await s.start();
        d.services.push(s);
      }
      const multicast = o.mdns || o.wsDiscovery ? selectInterfaces(c.hosts, true, c.interfaces) : [];
      if ((o.mdns || o.wsDiscovery) && multicast.length === 0) {
        c.log.warn('discovery: no multicast-capable IPv4 interface among the listen addresses; mDNS and WS-Discovery stay off');
      }
      if (o.mdns && multicast.length > 0) {
        const s = new MdnsService({ name: c.name, port: c.smbPort, model: o.mdnsModel, interfaces: multicast, log: c.log });
        await s.start();
        d.services.push(s);
      }
      if (o.wsDiscovery && multicast.length > 0) {
        const s = new WsDiscoveryService({ name: c.name, workgroup: c.workgroup, interfaces: multicast, log: c.log, admits: c.admits });
        await s.start();
        d.services.push(s);
      }
    } catch (err) {
      await d.close();
      throw err;
    }
    return d;
  }

  async close(): Promise<void> {
    await Promise.all(this.services.splice(0).map((s) => s.close()));
  }
}
