import { createWriteStream, type WriteStream } from 'node:fs';
import type { EventEmitter } from 'node:events';

/** The events written to the audit log, one JSON object per line. */
export const AUDIT_EVENTS = [
  'connect',
  'refused',
  'auth-success',
  'auth-failure',
  'blocked',
  'tree-connect',
  'tree-refused',
  'create',
  'delete',
  'rename',
  'disconnect',
] as const;

/**
 * Writes the server's security events as JSON lines (`{"time":...,"event":"auth-failure",...}`) to a file
 * (appended, mode 0600) or to standard output ("-").
 */
export class AuditLog {
  private readonly out: WriteStream | NodeJS.WriteStream;
  private readonly owned: boolean;

  constructor(destination: string) {
    if (destination === '-') {
      this.out = process.stdout;
      this.owned = false;
    } else {
      this.out = createWriteStream(destination, { flags: 'a', mode: 0o600 });
      this.owned = true;
    }
  }

  write(event: string, fields: Record<string, unknown>): void {
    const line = JSON.stringify({ time: new Date().toISOString(), event, ...fields }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    this.out.write(line + '\n');
  }

  /** Writes every audit event the emitter emits. */
  attach(events: EventEmitter): void {
    for (const e of AUDIT_EVENTS) events.on(e, (fields: Record<string, unknown>) => this.write(e, fields));
  }

  close(): Promise<void> {
    if (!this.owned) return Promise.resolve();
    return new Promise((resolve) => (this.out as WriteStream).end(() => resolve()));
  }
}
