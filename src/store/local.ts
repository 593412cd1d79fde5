import * as fs from 'node:fs';
import { constants as fsConstants, promises as fsp, watch as fsWatch } from 'node:fs';
import type { BigIntStats, FSWatcher } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import type {
  DirEntry,
  FileStore,
  OpenOptions,
  SetTimes,
  StoreChange,
  StoreEa,
  StoreHandle,
  StoreStat,
  StoreStatFs,
  StoreWatcher,
  StreamInfo,
} from './types.js';
import { defaultAttributes, DERIVED_ATTRIBUTES, StoreError, errorCode, storeError } from './types.js';
import { isValidStreamName, joinPath, MAX_COMPONENT_LENGTH, splitPath, upcase } from './resolve.js';
import { RecordLog } from './record-log.js';

/**
 * The hidden sidecar directory at the share root. It holds what a POSIX disk can't (Node has no xattr API):
 *   records.jsonl          per-file records (a RecordLog): DOS attributes, a client-set birth time, named
 *                          streams, the security descriptor, extended attributes (ext4 keeps at most one block
 *                          of xattrs per file, less than the 64 KiB Windows allows; older versions kept one
 *                          meta/<ino>.json per file: read once and moved into the log)
 *   streams/<ino>/<hash>   the contents of each named stream
 * Records are keyed by inode number, so they follow a file on rename and across hard links. Each record keeps
 * the inode's real birth time: an inode number reused by a file created outside the store has another birth
 * time, and its stale record is dropped. It is never listed and no client path can reach it.
 */
export const METADATA_DIR = '.smbkit';

/**
 * Reads and writes up to this size are made synchronously: in the page cache they take microseconds, less than the
 * thread-pool hand-off they would otherwise cost (a 4 KiB write: 4 µs, against 12 µs of the event loop's time only
 * to hand it over, and a wake-up of a pool thread).
 */
const SYNC_IO_MAX = 64 * 1024;

/**
 * Larger writes under way in the pool, in this process. While there are some, the kernel may throttle writers
 * (dirty page limits), and a small write made synchronously would stall every connection: it goes to the pool too.
 */
let poolWrites = 0;

/** Entries stat'ed between two turns of the event loop in a listing. */
const LISTING_BATCH = 512;

const { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_EXCL, O_TRUNC, O_NOFOLLOW, O_NONBLOCK } = fsConstants;

export interface LocalStoreOptions {
  /** refuse every change (EROFS) */
  readOnly?: boolean;
  /** whether the disk tells names apart by case (default: true but on macOS and Windows) */
  caseSensitive?: boolean;
  /** other processes (the workers of one server) serve the same root: per-file records are shared (RecordLog) */
  shared?: boolean;
}

interface StreamRecord {
  name: string;
  file: string;
}

interface Meta {
  /** the inode's real birth time in ns when the record was made ('0' where the disk keeps none) */
  btime: string;
  attributes?: number;
  birthtimeMs?: number;
  /**
   * A client-set change time, and the inode's OS ctime (ns) just after it was set. The OS owns ctime, so the
   * override holds only while the inode is unchanged since; any later change moves the OS ctime past it.
   */
  ctimeMs?: number;
  ctimeAtSetNs?: string;
  /** upper-cased stream name -> stream */
  streams?: Record<string, StreamRecord>;
  /** the security descriptor, base64 */
  security?: string;
  /** extended attributes in the order set; values base64 */
  eas?: { name: string; value: string; flags: number }[];
}

/** A path in the store: its components and its absolute path on disk (parent resolved, leaf not followed). */
interface Located {
  rel: string;
  parts: string[];
  abs: string;
}

/**
 * A directory on disk served as a store, confined to its root.
 *
 * Confinement: every path is checked by `splitPath`; the parent directory is resolved with realpath and must
 * stay inside the root (and outside the sidecar); the leaf is opened with O_NOFOLLOW, and a symlink leaf is
 * followed only when its real target is inside the root — otherwise it counts as missing. What remains is the
 * race of a local user swapping a parent directory for a symlink between the realpath and the operation; SMB
 * clients can't create symlinks through a store, so only someone with shell access to the share can try it.
 *
 * One LocalStore per root: the metadata cache is not shared between processes.
 *
 * Metadata system calls (lstat, realpath, open, unlink, rename, small sidecar files) are made synchronously: on a
 * local disk each takes microseconds, while a round trip through libuv's thread pool costs far more CPU in thread
 * hand-offs than the call itself (measured: most of the server's CPU on small-file workloads). Reads, writes,
 * truncation and flushes of file data stay asynchronous. Long listings yield to the event loop between batches.
 */
export class LocalStore implements FileStore {
  readonly caseSensitive: boolean;
  readonly root: string;
  private readonly readOnly: boolean;
  private readonly shared: boolean;
  private alone: (() => boolean) | undefined;
  private ready: Promise<void> | undefined;
  private initialized = false;
  private realRoot = '';
  private rootPrefix = '';
  private metaDir = '';
  /** The records of the files that have one (most have none: plain files need no sidecar). */
  private records!: RecordLog<Meta>;
  /** Parent folders resolved in this turn of the event loop (`realParent`): store path -> real path. */
  private readonly parents = new Map<string, string>();
  /** Leaves (not links) stat'ed in this turn, by real path: which inode a name is (`getSecurity`). */
  private readonly leaves = new Map<string, BigIntStats>();
  private forgetScheduled = false;

  constructor(root: string, opts: LocalStoreOptions = {}) {
    this.root = root;
    this.readOnly = opts.readOnly === true;
    this.shared = opts.shared === true;
    this.caseSensitive = opts.caseSensitive ?? (process.platform !== 'darwin' && process.platform !== 'win32');
  }

  /** Shared: tells when no other process uses the root now (its per-file records need not be looked for). */
  aloneWhile(alone: () => boolean): void {
    this.alone = alone;
    if (this.initialized) this.records.alone = alone;
  }

  async stat(path: string): Promise<StoreStat> {
    const loc = await this.locate(path);
    const { real, st } = await this.follow(loc);
    if (loc.parts.length > 0 && real === loc.abs) {
      // A folder looked at is the parent of what is resolved next (resolveCaseInsensitive goes down a path), and a
      // name resolved is what a CREATE checks the access of next (getSecurity).
      if (st.isDirectory()) this.rememberFolder(loc.parts.join('/'), real);
      this.scheduleForget();
      this.leaves.set(real, st);
    }
    return this.toStat(st);
  }

  async open(path: string, opts: OpenOptions): Promise<StoreHandle> {
    const create = opts.create ?? 'never';
    const stream = opts.stream ?? '';
    if (opts.truncate === true && !opts.write) throw storeError('EINVAL', 'truncate needs write access');
    if (stream !== '' && !isValidStreamName(stream)) throw storeError('EINVAL', `invalid stream name ${JSON.stringify(stream)}`);
    if (this.readOnly && (opts.write || create === 'new')) throw storeError('EROFS', `read-only store: ${path}`);
    const loc = await this.locate(path);
    if (stream !== '') return this.openStream(loc, stream, opts, create);
    if (loc.parts.length === 0) throw storeError(create === 'new' ? 'EEXIST' : 'EISDIR', 'the root');
    let flags = (opts.write ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK;
    if (create !== 'never' && !this.readOnly) flags |= O_CREAT;
    if (create === 'new') flags |= O_EXCL;
    if (opts.truncate === true) flags |= O_TRUNC;
    let fd: number;
    try {
      fd = fs.openSync(loc.abs, flags, 0o666);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ENOENT' && create !== 'never' && this.readOnly) throw storeError('EROFS', `read-only store: ${path}`);
      if (code !== 'ELOOP') throw this.fail(err, loc.rel, 'leaf');
      // The leaf is a symlink: follow it only to a target inside the root, and never create through it.
      const real = await this.realInside(loc.abs);
      if (real === undefined) throw storeError(create === 'never' ? 'ENOENT' : 'EACCES', loc.rel, 'leaf');
      try {
        fd = fs.openSync(real, flags & ~O_CREAT, 0o666);
      } catch (err2) {
        throw this.fail(err2, loc.rel, 'leaf');
      }
    }
    let st: BigIntStats;
    try {
      st = fs.fstatSync(fd, { bigint: true });
    } catch (err) {
      fs.closeSync(fd);
      throw this.fail(err, loc.rel);
    }
    if (!st.isFile()) {
      fs.closeSync(fd);
      throw storeError(st.isDirectory() ? 'EISDIR' : 'EACCES', loc.rel);
    }
    return new LocalHandle(fd, opts.write, async (h) => this.toStat(fs.fstatSync(h, { bigint: true })));
  }

  async readdir(path: string): Promise<DirEntry[]> {
    const loc = await this.locate(path);
    const dir = await this.follow(loc);
    if (!dir.st.isDirectory()) throw storeError('ENOTDIR', loc.rel);
    let names: string[];
    try {
      names = fs.readdirSync(dir.real);
    } catch (err) {
      throw this.fail(err, loc.rel);
    }
    const atRoot = dir.real === this.realRoot;
    const entries: DirEntry[] = [];
    for (let i = 0; i < names.length; i++) {
      if (i > 0 && i % LISTING_BATCH === 0) await nextTurn(); // let other requests run during a long listing
      const name = names[i] as string;
      if (!this.listable(name, atRoot)) continue;
      const rel = loc.rel === '' ? name : `${loc.rel}/${name}`;
      try {
        const { st } = await this.follow({ rel, parts: [...loc.parts, name], abs: `${dir.real}/${name}` });
        entries.push({ name, stat: await this.toStat(st) });
      } catch {
        // vanished, or a symlink leading outside: not listed
      }
    }
    return entries;
  }

  async readdirNames(path: string, limit = Infinity): Promise<string[]> {
    const loc = await this.locate(path);
    const dir = await this.follow(loc);
    if (!dir.st.isDirectory()) throw storeError('ENOTDIR', loc.rel);
    const atRoot = dir.real === this.realRoot;
    const out: string[] = [];
    try {
      if (limit === Infinity) {
        for (const name of fs.readdirSync(dir.real)) if (this.listable(name, atRoot)) out.push(name);
        return out;
      }
      // A few names (an emptiness check): read only the first directory blocks.
      const d = fs.opendirSync(dir.real, { bufferSize: 32 });
      try {
        for (let e = d.readSync(); e !== null && out.length < limit; e = d.readSync()) {
          if (this.listable(e.name, atRoot)) out.push(e.name);
        }
      } finally {
        d.closeSync();
      }
    } catch (err) {
      throw this.fail(err, loc.rel);
    }
    return out;
  }

  /** Names a client may see: not the sidecar, nothing a Windows path can't spell. */
  private listable(name: string, atRoot: boolean): boolean {
    if (name.length > MAX_COMPONENT_LENGTH || name.includes('\\')) return false;
    return !(atRoot && name.toLowerCase() === METADATA_DIR);
  }

  async mkdir(path: string): Promise<void> {
    const loc = await this.locate(path);
    if (loc.parts.length === 0) throw storeError('EEXIST', 'the root');
    this.checkWritable(loc.rel);
    try {
      fs.mkdirSync(loc.abs, 0o777);
    } catch (err) {
      throw this.fail(err, loc.rel);
    }
  }

  async rmdir(path: string): Promise<void> {
    const loc = await this.locate(path);
    if (loc.parts.length === 0) throw storeError('EACCES', 'the root cannot be removed');
    const { st, link } = await this.followForRemoval(loc);
    if (!st.isDirectory()) throw storeError('ENOTDIR', loc.rel);
    this.checkWritable(loc.rel);
    this.forgetTurn();
    try {
      if (link) fs.unlinkSync(loc.abs);
      else fs.rmdirSync(loc.abs);
    } catch (err) {
      throw this.fail(errorCode(err) === 'EEXIST' ? Object.assign(new Error(), { code: 'ENOTEMPTY' }) : err, loc.rel);
    }
    if (!link) await this.dropMeta(st.ino);
  }

  async unlink(path: string): Promise<void> {
    const loc = await this.locate(path);
    if (loc.parts.length === 0) throw storeError('EISDIR', 'the root');
    const { st, link } = await this.followForRemoval(loc);
    if (st.isDirectory()) throw storeError('EISDIR', loc.rel);
    this.checkWritable(loc.rel);
    this.forgetTurn();
    try {
      fs.unlinkSync(loc.abs);
    } catch (err) {
      throw this.fail(err, loc.rel);
    }
    if (!link && st.nlink <= 1n) await this.dropMeta(st.ino);
  }

  async rename(from: string, to: string, opts: { replace: boolean }): Promise<void> {
    const src = await this.locate(from);
    if (src.parts.length === 0) throw storeError('EACCES', 'the root cannot be renamed');
    const { st: srcSt, link: srcLink } = await this.followForRemoval(src);
    const dst = await this.locate(to);
    if (dst.parts.length === 0) throw storeError('EACCES', 'the root cannot be replaced');
    let dstSt: BigIntStats | undefined;
    try {
      dstSt = (await this.followForRemoval(dst)).st;
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
      // A name that exists but leads outside the root is not ours to replace.
      if (exists(dst.abs)) throw storeError('EACCES', dst.rel);
    }
    if (src.abs === dst.abs) return;
    this.forgetTurn();
    const sameFile = dstSt !== undefined && dstSt.ino === srcSt.ino && dstSt.dev === srcSt.dev;
    if (dstSt !== undefined && !sameFile) {
      if (!opts.replace) throw storeError('EEXIST', dst.rel);
      if (dstSt.isDirectory()) throw storeError('EISDIR', dst.rel);
      if (srcSt.isDirectory()) throw storeError('ENOTDIR', dst.rel);
    }
    if (srcSt.isDirectory() && !srcLink && dst.abs.startsWith(`${src.abs}/`)) {
      throw storeError('EINVAL', `cannot move ${src.rel} into itself`);
    }
    this.checkWritable(dst.rel);
    try {
      fs.renameSync(src.abs, dst.abs);
    } catch (err) {
      throw this.fail(err, src.rel);
    }
    if (dstSt !== undefined && !sameFile && dstSt.nlink <= 1n) await this.dropMeta(dstSt.ino);
  }

  async setTimes(path: string, times: SetTimes): Promise<void> {
    const loc = await this.locate(path);
    const { real, st } = await this.follow(loc);
    this.checkWritable(loc.rel);
    if (times.atimeMs !== undefined || times.mtimeMs !== undefined) {
      const atime = times.atimeMs ?? nsToMs(st.atimeNs);
      const mtime = times.mtimeMs ?? nsToMs(st.mtimeNs);
      try {
        fs.lutimesSync(real, utimeArg(atime), utimeArg(mtime));
      } catch (err) {
        throw this.fail(err, loc.rel);
      }
    }
    const birthtimeMs = times.birthtimeMs;
    if (birthtimeMs !== undefined) await this.updateMeta(st, (m) => void (m.birthtimeMs = birthtimeMs));
    const ctimeMs = times.ctimeMs;
    if (ctimeMs !== undefined) {
      // Re-stat: lutimes above moved the OS ctime; the override is tied to the ctime it left.
      const after = (await this.follow(loc)).st;
      await this.updateMeta(after, (m) => {
        m.ctimeMs = ctimeMs;
        m.ctimeAtSetNs = String(after.ctimeNs);
      });
    }
  }

  async setAttributes(path: string, dosAttributes: number): Promise<void> {
    const loc = await this.locate(path);
    const { st } = await this.follow(loc);
    this.checkWritable(loc.rel);
    const attributes = dosAttributes & ~DERIVED_ATTRIBUTES;
    // The default needs no record (a created file's ARCHIVE costs no sidecar write).
    if (attributes === defaultAttributes(typeOf(st)) && (await this.loadMeta(st))?.attributes === undefined) return;
    await this.updateMeta(st, (m) => void (m.attributes = attributes));
  }

  async listStreams(path: string): Promise<StreamInfo[]> {
    const loc = await this.locate(path);
    const { st } = await this.follow(loc);
    const meta = await this.loadMeta(st);
    const out: StreamInfo[] = [];
    for (const s of Object.values(meta?.streams ?? {})) {
      const size = fs.lstatSync(this.streamPath(st.ino, s.file), { throwIfNoEntry: false })?.size ?? 0;
      out.push({ name: s.name, size });
    }
    return out;
  }

  async deleteStream(path: string, stream: string): Promise<void> {
    const loc = await this.locate(path);
    const { st } = await this.follow(loc);
    const key = upcase(stream);
    const record = (await this.loadMeta(st))?.streams?.[key];
    if (record === undefined) throw storeError('ENOENT', `${loc.rel}:${stream}`, 'leaf');
    this.checkWritable(loc.rel);
    await fsp.rm(this.streamPath(st.ino, record.file), { force: true });
    await this.updateMeta(st, (m) => {
      if (m.streams !== undefined) delete m.streams[key];
    });
  }

  async renameStream(path: string, from: string, to: string, opts: { replace: boolean }): Promise<void> {
    if (!isValidStreamName(to)) throw storeError('EINVAL', `invalid stream name ${JSON.stringify(to)}`);
    const loc = await this.locate(path);
    const { st } = await this.follow(loc);
    const fromKey = upcase(from);
    const toKey = upcase(to);
    const streams = (await this.loadMeta(st))?.streams ?? {};
    const record = streams[fromKey];
    if (record === undefined) throw storeError('ENOENT', `${loc.rel}:${from}`, 'leaf');
    this.checkWritable(loc.rel);
    if (fromKey === toKey) {
      await this.updateMeta(st, (m) => void (m.streams![toKey] = { name: to, file: record.file }));
      return;
    }
    const target = streams[toKey];
    if (target !== undefined && !opts.replace) throw storeError('EEXIST', `${loc.rel}:${to}`);
    // A stream's file is named after its key, so a later stream created under the old name gets a fresh file.
    const file = streamFileName(toKey);
    if (target !== undefined) await fsp.rm(this.streamPath(st.ino, target.file), { force: true });
    await fsp.rename(this.streamPath(st.ino, record.file), this.streamPath(st.ino, file));
    await this.updateMeta(st, (m) => {
      m.streams ??= {};
      delete m.streams[fromKey];
      m.streams[toKey] = { name: to, file };
    });
  }

  async getSecurity(path: string): Promise<Buffer | undefined> {
    const loc = await this.locate(path);
    // The CREATE that asks has just resolved the name: which inode it is, is known for this turn.
    const st = this.leaves.get(loc.abs) ?? (await this.follow(loc)).st;
    const sd = (await this.loadMeta(st))?.security;
    return sd === undefined ? undefined : Buffer.from(sd, 'base64');
  }

  async setSecurity(path: string, sd: Buffer): Promise<void> {
    const loc = await this.locate(path);
    const { st } = await this.follow(loc);
    this.checkWritable(loc.rel);
    const text = sd.toString('base64');
    await this.updateMeta(st, (m) => void (m.security = text));
  }

  async getEas(path: string): Promise<StoreEa[]> {
    return [...((await this.stat(path)).eas ?? [])];
  }

  async setEas(path: string, eas: readonly StoreEa[]): Promise<void> {
    const loc = await this.locate(path);
    const { st } = await this.follow(loc);
    this.checkWritable(loc.rel);
    if (eas.length === 0 && (await this.loadMeta(st))?.eas === undefined) return; // nothing kept, nothing to drop
    const kept = eas.map((ea) => ({ name: ea.name, value: ea.value.toString('base64'), flags: ea.flags }));
    await this.updateMeta(st, (m) => {
      if (kept.length > 0) m.eas = kept;
      else delete m.eas;
    });
  }

  async statfs(): Promise<StoreStatFs> {
    await this.init();
    const s = await fsp.statfs(this.realRoot);
    return {
      totalBytes: s.blocks * s.bsize,
      freeBytes: s.bfree * s.bsize,
      availableBytes: s.bavail * s.bsize,
      blockSize: s.bsize,
    };
  }

  /**
   * Watches with the OS (fs.watch, recursive where asked: inotify on Linux). An event names an entry; whether it
   * was added or removed is read from the disk right after, through the same confinement as every other call, so
   * nothing outside the root (or in the sidecar) is ever reported.
   */
  watch(path: string, opts: { recursive: boolean }, onChange: (c: StoreChange) => void, onError?: (err: Error) => void): StoreWatcher {
    let closed = false;
    let watcher: FSWatcher | undefined;
    const stop = (err?: Error) => {
      if (closed) return;
      closed = true;
      watcher?.close();
      if (err) onError?.(err);
    };
    const seen = (eventType: string, filename: string | null) => {
      if (closed || filename === null) return;
      let rel: string;
      try {
        rel = joinPath(path, ...splitPath(filename));
      } catch {
        return;
      }
      if ((splitPath(rel)[0] ?? '').toLowerCase() === METADATA_DIR) return;
      this.stat(rel).then(
        (st) => {
          if (!closed) onChange({ type: eventType === 'rename' ? 'added' : 'modified', path: rel, directory: st.type === 'directory' });
        },
        () => {
          if (!closed && eventType === 'rename') onChange({ type: 'removed', path: rel });
        },
      );
    };
    this.locate(path)
      .then((loc) => this.follow(loc))
      .then(({ real, st }) => {
        if (closed) return;
        if (!st.isDirectory()) throw storeError('ENOTDIR', path);
        watcher = fsWatch(real, { recursive: opts.recursive, persistent: false, encoding: 'utf8' }, seen);
        watcher.on('error', (err) => stop(err));
      })
      .catch((err: unknown) => stop(err instanceof Error ? err : new Error(String(err))));
    return { close: () => stop() };
  }

  /** Closes the record log (records are written as they change; a later change opens it again). */
  async close(): Promise<void> {
    this.records?.close();
  }

  // ---- paths and confinement ----

  private init(): Promise<void> {
    this.ready ??= (async () => {
      this.realRoot = await fsp.realpath(this.root);
      if (!(await fsp.stat(this.realRoot)).isDirectory()) throw storeError('ENOTDIR', 'store root is not a directory');
      this.rootPrefix = this.realRoot.endsWith('/') ? this.realRoot : `${this.realRoot}/`;
      this.metaDir = `${this.rootPrefix}${METADATA_DIR}`;
      const metaSt = await fsp.lstat(this.metaDir).catch(() => undefined);
      if (metaSt !== undefined && !metaSt.isDirectory()) throw storeError('EACCES', `${METADATA_DIR} in the store root is not a directory`);
      if (!this.readOnly) {
        // A disk we can't write to still serves; metadata changes will fail then, with the disk's error.
        try {
          if (metaSt === undefined) await fsp.mkdir(this.metaDir, 0o700);
          await fsp.mkdir(`${this.metaDir}/streams`, { recursive: true, mode: 0o700 });
        } catch {
          // ignored, see above
        }
      }
      this.records = new RecordLog<Meta>(`${this.metaDir}/records.jsonl`, this.readOnly, this.shared);
      this.records.alone = this.alone;
      const legacy = await this.legacyRecords();
      this.records.load(legacy);
      if (legacy.length > 0 && !this.readOnly) await fsp.rm(`${this.metaDir}/meta`, { recursive: true, force: true });
      this.initialized = true;
    })();
    return this.ready;
  }

  /** Records of the older one-file-per-inode layout (meta/<ino>.json), to move into the log. */
  private async legacyRecords(): Promise<[bigint, Meta][]> {
    const dir = `${this.metaDir}/meta`;
    const out: [bigint, Meta][] = [];
    for (const f of await fsp.readdir(dir).catch(() => [] as string[])) {
      const m = /^(\d+)\.json$/.exec(f);
      if (m === null) continue;
      try {
        const meta = JSON.parse(await fsp.readFile(`${dir}/${f}`, 'utf8')) as Meta;
        if (typeof meta.btime === 'string') out.push([BigInt(m[1] as string), meta]);
      } catch {
        // unreadable: dropped
      }
    }
    return out;
  }

  /** Validates a store path and resolves its parent to a real directory inside the root. */
  private async locate(path: string): Promise<Located> {
    if (!this.initialized) await this.init();
    const parts = splitPath(path);
    const first = parts[0];
    if (first !== undefined && first.toLowerCase() === METADATA_DIR) throw storeError('EACCES', 'reserved name');
    if (parts.length === 0) return { rel: '', parts, abs: this.realRoot };
    const parent = parts.length > 1 ? this.realParent(path, parts) : this.realRoot;
    // The sidecar is unreachable by any spelling, also through a symlink to the root.
    if (parent === this.realRoot && (parts[parts.length - 1] as string).toLowerCase() === METADATA_DIR) {
      throw storeError('EACCES', 'reserved name');
    }
    return { rel: path, parts, abs: `${parent === '/' ? '' : parent}/${parts[parts.length - 1] as string}` };
  }

  /**
   * The real directory that holds a path's leaf, inside the root. Its folders are looked at one by one from the
   * root (an lstat each): a folder that is no symlink is its own real path, so a path without links costs one call
   * per folder below the root, where realpath(3) reads every component from `/`. At the first symlink the rest is
   * resolved by realpath and must land inside the root. The walk starts below the deepest of the path's folders
   * already resolved in this turn (`rememberFolder`): none is looked at when the parent itself is known.
   */
  private realParent(path: string, parts: string[]): string {
    let cur = this.realRoot;
    let at = 0;
    for (let i = parts.length - 2; i >= 0; i--) {
      const known = this.parents.get(parts.slice(0, i + 1).join('/'));
      if (known !== undefined) {
        cur = known;
        at = i + 1;
        break;
      }
    }
    for (let i = at; i < parts.length - 1; i++) {
      // Past a known link to the root, the sidecar's name leads into the sidecar.
      if (cur === this.realRoot && (parts[i] as string).toLowerCase() === METADATA_DIR) throw storeError('ENOENT', path, 'parent');
      const next = `${cur === '/' ? '' : cur}/${parts[i] as string}`;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(next);
      } catch (err) {
        throw this.parentError(err, path);
      }
      if (st.isSymbolicLink()) {
        let real: string;
        try {
          real = fs.realpathSync.native(`${next}${i < parts.length - 2 ? '/' + parts.slice(i + 1, -1).join('/') : ''}`);
        } catch (err) {
          throw this.parentError(err, path);
        }
        if (!this.isInside(real)) throw storeError('ENOENT', path, 'parent');
        this.rememberFolder(parts.slice(0, -1).join('/'), real);
        return real;
      }
      if (!st.isDirectory()) throw storeError('ENOTDIR', path, 'parent');
      cur = next;
      this.rememberFolder(parts.slice(0, i + 1).join('/'), cur);
    }
    return cur;
  }

  /**
   * Remembers that the folder `rel` is the real directory `real`, until this turn of the event loop ends. One
   * operation locates its path several times (a CREATE: each component as it is resolved, the access check, the
   * open), and the requests read in one turn often share a folder. No longer than the turn, so that what the disk
   * holds is looked at again by the next one (as often as before, for a local user who swaps a folder for a link).
   */
  private rememberFolder(rel: string, real: string): void {
    this.scheduleForget();
    this.parents.set(rel, real);
  }

  private scheduleForget(): void {
    if (this.forgetScheduled) return;
    this.forgetScheduled = true;
    setImmediate(() => this.forgetTurn());
  }

  /** Drops what this turn remembered (`rememberFolder`, `leaves`): at its end, and when names change. */
  private forgetTurn(): void {
    this.forgetScheduled = false;
    this.parents.clear();
    this.leaves.clear();
  }

  private parentError(err: unknown, path: string): StoreError {
    const code = errorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return storeError(code === 'ENOTDIR' ? 'ENOTDIR' : 'ENOENT', path, 'parent');
    return this.fail(err, path, 'parent');
  }

  /** Inside the root and not in the sidecar. */
  private isInside(real: string): boolean {
    if (real === this.realRoot) return true;
    if (!real.startsWith(this.rootPrefix)) return false;
    const rest = real.slice(this.rootPrefix.length);
    const slash = rest.indexOf('/');
    return (slash < 0 ? rest : rest.slice(0, slash)).toLowerCase() !== METADATA_DIR;
  }

  /** The real path of a symlink's target, when it exists inside the root. */
  private async realInside(abs: string): Promise<string | undefined> {
    try {
      const real = fs.realpathSync.native(abs);
      return this.isInside(real) ? real : undefined;
    } catch {
      return undefined;
    }
  }

  /** lstat of the leaf; a symlink is followed when its target is inside the root, else it is missing. */
  private async follow(loc: Located): Promise<{ real: string; st: BigIntStats }> {
    let st: BigIntStats;
    try {
      st = fs.lstatSync(loc.abs, { bigint: true });
    } catch (err) {
      throw this.fail(err, loc.rel, 'leaf');
    }
    let real = loc.abs;
    if (st.isSymbolicLink()) {
      const target = await this.realInside(loc.abs);
      if (target === undefined) throw storeError('ENOENT', loc.rel, 'leaf');
      real = target;
      try {
        st = fs.lstatSync(real, { bigint: true });
      } catch (err) {
        throw this.fail(err, loc.rel, 'leaf');
      }
    }
    if (!st.isFile() && !st.isDirectory()) throw storeError('ENOENT', loc.rel, 'leaf'); // fifos, sockets, devices
    return { real, st };
  }

  /** For unlink/rmdir/rename, which act on the name itself: the target's stat and whether the leaf is a link. */
  private async followForRemoval(loc: Located): Promise<{ st: BigIntStats; link: boolean }> {
    const { real, st } = await this.follow(loc);
    return { st, link: real !== loc.abs };
  }

  private checkWritable(rel: string): void {
    if (this.readOnly) throw storeError('EROFS', `read-only store: ${rel}`);
  }

  /** An fs error as a StoreError naming the store path (never the disk path). */
  private fail(err: unknown, rel: string, component?: 'parent' | 'leaf'): StoreError {
    if (err instanceof StoreError) return err;
    let code = errorCode(err) ?? 'EIO';
    if (code === 'ELOOP') code = 'ENOENT';
    else if (code === 'EDQUOT' || code === 'EFBIG') code = 'ENOSPC';
    const where = code === 'ENOENT' ? component : code === 'ENOTDIR' ? 'parent' : undefined;
    return new StoreError(code, rel === '' ? '(root)' : rel, where);
  }

  // ---- stat and metadata ----

  private async toStat(st: BigIntStats, dataSt?: BigIntStats): Promise<StoreStat> {
    const meta = this.records.has(st.ino) ? await this.loadMeta(st) : undefined;
    const isDir = st.isDirectory() && dataSt === undefined;
    const data = dataSt ?? st;
    const mtimeMs = nsToMs(st.mtimeNs);
    const ctimeMs = nsToMs(st.ctimeNs);
    return {
      type: typeOf(st),
      size: isDir ? 0 : Number(data.size),
      allocationSize: isDir ? 0 : Number(data.blocks) * 512,
      birthtimeMs: meta?.birthtimeMs ?? (st.birthtimeNs > 0n ? nsToMs(st.birthtimeNs) : Math.min(mtimeMs, ctimeMs)),
      mtimeMs,
      atimeMs: nsToMs(st.atimeNs),
      ctimeMs: meta?.ctimeMs !== undefined && meta.ctimeAtSetNs === String(st.ctimeNs) ? meta.ctimeMs : ctimeMs,
      dosAttributes: meta?.attributes ?? defaultAttributes(typeOf(st)),
      fileId: st.ino,
      nlink: Number(st.nlink),
      ...(meta?.eas !== undefined ? { eas: meta.eas.map((ea) => ({ name: ea.name, value: Buffer.from(ea.value, 'base64'), flags: ea.flags })) } : {}),
    };
  }

  /** The record of an inode, or undefined; a stale record of a reused inode number is dropped. */
  private async loadMeta(st: BigIntStats): Promise<Meta | undefined> {
    const meta = this.records.get(st.ino);
    if (meta === undefined) return undefined;
    if (typeof meta.btime !== 'string' || meta.btime !== String(st.birthtimeNs)) {
      await this.dropMeta(st.ino);
      return undefined;
    }
    return meta;
  }

  private async updateMeta(st: BigIntStats, change: (m: Meta) => void): Promise<void> {
    const meta = (await this.loadMeta(st)) ?? { btime: String(st.birthtimeNs) };
    change(meta);
    this.records.set(st.ino, meta);
  }

  private async dropMeta(ino: bigint): Promise<void> {
    if (!this.records.has(ino)) return;
    this.records.set(ino, undefined);
    await fsp.rm(`${this.metaDir}/streams/${ino}`, { recursive: true, force: true });
  }

  private streamPath(ino: bigint, file: string): string {
    return `${this.metaDir}/streams/${ino}/${file}`;
  }

  // ---- named streams ----

  private async openStream(loc: Located, stream: string, opts: OpenOptions, create: 'new' | 'always' | 'never'): Promise<StoreHandle> {
    let base: { real: string; st: BigIntStats };
    try {
      base = await this.follow(loc);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT' || create === 'never' || loc.parts.length === 0) throw err;
      if (this.readOnly) throw storeError('EROFS', `read-only store: ${loc.rel}`);
      // NTFS creates the file along with its first stream.
      try {
        fs.closeSync(fs.openSync(loc.abs, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o666));
      } catch (err2) {
        if (errorCode(err2) !== 'EEXIST') throw this.fail(err2, loc.rel, 'leaf');
      }
      base = await this.follow(loc);
    }
    const ino = base.st.ino;
    const key = upcase(stream);
    const record = (await this.loadMeta(base.st))?.streams?.[key];
    const name = `${loc.rel}:${stream}`;
    if (record === undefined && create === 'never') throw storeError('ENOENT', name, 'leaf');
    if (record !== undefined && create === 'new') throw storeError('EEXIST', name);
    if (record === undefined) this.checkWritable(loc.rel);
    const file = record?.file ?? streamFileName(key);
    let flags = (opts.write ? O_RDWR : O_RDONLY) | O_NOFOLLOW;
    if (record === undefined) flags |= O_CREAT;
    if (opts.truncate === true) flags |= O_TRUNC;
    let fd: number;
    let baseFd: number;
    try {
      if (record === undefined) fs.mkdirSync(`${this.metaDir}/streams/${ino}`, { recursive: true, mode: 0o700 });
      fd = fs.openSync(this.streamPath(ino, file), flags, 0o600);
    } catch (err) {
      throw this.fail(err, name, 'leaf');
    }
    try {
      if (record === undefined) {
        await this.updateMeta(base.st, (m) => {
          m.streams ??= {};
          m.streams[key] = { name: stream, file };
        });
      }
      // The base file, for the stat of a stream handle (times, attributes, id follow the file).
      baseFd = fs.openSync(base.real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (err) {
      fs.closeSync(fd);
      throw this.fail(err, name, 'leaf');
    }
    return new LocalHandle(
      fd,
      opts.write,
      async (h) => this.toStat(fs.fstatSync(baseFd, { bigint: true }), fs.fstatSync(h, { bigint: true })),
      baseFd,
    );
  }
}

function typeOf(st: BigIntStats): 'file' | 'directory' {
  return st.isDirectory() ? 'directory' : 'file';
}

function nsToMs(ns: bigint): number {
  return Number(ns / 1000n) / 1000;
}

function exists(abs: string): boolean {
  return fs.lstatSync(abs, { throwIfNoEntry: false }) !== undefined;
}

function handleError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  let code = errorCode(err) ?? 'EIO';
  if (code === 'EDQUOT' || code === 'EFBIG') code = 'ENOSPC';
  return new StoreError(code, 'file handle');
}

/**
 * An open file descriptor with positions: reads go straight into the caller's buffer. Data calls run in libuv's
 * thread pool; close waits for those in flight, so a descriptor number is never reused under a pending call.
 */
class LocalHandle implements StoreHandle {
  private closed = false;
  private inFlight = 0;
  private drained: (() => void) | undefined;
  constructor(
    private readonly fd: number,
    private readonly writable: boolean,
    private readonly statOf: (fd: number) => Promise<StoreStat>,
    private readonly baseFd?: number,
  ) {}

  async read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    if (this.closed) throw storeError('EBADF', 'handle is closed');
    if (length <= SYNC_IO_MAX) {
      try {
        return fs.readSync(this.fd, buf, offset, length, position);
      } catch (err) {
        throw handleError(err);
      }
    }
    return this.run<number>((done) => fs.read(this.fd, buf, offset, length, position, done));
  }

  async write(data: Buffer, position: number): Promise<number> {
    this.check(true);
    let done = 0;
    if (data.length <= SYNC_IO_MAX && poolWrites === 0) {
      try {
        while (done < data.length) {
          const written = fs.writeSync(this.fd, data, done, data.length - done, position + done);
          if (written === 0) throw storeError('ENOSPC', 'short write');
          done += written;
        }
      } catch (err) {
        throw err instanceof StoreError ? err : handleError(err);
      }
      return done;
    }
    const big = data.length > SYNC_IO_MAX;
    if (big) poolWrites++;
    try {
      while (done < data.length) {
        const written = await this.run<number>((cb) => fs.write(this.fd, data, done, data.length - done, position + done, cb));
        if (written === 0) throw storeError('ENOSPC', 'short write');
        done += written;
      }
    } finally {
      if (big) poolWrites--;
    }
    return done;
  }

  async truncate(size: number): Promise<void> {
    this.check(true);
    if (!Number.isSafeInteger(size) || size < 0) throw storeError('EINVAL', `invalid size ${size}`);
    await this.run<void>((done) => fs.ftruncate(this.fd, size, done));
  }

  async sync(): Promise<void> {
    this.check(false);
    await this.run<void>((done) => fs.fsync(this.fd, done));
  }

  async stat(): Promise<StoreStat> {
    this.check(false);
    try {
      return await this.statOf(this.fd);
    } catch (err) {
      throw handleError(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    fs.closeSync(this.fd);
    if (this.baseFd !== undefined) fs.closeSync(this.baseFd);
  }

  /** One thread-pool call on the descriptor, counted so that close waits for it. */
  private run<T>(call: (done: (err: Error | null, value?: T) => void) => void): Promise<T> {
    this.inFlight++;
    return new Promise<T>((resolve, reject) => {
      call((err, value) => {
        if (--this.inFlight === 0 && this.drained) this.drained();
        if (err) reject(handleError(err));
        else resolve(value as T);
      });
    });
  }

  private check(write: boolean): void {
    if (this.closed) throw storeError('EBADF', 'handle is closed');
    if (write && !this.writable) throw storeError('EBADF', 'handle is not open for writing');
  }
}

/**
 * A time for utimes: seconds keep sub-millisecond precision, but Node turns a negative number of seconds (a time
 * before 1970) into "now", so those go as a Date.
 */
function utimeArg(ms: number): number | Date {
  return ms >= 0 ? ms / 1000 : new Date(ms);
}

/** The file holding a named stream's data, from its upper-cased name. */
function streamFileName(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 40);
}
