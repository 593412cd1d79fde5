import { constants as bufferConstants } from 'node:buffer';
import type { DirEntry, FileStore, OpenOptions, SetTimes, StoreEa, StoreHandle, StoreStat, StoreStatFs, StreamInfo } from './types.js';
import { defaultAttributes, DERIVED_ATTRIBUTES, storeError } from './types.js';
import { isValidStreamName, splitPath, upcase } from './resolve.js';

export interface MemoryStoreOptions {
  /** total bytes of file and stream data the store holds before ENOSPC (default: unlimited) */
  sizeLimit?: number;
  /** compare names ignoring case, as NTFS does (default: false, like a Linux disk) */
  caseInsensitive?: boolean;
  readOnly?: boolean;
}

const BLOCK = 4096;
/** What statfs reports as the total when there is no limit. */
const UNLIMITED_REPORT = 2 ** 40;

/** Bytes with a size: capacity grows by doubling; bytes past `size` are always zero. */
class Data {
  buf = Buffer.alloc(0);
  size = 0;
}

interface Stream {
  name: string;
  data: Data;
}

interface Node {
  readonly id: bigint;
  readonly type: 'file' | 'directory';
  name: string;
  parent: Node | undefined;
  /** directories: key (name, or upper-cased name) -> child */
  readonly children: Map<string, Node>;
  readonly data: Data;
  /** upper-cased stream name -> stream */
  readonly streams: Map<string, Stream>;
  birthtimeMs: number;
  mtimeMs: number;
  atimeMs: number;
  ctimeMs: number;
  attributes: number;
  security: Buffer | undefined;
  eas: StoreEa[];
  linked: boolean;
}

/** An in-memory tree with the same semantics as LocalStore: for tests and embedding. */
export class MemoryStore implements FileStore {
  readonly caseSensitive: boolean;
  private readonly sizeLimit: number;
  private readonly readOnly: boolean;
  private used = 0;
  private nextId = 0x1000n;
  private readonly root: Node;

  constructor(opts: MemoryStoreOptions = {}) {
    this.caseSensitive = opts.caseInsensitive !== true;
    this.sizeLimit = opts.sizeLimit ?? Infinity;
    this.readOnly = opts.readOnly === true;
    this.root = this.newNode('directory', '', undefined);
  }

  async stat(path: string): Promise<StoreStat> {
    return statOf(this.lookup(path));
  }

  async open(path: string, opts: OpenOptions): Promise<StoreHandle> {
    const create = opts.create ?? 'never';
    const stream = opts.stream ?? '';
    if (opts.truncate === true && !opts.write) throw storeError('EINVAL', 'truncate needs write access');
    if (stream !== '' && !isValidStreamName(stream)) throw storeError('EINVAL', `invalid stream name ${JSON.stringify(stream)}`);
    const parts = splitPath(path);
    if (this.readOnly && (opts.write || create === 'new')) throw storeError('EROFS', `read-only store: ${path}`);
    const parent = this.dirOf(parts, path);
    const leaf = parts[parts.length - 1];
    let node = leaf === undefined ? this.root : parent.children.get(this.key(leaf));
    if (node === undefined) {
      if (create === 'never') throw storeError('ENOENT', path, 'leaf');
      if (this.readOnly) throw storeError('EROFS', `read-only store: ${path}`);
      node = this.newNode('file', leaf as string, parent);
      this.touchDir(parent);
    } else if (stream === '') {
      if (create === 'new') throw storeError('EEXIST', path);
      if (node.type === 'directory') throw storeError('EISDIR', path);
    }
    if (stream === '') {
      if (opts.truncate === true) this.resize(node, node.data, 0);
      return this.handle(node, node.data, opts.write);
    }
    const key = upcase(stream);
    let s = node.streams.get(key);
    if (s === undefined) {
      if (create === 'never') throw storeError('ENOENT', `${path}:${stream}`, 'leaf');
      if (this.readOnly) throw storeError('EROFS', `read-only store: ${path}`);
      s = { name: stream, data: new Data() };
      node.streams.set(key, s);
      node.ctimeMs = Date.now();
    } else if (create === 'new') {
      throw storeError('EEXIST', `${path}:${stream}`);
    }
    if (opts.truncate === true) this.resize(node, s.data, 0);
    return this.handle(node, s.data, opts.write);
  }

  async readdir(path: string): Promise<DirEntry[]> {
    const node = this.lookup(path);
    if (node.type !== 'directory') throw storeError('ENOTDIR', path);
    return [...node.children.values()].map((c) => ({ name: c.name, stat: statOf(c) }));
  }

  async readdirNames(path: string, limit = Infinity): Promise<string[]> {
    const node = this.lookup(path);
    if (node.type !== 'directory') throw storeError('ENOTDIR', path);
    const out: string[] = [];
    for (const c of node.children.values()) {
      if (out.length >= limit) break;
      out.push(c.name);
    }
    return out;
  }

  async mkdir(path: string): Promise<void> {
    const parts = splitPath(path);
    const parent = this.dirOf(parts, path);
    const leaf = parts[parts.length - 1];
    if (leaf === undefined || parent.children.has(this.key(leaf))) throw storeError('EEXIST', path);
    this.checkWritable(path);
    this.newNode('directory', leaf, parent);
    this.touchDir(parent);
  }

  async rmdir(path: string): Promise<void> {
    const node = this.lookup(path);
    if (node === this.root) throw storeError('EACCES', 'the root cannot be removed');
    if (node.type !== 'directory') throw storeError('ENOTDIR', path);
    if (node.children.size > 0) throw storeError('ENOTEMPTY', path);
    this.checkWritable(path);
    this.detach(node);
  }

  async unlink(path: string): Promise<void> {
    const node = this.lookup(path);
    if (node.type === 'directory') throw storeError('EISDIR', path);
    this.checkWritable(path);
    this.detach(node);
  }

  async rename(from: string, to: string, opts: { replace: boolean }): Promise<void> {
    const node = this.lookup(from);
    const toParts = splitPath(to);
    if (node === this.root || toParts.length === 0) throw storeError('EACCES', 'the root cannot be renamed or replaced');
    const newParent = this.dirOf(toParts, to);
    const newName = toParts[toParts.length - 1] as string;
    const target = newParent.children.get(this.key(newName));
    if (target === node) {
      // The same entry (a case-only change on a case-insensitive store): just respell it.
      this.checkWritable(to);
      node.name = newName;
      node.ctimeMs = Date.now();
      return;
    }
    if (target !== undefined) {
      if (!opts.replace) throw storeError('EEXIST', to);
      if (target.type === 'directory') throw storeError('EISDIR', to);
      if (node.type === 'directory') throw storeError('ENOTDIR', to);
    }
    for (let p: Node | undefined = newParent; p !== undefined; p = p.parent) {
      if (p === node) throw storeError('EINVAL', `cannot move ${from} into itself`);
    }
    this.checkWritable(to);
    if (target !== undefined) this.detach(target);
    const oldParent = node.parent as Node;
    oldParent.children.delete(this.key(node.name));
    this.touchDir(oldParent);
    node.name = newName;
    node.parent = newParent;
    newParent.children.set(this.key(newName), node);
    this.touchDir(newParent);
    node.ctimeMs = Date.now();
  }

  async setTimes(path: string, times: SetTimes): Promise<void> {
    const node = this.lookup(path);
    this.checkWritable(path);
    if (times.birthtimeMs !== undefined) node.birthtimeMs = times.birthtimeMs;
    if (times.mtimeMs !== undefined) node.mtimeMs = times.mtimeMs;
    if (times.atimeMs !== undefined) node.atimeMs = times.atimeMs;
    node.ctimeMs = times.ctimeMs ?? Date.now();
  }

  async setAttributes(path: string, dosAttributes: number): Promise<void> {
    const node = this.lookup(path);
    this.checkWritable(path);
    node.attributes = dosAttributes & ~DERIVED_ATTRIBUTES;
    node.ctimeMs = Date.now();
  }

  async listStreams(path: string): Promise<StreamInfo[]> {
    const node = this.lookup(path);
    return [...node.streams.values()].map((s) => ({ name: s.name, size: s.data.size }));
  }

  async deleteStream(path: string, stream: string): Promise<void> {
    const node = this.lookup(path);
    const key = upcase(stream);
    const s = node.streams.get(key);
    if (s === undefined) throw storeError('ENOENT', `${path}:${stream}`, 'leaf');
    this.checkWritable(path);
    this.resize(node, s.data, 0);
    node.streams.delete(key);
    node.ctimeMs = Date.now();
  }

  async renameStream(path: string, from: string, to: string, opts: { replace: boolean }): Promise<void> {
    if (!isValidStreamName(to)) throw storeError('EINVAL', `invalid stream name ${JSON.stringify(to)}`);
    const node = this.lookup(path);
    const s = node.streams.get(upcase(from));
    if (s === undefined) throw storeError('ENOENT', `${path}:${from}`, 'leaf');
    this.checkWritable(path);
    const toKey = upcase(to);
    const target = node.streams.get(toKey);
    if (target !== undefined && target !== s) {
      if (!opts.replace) throw storeError('EEXIST', `${path}:${to}`);
      this.resize(node, target.data, 0);
    }
    node.streams.delete(upcase(from));
    // Handles hold the stream's data, not its name, so they follow the rename.
    node.streams.set(toKey, { ...s, name: to });
    node.ctimeMs = Date.now();
  }

  async getSecurity(path: string): Promise<Buffer | undefined> {
    const sd = this.lookup(path).security;
    return sd === undefined ? undefined : Buffer.from(sd);
  }

  async setSecurity(path: string, sd: Buffer): Promise<void> {
    const node = this.lookup(path);
    this.checkWritable(path);
    node.security = Buffer.from(sd);
    node.ctimeMs = Date.now();
  }

  async getEas(path: string): Promise<StoreEa[]> {
    return copyEas(this.lookup(path).eas);
  }

  async setEas(path: string, eas: readonly StoreEa[]): Promise<void> {
    const node = this.lookup(path);
    this.checkWritable(path);
    node.eas = copyEas(eas);
    node.ctimeMs = Date.now();
  }

  async statfs(): Promise<StoreStatFs> {
    const total = Number.isFinite(this.sizeLimit) ? this.sizeLimit : UNLIMITED_REPORT;
    const free = Math.max(0, total - this.used);
    return { totalBytes: total, freeBytes: free, availableBytes: free, blockSize: BLOCK };
  }

  /** Bytes of data currently held (files and streams of linked entries). */
  get usedBytes(): number {
    return this.used;
  }

  /** Changes a data stream's size, accounting it against the limit. */
  private resize(node: Node, data: Data, size: number): void {
    if (this.readOnly) throw storeError('EROFS', 'read-only store');
    if (!Number.isSafeInteger(size) || size < 0) throw storeError('EINVAL', `invalid size ${size}`);
    const delta = size - data.size;
    if (delta > 0 && node.linked && this.used + delta > this.sizeLimit) throw storeError('ENOSPC', 'store is full');
    if (size > bufferConstants.MAX_LENGTH) throw storeError('ENOSPC', 'file too large for memory');
    if (size > data.buf.length) {
      const grown = Buffer.alloc(Math.min(bufferConstants.MAX_LENGTH, Math.max(size, data.buf.length * 2, 64)));
      data.buf.copy(grown, 0, 0, data.size);
      data.buf = grown;
    } else if (size < data.size) {
      data.buf.fill(0, size, data.size);
    }
    data.size = size;
    if (node.linked) this.used += delta;
    const now = Date.now();
    node.mtimeMs = now;
    node.ctimeMs = now;
  }

  private handle(node: Node, data: Data, writable: boolean): StoreHandle {
    return new MemoryHandle(node, data, writable, (size) => this.resize(node, data, size));
  }

  private key(name: string): string {
    return this.caseSensitive ? name : upcase(name);
  }

  private newNode(type: 'file' | 'directory', name: string, parent: Node | undefined): Node {
    const now = Date.now();
    const node: Node = {
      id: this.nextId++,
      type,
      name,
      parent,
      children: new Map(),
      data: new Data(),
      streams: new Map(),
      birthtimeMs: now,
      mtimeMs: now,
      atimeMs: now,
      ctimeMs: now,
      attributes: defaultAttributes(type),
      security: undefined,
      eas: [],
      linked: true,
    };
    parent?.children.set(this.key(name), node);
    return node;
  }

  private detach(node: Node): void {
    const parent = node.parent as Node;
    parent.children.delete(this.key(node.name));
    this.touchDir(parent);
    node.linked = false;
    let bytes = node.data.size;
    for (const s of node.streams.values()) bytes += s.data.size;
    this.used -= bytes;
    node.streams.clear();
  }

  private touchDir(dir: Node): void {
    const now = Date.now();
    dir.mtimeMs = now;
    dir.ctimeMs = now;
  }

  private checkWritable(path: string): void {
    if (this.readOnly) throw storeError('EROFS', `read-only store: ${path}`);
  }

  private lookup(path: string): Node {
    const parts = splitPath(path);
    const parent = this.dirOf(parts, path);
    const leaf = parts[parts.length - 1];
    if (leaf === undefined) return this.root;
    const node = parent.children.get(this.key(leaf));
    if (node === undefined) throw storeError('ENOENT', path, 'leaf');
    return node;
  }

  /** The directory holding the last component (the root for the root itself). */
  private dirOf(parts: string[], path: string): Node {
    let dir = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = dir.children.get(this.key(parts[i] as string));
      if (next === undefined) throw storeError('ENOENT', path, 'parent');
      if (next.type !== 'directory') throw storeError('ENOTDIR', path, 'parent');
      dir = next;
    }
    return dir;
  }
}

function statOf(node: Node, data?: Data): StoreStat {
  const isDir = node.type === 'directory' && data === undefined;
  const size = isDir ? 0 : (data ?? node.data).size;
  return {
    type: node.type,
    size,
    allocationSize: isDir ? 0 : Math.ceil(size / BLOCK) * BLOCK,
    birthtimeMs: node.birthtimeMs,
    mtimeMs: node.mtimeMs,
    atimeMs: node.atimeMs,
    ctimeMs: node.ctimeMs,
    dosAttributes: node.attributes,
    fileId: node.id,
    nlink: node.linked ? 1 : 0,
    ...(node.eas.length > 0 ? { eas: copyEas(node.eas) } : {}),
  };
}

/** Callers get their own buffers: the store's stay as they were set. */
function copyEas(eas: readonly StoreEa[]): StoreEa[] {
  return eas.map((ea) => ({ name: ea.name, value: Buffer.from(ea.value), flags: ea.flags }));
}

class MemoryHandle implements StoreHandle {
  private closed = false;
  constructor(
    private readonly node: Node,
    private readonly data: Data,
    private readonly writable: boolean,
    private readonly resize: (size: number) => void,
  ) {}

  async read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    this.check(false);
    if (position >= this.data.size || length <= 0) return 0;
    const n = Math.min(length, this.data.size - position, buf.length - offset);
    this.data.buf.copy(buf, offset, position, position + n);
    return n;
  }

  async write(data: Buffer, position: number): Promise<number> {
    this.check(true);
    if (data.length === 0) return 0; // as pwrite: an empty write does not extend the file
    const end = position + data.length;
    if (end > this.data.size) this.resize(end);
    else {
      const now = Date.now();
      this.node.mtimeMs = now;
      this.node.ctimeMs = now;
    }
    data.copy(this.data.buf, position);
    return data.length;
  }

  async truncate(size: number): Promise<void> {
    this.check(true);
    this.resize(size);
  }

  async sync(): Promise<void> {
    this.check(false);
  }

  async stat(): Promise<StoreStat> {
    this.check(false);
    return statOf(this.node, this.data === this.node.data ? undefined : this.data);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private check(write: boolean): void {
    if (this.closed) throw storeError('EBADF', 'handle is closed');
    if (write && !this.writable) throw storeError('EBADF', 'handle is not open for writing');
  }
}
