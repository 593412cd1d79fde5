/**
 * The named pipes a server offers on IPC$: the built-in RPC pipes (srvsvc, wkssvc, lsarpc) and the pipes Node
 * applications register with `server.pipes.register(name, handler)`. Names are case-insensitive; a CREATE may
 * name a pipe with or without a leading backslash.
 */
import type { Logger } from '../../util/log.js';
import { PipeConnection } from './pipe-connection.js';
import type { PipeCaller, PipeEndpoint } from './pipe.js';

/** What a registered name stands for: who may open it, and what serves each open. */
export interface PipeService {
  readonly name: string;
  /** Built-in pipes cannot be replaced or unregistered. */
  readonly builtIn: boolean;
  admits(caller: PipeCaller): boolean;
  /** Attaches the backend that serves one open. */
  open(endpoint: PipeEndpoint, caller: PipeCaller): void;
}

/** Called for each open of a registered pipe. Throwing (or rejecting) closes that connection and is logged. */
export type PipeHandler = (conn: PipeConnection) => void | Promise<void>;

/** Who may open a registered pipe: by default every authenticated user, and no guest or anonymous session. */
export interface PipeOptions {
  /** Only these accounts (names compare case-insensitively); absent = every authenticated user. */
  users?: readonly string[];
  /** Guest sessions may open the pipe. */
  allowGuest?: boolean;
  /** Anonymous (null) sessions may open the pipe. */
  allowAnonymous?: boolean;
  /** Bytes sent and not yet read by the client above which send() returns false (then 'drain'); default 1 MiB. */
  highWaterMark?: number;
}

const DEFAULT_HIGH_WATER_MARK = 1 << 20;

/** The canonical (lower-case) form of a pipe name as a CREATE on IPC$ gives it: `\srvsvc`, `SRVSVC`. */
export function canonicalPipeName(name: string): string {
  return name.replace(/^\\+/, '').toLowerCase();
}

/** Characters a registered name may not contain (path separators, wildcards, controls). */
const BAD_NAME = /[\\/:*?"<>|\x00-\x1f]/;

export class PipeRegistry {
  private readonly services = new Map<string, PipeService>();
  private readonly connections = new Map<string, Set<PipeConnection>>();
  private readonly log: Logger;

  constructor(log: Logger, builtIns: readonly PipeService[]) {
    this.log = log;
    for (const s of builtIns) this.services.set(canonicalPipeName(s.name), s);
  }

  /**
   * Serves `name` on IPC$ with `handler`, called with a PipeConnection for each client open. Throws when the name
   * is invalid, built in, or already registered.
   */
  register(name: string, handler: PipeHandler, options: PipeOptions = {}): void {
    if (typeof handler !== 'function') throw new TypeError('a pipe handler must be a function');
    const key = canonicalPipeName(name);
    if (key === '' || key.length > 255 || BAD_NAME.test(key)) throw new RangeError(`invalid pipe name: ${JSON.stringify(name)}`);
    const existing = this.services.get(key);
    if (existing?.builtIn) throw new Error(`pipe ${key} is built in`);
    if (existing) throw new Error(`pipe ${key} is already registered`);
    const users = options.users ? new Set(options.users.map((u) => u.toLowerCase())) : undefined;
    const highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    const open = new Set<PipeConnection>();
    this.connections.set(key, open);
    const log = this.log;
    this.services.set(key, {
      name: key,
      builtIn: false,
      admits(caller) {
        if (caller.anonymous) return options.allowAnonymous === true;
        if (caller.guest) return options.allowGuest === true;
        return users === undefined || users.has(caller.user.toLowerCase());
      },
      open(endpoint, caller) {
        const conn = new PipeConnection(endpoint, caller, log, highWaterMark);
        endpoint.attach(conn.backend());
        open.add(conn);
        conn.once('close', () => open.delete(conn));
        try {
          const r = handler(conn);
          if (r && typeof r.then === 'function') r.then(undefined, (err: unknown) => conn.fail(err));
        } catch (err) {
          conn.fail(err);
        }
      },
    });
  }

  /** Stops serving `name` and closes its open connections; false when it was not registered. */
  unregister(name: string): boolean {
    const key = canonicalPipeName(name);
    const s = this.services.get(key);
    if (!s || s.builtIn) return false;
    this.services.delete(key);
    for (const conn of [...(this.connections.get(key) ?? [])]) conn.close();
    this.connections.delete(key);
    return true;
  }

  /** Whether `name` is served (built in or registered). */
  has(name: string): boolean {
    return this.services.has(canonicalPipeName(name));
  }

  /** The names served, built-in ones included. */
  names(): string[] {
    return [...this.services.keys()];
  }

  /** @internal The service behind a CREATE name, if any. */
  lookup(name: string): PipeService | undefined {
    return this.services.get(canonicalPipeName(name));
  }
}
