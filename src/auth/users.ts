import { ntowfv1 } from '../crypto/ntlm.js';

/** A user the server can authenticate: only the NT hash (NTOWFv1) is kept, never the password. */
export interface UserRecord {
  name: string;
  ntHash: Buffer;
}

/** Looks users up by name, case-insensitively (Windows account names are). */
export interface UserStore {
  lookup(name: string): UserRecord | undefined;
  /** Every account name (for SID-to-name translation); a store that cannot list answers only lookups. */
  names?(): Iterable<string>;
}

function key(name: string): string {
  return name.toLowerCase();
}

/** An in-memory user store. */
export class MemoryUserStore implements UserStore {
  private readonly users = new Map<string, UserRecord>();

  /** Adds (or replaces) a user from a password; only its NT hash is stored. */
  add(name: string, password: string): this {
    return this.addHash(name, ntowfv1(password));
  }

  /** Adds (or replaces) a user from a 16-byte NT hash. */
  addHash(name: string, ntHash: Buffer): this {
    if (ntHash.length !== 16) throw new RangeError('an NT hash is 16 bytes');
    this.users.set(key(name), { name, ntHash: Buffer.from(ntHash) });
    return this;
  }

  remove(name: string): boolean {
    return this.users.delete(key(name));
  }

  lookup(name: string): UserRecord | undefined {
    return this.users.get(key(name));
  }

  *names(): Iterable<string> {
    for (const u of this.users.values()) yield u.name;
  }

  get size(): number {
    return this.users.size;
  }
}
