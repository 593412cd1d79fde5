/**
 * A loopback TCP proxy between a client and a server that flips one byte in one client-to-server SMB frame: the
 * first frame at least `minFrameSize` long (a WRITE, for a put). It parses the direct-TCP framing only to find
 * frame boundaries; the bytes themselves pass through untouched otherwise.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TamperProxy {
  port: number;
  /** How many frames were altered so far. */
  readonly tampered: number;
  close(): Promise<void>;
}

export async function startTamperProxy(o: { listenHost: string; listenPort: number; targetHost: string; targetPort: number; minFrameSize: number }): Promise<TamperProxy> {
  let tampered = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(o.targetPort, o.targetHost);
    sockets.add(client);
    sockets.add(upstream);
    let pending = Buffer.alloc(0);
    let remaining = 0; // bytes left of the current frame's payload
    let flipAt = -1; // offset inside the current payload to flip, or -1
    client.on('data', (chunk: Buffer) => {
      // Walk frame boundaries; flip one byte of the first large frame.
      let buf = pending.length ? Buffer.concat([pending, chunk]) : Buffer.from(chunk);
      pending = Buffer.alloc(0);
      let i = 0;
      while (i < buf.length) {
        if (remaining === 0) {
          if (buf.length - i < 4) {
            pending = buf.subarray(i);
            buf = buf.subarray(0, i);
            break;
          }
          remaining = buf.readUInt32BE(i) & 0xffffff;
          flipAt = tampered === 0 && remaining >= o.minFrameSize ? Math.floor(remaining / 2) : -1;
          i += 4;
          continue;
        }
        const take = Math.min(remaining, buf.length - i);
        // flipAt counts from the current position in the payload.
        if (flipAt >= 0 && flipAt < take) {
          buf[i + flipAt] = buf[i + flipAt]! ^ 0x01;
          tampered++;
          flipAt = -1;
        } else if (flipAt >= 0) {
          flipAt -= take;
        }
        remaining -= take;
        i += take;
      }
      upstream.write(buf);
    });
    upstream.on('data', (d) => client.write(d));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.listenPort, o.listenHost, () => resolve());
  });
  return {
    port: o.listenPort,
    get tampered() {
      return tampered;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
