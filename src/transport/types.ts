/** A message transport: delivers whole SMB messages and sends framed ones. Knows nothing of SMB itself. */
export interface Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** 'direct' = TCP 445 framing; 'netbios' = NetBIOS session service (139). */
  readonly kind: 'direct' | 'netbios';
  /** Sends one message made of chunks (framed as one). The chunks are not copied; `onWritten` runs once the
   * socket no longer needs them (or the connection is gone). */
  send(chunks: readonly Buffer[], onWritten?: () => void): void;
  /** Closes the connection (pending writes are flushed first unless `destroy`). */
  close(destroy?: boolean): void;
  /** True while the peer is not draining what we send (the server should stop reading new work). */
  readonly congested: boolean;
  /** Resolves once what was sent has drained (or the connection closed). */
  drained(): Promise<void>;
  /** Stops / restarts delivering received messages (backpressure). */
  pause(): void;
  resume(): void;
  onMessage: (payload: Buffer) => void;
  onClose: (reason: string) => void;
}
