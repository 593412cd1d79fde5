import type { Socket } from 'node:dgram';

/** Binds a UDP socket; rejects with a plain message naming the service and address. */
export function bindUdp(s: Socket, address: string, port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'address in use' : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : err.message;
      reject(new Error(`${what}: cannot bind ${address}:${port}: ${why}`));
    };
    s.once('error', onError);
    s.bind({ address, port, exclusive: true }, () => {
      s.off('error', onError);
      // Errors after binding (an unreachable peer, a full buffer) concern one datagram, never the service.
      s.on('error', () => {});
      resolve();
    });
  });
}

export function closeUdp(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      s.close(() => resolve());
    } catch {
      resolve(); // never bound, or already closed
    }
  });
}
