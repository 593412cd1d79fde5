/**
 * The fs/promises-like API of one share. Paths are share-relative with '/' or '\' separators ('' or '/' is the
 * root). Small operations are compounded into one round trip (CREATE + QUERY_INFO/SET_INFO/READ/WRITE + CLOSE).
 */
import { open as openLocal } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { Status } from '../protocol/nt-status.js';
import { decodeQueryDirectoryResponse } from '../protocol/smb2/commands/query-directory.js';
import { decodeReadResponse } from '../protocol/smb2/commands/read.js';
import { RELATED_FILE_ID, type FileId } from '../protocol/smb2/commands/file-id.js';
import { AccessMask, CreateDisposition, CreateOptions, FileAttributes, Fsctl, InfoType } from '../protocol/smb2/constants.js';
import { decodeIoctlResponse } from '../protocol/smb2/commands/ioctl.js';
import {
  COPYCHUNK_LIMITS,
  decodeCopyChunkResponse,
  decodeResumeKeyResponse,
  encodeCopyChunkRequest,
  type CopyChunk,
} from '../protocol/smb2/fscc/fsctl.js';
import { Reader } from '../util/reader.js';
import { Writer } from '../util/writer.js';
import { decodeDirectoryListing } from '../protocol/smb2/fscc/dir-info.js';
import { FileInfoClass } from '../protocol/smb2/fscc/file-info.js';
import { SmbError } from '../errors.js';
import { clientError, smbError } from './errors.js';
import { FileHandle, readStream, statsFromAllInformation, writeStream, type DurableHandleState } from './file-handle.js';
import { download, upload, type TransferOptions } from './transfer.js';
import { SmbDirent, SmbStats } from './stats.js';
import type { CreateSpec, Tree } from './tree.js';
import { durableCreate, durableGranted } from './durable.js';

const READ_ACCESS = AccessMask.FILE_READ_DATA | AccessMask.FILE_READ_ATTRIBUTES | AccessMask.FILE_READ_EA | AccessMask.READ_CONTROL | AccessMask.SYNCHRONIZE;
const WRITE_ACCESS = AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA | AccessMask.FILE_WRITE_ATTRIBUTES | AccessMask.FILE_WRITE_EA | AccessMask.SYNCHRONIZE;
const ATTR_ACCESS = AccessMask.FILE_READ_ATTRIBUTES | AccessMask.SYNCHRONIZE;
const DELETE_ACCESS = AccessMask.DELETE | AccessMask.FILE_READ_ATTRIBUTES | AccessMask.SYNCHRONIZE;
const LIST_ACCESS = AccessMask.FILE_READ_DATA | AccessMask.FILE_READ_ATTRIBUTES | AccessMask.SYNCHRONIZE;
/** Entries of one folder deleted at once by a recursive rm. */
const PARALLEL_DELETES = 8;

export type OpenFlags = 'r' | 'r+' | 'w' | 'w+' | 'wx' | 'wx+' | 'a' | 'a+' | 'ax' | 'ax+';

interface FlagSpec {
  access: number;
  disposition: number;
  append: boolean;
}

const FLAGS: Record<OpenFlags, FlagSpec> = {
  r: { access: READ_ACCESS, disposition: CreateDisposition.OPEN, append: false },
  'r+': { access: READ_ACCESS | WRITE_ACCESS, disposition: CreateDisposition.OPEN, append: false },
  w: { access: WRITE_ACCESS | AccessMask.FILE_READ_ATTRIBUTES, disposition: CreateDisposition.OVERWRITE_IF, append: false },
  'w+': { access: READ_ACCESS | WRITE_ACCESS, disposition: CreateDisposition.OVERWRITE_IF, append: false },
  wx: { access: WRITE_ACCESS | AccessMask.FILE_READ_ATTRIBUTES, disposition: CreateDisposition.CREATE, append: false },
  'wx+': { access: READ_ACCESS | WRITE_ACCESS, disposition: CreateDisposition.CREATE, append: false },
  a: { access: WRITE_ACCESS | AccessMask.FILE_READ_ATTRIBUTES, disposition: CreateDisposition.OPEN_IF, append: true },
  'a+': { access: READ_ACCESS | WRITE_ACCESS, disposition: CreateDisposition.OPEN_IF, append: true },
  ax: { access: WRITE_ACCESS | AccessMask.FILE_READ_ATTRIBUTES, disposition: CreateDisposition.CREATE, append: true },
  'ax+': { access: READ_ACCESS | WRITE_ACCESS, disposition: CreateDisposition.CREATE, append: true },
};

/** Share-relative SMB path: backslashes, no leading/trailing separator, '.' and '..' resolved ('' = root). */
export function smbPath(p: string): string {
  const out: string[] = [];
  for (const part of p.split(/[\\/]+/)) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('\\');
}

/** Runs `use` on an open handle, then closes it; a failed close counts only when `use` succeeded. */
async function closing<T>(h: FileHandle, use: (h: FileHandle) => Promise<T>): Promise<T> {
  let out: T;
  try {
    out = await use(h);
  } catch (e) {
    await h.close().catch(() => undefined);
    throw e;
  }
  await h.close();
  return out;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('\\');
  return i < 0 ? '' : path.slice(0, i);
}

function isCode(e: unknown, ...codes: string[]): e is SmbError {
  return typeof e === 'object' && e !== null && codes.includes((e as { code?: string }).code ?? '');
}

/** Options of share.open(). */
export interface OpenOptions {
  /** Default 'r'. */
  flags?: OpenFlags;
  /**
   * Ask for a durable handle: it survives a connection loss when the client reconnects (connect option
   * `reconnect`). On 3.x a DH2Q with a lease (RWH), on 2.1 a DHnQ with a lease, on 2.0.2 a DHnQ with a batch
   * oplock. `handle.durable` tells what the server granted ('none' when it declined).
   */
  durable?: boolean;
  /**
   * Ask for a persistent handle (3.x; implies durable): it survives a server restart. Only asked for where the
   * server advertises persistent handles and the share continuous availability; elsewhere the open falls back to
   * a durable one (see `handle.durable`).
   */
  persistent?: boolean;
}

export interface ReaddirOptions {
  withFileTypes?: boolean;
}

export interface RmOptions {
  recursive?: boolean;
  force?: boolean;
}

export class Share {
  private tree: Promise<Tree> | undefined;
  private readonly handles = new Set<FileHandle>();

  constructor(
    readonly name: string,
    private readonly connectTree: (name: string) => Promise<Tree>,
  ) {}

  /** Connects the tree now (otherwise the first call does). */
  async connect(): Promise<void> {
    await this.getTree();
  }

  private getTree(): Promise<Tree> {
    if (!this.tree) {
      this.tree = this.connectTree(this.name);
      this.tree.catch(() => {
        this.tree = undefined;
      });
    }
    return this.tree;
  }

  /** Whether requests on this share are encrypted (after connecting). */
  async encrypted(): Promise<boolean> {
    return (await this.getTree()).info.encrypt;
  }

  // ---- files ----

  /**
   * Opens a file: `open(path, 'r+')`, `open(path, 'r+', { durable: true })` or `open(path, { flags, durable,
   * persistent })`.
   */
  async open(path: string, flags: OpenFlags | OpenOptions = 'r', options: OpenOptions = {}): Promise<FileHandle> {
    const o: OpenOptions = typeof flags === 'string' ? { ...options, flags } : { ...flags, ...options };
    const tree = await this.getTree();
    const p = smbPath(path);
    const f = FLAGS[o.flags ?? 'r'];
    if (!f) throw new TypeError(`unknown open flags ${String(o.flags)}`);
    const spec: CreateSpec = { desiredAccess: f.access, createDisposition: f.disposition, createOptions: CreateOptions.NON_DIRECTORY_FILE };
    if (!o.durable && !o.persistent) {
      const res = await tree.create(p, spec);
      return this.track(tree, res.fileId, p, f.append, Number(res.endOfFile));
    }
    const neg = tree.session.negotiated;
    const ask = durableCreate(neg.dialect, neg.response.capabilities, tree.info.response.capabilities, o.persistent === true);
    const res = await tree.create(p, { ...spec, oplockLevel: ask.oplockLevel, contexts: ask.contexts });
    const durable = { open: ask.durable, spec, granted: durableGranted(ask.durable, res) };
    return this.track(tree, res.fileId, p, f.append, Number(res.endOfFile), durable);
  }

  private track(tree: Tree, fileId: FileId, path: string, append: boolean, size: number, durable?: DurableHandleState): FileHandle {
    const h = new FileHandle(tree, fileId, path, { append, size, onClose: (x) => this.handles.delete(x), ...(durable ? { durable } : {}) });
    this.handles.add(h);
    return h;
  }

  /** @internal The open handles of this share (to match oplock and lease breaks). */
  openHandles(): Iterable<FileHandle> {
    return this.handles;
  }

  /**
   * @internal During a reconnect: connects this share again through `connect` (a tree of the new session, not
   * yet adopted) and re-establishes the durable handles on it; every other handle is lost. Returns what to apply
   * once the whole reconnect succeeded, or nothing when the share was not connected. A transport failure throws
   * (the reconnect attempt fails and is retried); a share that refuses us now loses its handles.
   */
  async reconnect(connect: (name: string) => Promise<Tree>): Promise<(() => void) | undefined> {
    const pending = this.tree;
    if (!pending) return undefined;
    let tree: Tree;
    try {
      tree = await pending;
    } catch {
      return undefined;
    }
    let fresh: Tree;
    try {
      fresh = await connect(this.name);
    } catch (e) {
      if (!(e instanceof SmbError)) throw e;
      for (const h of this.handles) h.markLost();
      return () => {
        if (this.tree === pending) this.tree = undefined;
      };
    }
    for (const h of [...this.handles]) await h.reestablish(fresh);
    return () => {
      tree.info = fresh.info;
    };
  }

  /** The whole file; one round trip (CREATE + READ) when it fits one READ. */
  readFile(path: string): Promise<Buffer>;
  readFile(path: string, encoding: BufferEncoding | { encoding: BufferEncoding }): Promise<string>;
  async readFile(path: string, encoding?: BufferEncoding | { encoding?: BufferEncoding }): Promise<Buffer | string> {
    const enc = typeof encoding === 'string' ? encoding : encoding?.encoding;
    const tree = await this.getTree();
    const p = smbPath(path);
    const chunk = tree.tuning.readSize;
    const [cr, rr] = await tree.sendCompound([
      tree.createRequest(p, { desiredAccess: READ_ACCESS, createDisposition: CreateDisposition.OPEN, createOptions: CreateOptions.NON_DIRECTORY_FILE }),
      tree.readRequest(RELATED_FILE_ID, 0, chunk),
    ]);
    const create = tree.decodeCreate(cr!, p);
    const h = this.track(tree, create.fileId, p, false, Number(create.endOfFile));
    try {
      let first: Buffer;
      if (rr!.status === Status.END_OF_FILE) first = Buffer.alloc(0);
      else first = decodeReadResponse(tree.check(rr!, p).body).data;
      let out: Buffer;
      if (first.length < chunk) {
        out = Buffer.from(first);
        rr!.release();
      } else {
        // Sized to the end of file: fresh pages are costly, so a buffer twice the file (and its copy) is avoided
        // unless the file really grew; one small READ past the end tells.
        let buf = Buffer.allocUnsafe(Math.max(Number(create.endOfFile), chunk * 2));
        first.copy(buf, 0);
        rr!.release();
        let filled = first.length;
        for (;;) {
          const n = await h.readInto(buf, filled, buf.length - filled, filled);
          filled += n;
          if (filled < buf.length) break;
          const more = await h.readChunk(filled, chunk);
          if (more.length === 0) break;
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger);
          more.copy(bigger, filled);
          filled += more.length;
          buf = bigger;
        }
        out = buf.subarray(0, filled);
      }
      return enc ? out.toString(enc) : out;
    } finally {
      await h.close();
    }
  }

  /** Creates or replaces the file; one round trip (CREATE + WRITE + CLOSE) when it fits one WRITE. */
  async writeFile(path: string, data: string | Uint8Array, o: { flag?: 'w' | 'wx' | 'a'; encoding?: BufferEncoding } = {}): Promise<void> {
    const tree = await this.getTree();
    const p = smbPath(path);
    const buf = typeof data === 'string' ? Buffer.from(data, o.encoding ?? 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const flag = o.flag ?? 'w';
    const spec: CreateSpec = {
      desiredAccess: FLAGS[flag].access,
      createDisposition: FLAGS[flag].disposition,
      createOptions: CreateOptions.NON_DIRECTORY_FILE,
    };
    if (flag !== 'a' && buf.length <= tree.tuning.writeSize) {
      const { responses } = await tree.withFile(p, spec, buf.length > 0 ? [tree.writeRequest(RELATED_FILE_ID, 0, buf)] : []);
      for (const r of responses) tree.check(r, p);
      return;
    }
    const h = await this.open(p, flag);
    try {
      await h.write(buf, 0, buf.length, null);
    } finally {
      await h.close();
    }
  }

  async appendFile(path: string, data: string | Uint8Array): Promise<void> {
    await this.writeFile(path, data, { flag: 'a' });
  }

  /** fs-like stat: CREATE + QUERY_INFO(FileAllInformation) + CLOSE in one round trip. */
  async stat(path: string): Promise<SmbStats> {
    const tree = await this.getTree();
    const p = smbPath(path);
    const { responses } = await tree.withFile(p, { desiredAccess: ATTR_ACCESS, createDisposition: CreateDisposition.OPEN, createOptions: 0 }, [
      tree.queryInfoRequest(RELATED_FILE_ID, InfoType.FILE, FileInfoClass.FileAllInformation, 4096),
    ]);
    const qr = responses[0];
    return statsFromAllInformation(tree.check(qr!, p).body);
  }

  async exists(path: string): Promise<boolean> {
    try {
      await this.stat(path);
      return true;
    } catch (e) {
      if (isCode(e, 'ENOENT', 'ENOTDIR')) return false;
      throw e;
    }
  }

  // ---- directories ----

  /** Names in a directory ('.' and '..' left out); every entry, however many QUERY_DIRECTORY rounds it takes. */
  readdir(path: string): Promise<string[]>;
  readdir(path: string, o: { withFileTypes: true }): Promise<SmbDirent[]>;
  readdir(path: string, o: ReaddirOptions): Promise<string[] | SmbDirent[]>;
  async readdir(path: string, o: ReaddirOptions = {}): Promise<string[] | SmbDirent[]> {
    const entries = await this.list(path);
    if (o.withFileTypes) return entries;
    return entries.map((e) => e.name);
  }

  private async list(path: string): Promise<SmbDirent[]> {
    const tree = await this.getTree();
    const p = smbPath(path);
    const infoClass = FileInfoClass.FileIdBothDirectoryInformation;
    const [cr, qr] = await tree.sendCompound([
      tree.createRequest(p, { desiredAccess: LIST_ACCESS, createDisposition: CreateDisposition.OPEN, createOptions: CreateOptions.DIRECTORY_FILE }),
      tree.queryDirectoryRequest(RELATED_FILE_ID, infoClass, 0),
    ]);
    const create = tree.decodeCreate(cr!, p);
    const h = this.track(tree, create.fileId, p, false, 0);
    const parent = p.replace(/\\/g, '/');
    const out: SmbDirent[] = [];
    try {
      let res = qr!;
      // MS-SMB2 3.2.4.17: keep asking until STATUS_NO_MORE_FILES; an answer with entries is never the end.
      while (res.status !== Status.NO_MORE_FILES) {
        tree.check(res, p);
        const buf = decodeQueryDirectoryResponse(res.body).outputBuffer;
        for (const e of decodeDirectoryListing(buf, infoClass)) {
          if (e.fileName === '.' || e.fileName === '..') continue;
          out.push(new SmbDirent(e.fileName, parent, new SmbStats({ ...e, numberOfLinks: 1 })));
        }
        res = await tree.send(tree.queryDirectoryRequest(create.fileId, infoClass, 0));
      }
    } finally {
      await h.close();
    }
    return out;
  }

  /** Creates a directory; `recursive` creates missing parents and accepts an existing directory (fs semantics). */
  async mkdir(path: string, o: { recursive?: boolean } = {}): Promise<string | undefined> {
    const tree = await this.getTree();
    const p = smbPath(path);
    const attempt = async () => {
      await tree.withFile(
        p,
        { desiredAccess: ATTR_ACCESS, createDisposition: CreateDisposition.CREATE, createOptions: CreateOptions.DIRECTORY_FILE, fileAttributes: FileAttributes.DIRECTORY },
        [],
      );
    };
    if (!o.recursive) {
      await attempt();
      return undefined;
    }
    if (p === '') return undefined;
    try {
      await attempt();
      return p.replace(/\\/g, '/');
    } catch (e) {
      if (isCode(e, 'EEXIST')) {
        if ((await this.stat(p)).isDirectory()) return undefined;
        throw e;
      }
      if (!isCode(e, 'ENOENT')) throw e;
    }
    const first = await this.mkdir(parentOf(p), { recursive: true });
    try {
      await attempt();
    } catch (e) {
      if (!(isCode(e, 'EEXIST') && (await this.stat(p)).isDirectory())) throw e;
    }
    return first ?? p.replace(/\\/g, '/');
  }

  /** Removes an empty directory. */
  async rmdir(path: string): Promise<void> {
    await this.deletePath(smbPath(path), CreateOptions.DIRECTORY_FILE);
  }

  /** Removes a file (not a directory). */
  async unlink(path: string): Promise<void> {
    await this.deletePath(smbPath(path), CreateOptions.NON_DIRECTORY_FILE);
  }

  /** fs.rm: a file, or with `recursive` a directory tree; `force` ignores a missing path. */
  async rm(path: string, o: RmOptions = {}): Promise<void> {
    const p = smbPath(path);
    try {
      if (!o.recursive) {
        await this.deletePath(p, CreateOptions.NON_DIRECTORY_FILE);
        return;
      }
      await this.removeTree(p);
    } catch (e) {
      if (o.force && isCode(e, 'ENOENT')) return;
      throw e;
    }
  }

  private async removeTree(p: string): Promise<void> {
    try {
      await this.deletePath(p, 0);
      return;
    } catch (e) {
      if (!isCode(e, 'ENOTEMPTY')) throw e;
    }
    const entries = await this.list(p);
    let i = 0;
    const worker = async () => {
      while (i < entries.length) {
        const e = entries[i++]!;
        const child = `${p}\\${e.name}`;
        if (e.isDirectory()) await this.removeTree(child);
        else await this.deletePath(child, 0).catch((err: unknown) => {
          if (!isCode(err, 'ENOENT')) throw err;
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_DELETES, entries.length) }, worker));
    await this.deletePath(p, 0);
  }

  /** CREATE(DELETE) + SET_INFO(disposition) + CLOSE in one round trip. */
  private async deletePath(p: string, createOptions: number): Promise<void> {
    const tree = await this.getTree();
    if (p === '') throw clientError(Status.ACCESS_DENIED, 'EPERM', tree.unc(p));
    const { responses } = await tree.withFile(p, { desiredAccess: DELETE_ACCESS, createDisposition: CreateDisposition.OPEN, createOptions }, [
      tree.setInfoRequest(RELATED_FILE_ID, { kind: 'disposition', deletePending: true }),
    ]);
    tree.check(responses[0]!, p);
  }

  /** Renames (moves) within the share, replacing an existing file at the target like fs.rename. */
  async rename(from: string, to: string): Promise<void> {
    const tree = await this.getTree();
    const src = smbPath(from);
    const dst = smbPath(to);
    const { responses } = await tree.withFile(src, { desiredAccess: DELETE_ACCESS, createDisposition: CreateDisposition.OPEN, createOptions: 0 }, [
      tree.setInfoRequest(RELATED_FILE_ID, { kind: 'rename', replaceIfExists: true, rootDirectory: 0n, fileName: dst }),
    ]);
    const sr = responses[0]!;
    if (sr.status !== Status.SUCCESS) throw smbError(sr.status, `${tree.unc(src)} -> ${tree.unc(dst)}`);
  }

  /** Sets the size of a file (fs.truncate). */
  async truncate(path: string, len = 0): Promise<void> {
    const tree = await this.getTree();
    const p = smbPath(path);
    const { responses } = await tree.withFile(p, { desiredAccess: WRITE_ACCESS, createDisposition: CreateDisposition.OPEN, createOptions: CreateOptions.NON_DIRECTORY_FILE }, [
      tree.setInfoRequest(RELATED_FILE_ID, { kind: 'endOfFile', endOfFile: BigInt(len) }),
    ]);
    tree.check(responses[0]!, p);
  }

  /**
   * Copies a file within the share like fs.copyFile; the server copies the data itself (FSCTL_SRV_COPYCHUNK), so
   * no byte crosses the network. `mode` COPYFILE_EXCL (1) fails when the destination exists. Servers without
   * server-side copy get a read/write copy instead. Resolves with the bytes copied.
   */
  async copyFile(src: string, dest: string, mode = 0): Promise<number> {
    const tree = await this.getTree();
    return closing(await this.open(src, 'r'), async (from) => {
      const d = smbPath(dest);
      const created = await tree.create(d, {
        desiredAccess: READ_ACCESS | WRITE_ACCESS,
        createDisposition: mode & 1 ? CreateDisposition.CREATE : CreateDisposition.OVERWRITE_IF,
        createOptions: CreateOptions.NON_DIRECTORY_FILE,
      });
      return closing(this.track(tree, created.fileId, d, false, 0), async (to) => {
        const size = (await from.stat()).size;
        const key = await tree.send(tree.fsctlRequest(from.fileId, Fsctl.SRV_REQUEST_RESUME_KEY, Buffer.alloc(0), 32));
        if (key.status === Status.NOT_SUPPORTED || key.status === Status.INVALID_DEVICE_REQUEST) {
          await pipelineCopy(from, to, size);
          return size;
        }
        const sourceKey = decodeResumeKeyResponse(new Reader(decodeIoctlResponse(tree.check(key, from.path).body).output));
        await serverSideCopy(tree, to, sourceKey, size);
        return size;
      });
    });
  }

  // ---- streams ----

  /** A Readable of the file (`start`/`end` inclusive as in fs), with several reads in flight. */
  createReadStream(path: string, o: { start?: number; end?: number; highWaterMark?: number } = {}): Readable {
    const opener = () => this.open(path, 'r');
    return readStream(opener, o, true);
  }

  /** A Writable into the file ('w' replaces, 'a' appends), with several writes in flight. */
  createWriteStream(path: string, o: { flags?: 'w' | 'wx' | 'a' | 'r+'; start?: number; highWaterMark?: number } = {}): Writable {
    const opener = () => this.open(path, o.flags ?? 'w');
    return writeStream(opener, o.start, o.highWaterMark, true);
  }

  // ---- whole-file transfers ----

  /**
   * Copies a remote file to a local path (created or replaced) with several reads in flight and no per-chunk
   * allocation: the fastest way to fetch a file. Resolves with the bytes copied.
   */
  async download(remotePath: string, localPath: string, o: TransferOptions = {}): Promise<number> {
    return closing(await this.open(remotePath, 'r'), (h) => download(h, localPath, o));
  }

  /** Copies a local file to a remote path (created or replaced), as download() does the other way. */
  async upload(localPath: string, remotePath: string, o: TransferOptions = {}): Promise<number> {
    const local = await openLocal(localPath, 'r'); // first, so that a missing source creates nothing remotely
    try {
      return await closing(await this.open(remotePath, 'w'), (h) => upload(local, h, o));
    } finally {
      await local.close();
    }
  }

  // ---- lifecycle ----

  /** Closes every handle still open on this share and disconnects the tree. */
  async disconnect(): Promise<void> {
    if (!this.tree) return;
    let tree: Tree;
    try {
      tree = await this.tree;
    } catch {
      return;
    }
    this.tree = undefined;
    await Promise.allSettled([...this.handles].map((h) => h.close()));
    await tree.session.treeDisconnect(tree.info.treeId, tree.info.encrypt).catch(() => undefined);
  }
}

/**
 * FSCTL_SRV_COPYCHUNK requests of up to the server's limits (MS-SMB2 3.2.4.20.2); starts from Windows' limits and
 * adopts the smaller ones a server reports in an INVALID_PARAMETER answer.
 */
async function serverSideCopy(tree: Tree, to: FileHandle, sourceKey: Buffer, size: number): Promise<void> {
  let limits: { maxChunks: number; maxChunkSize: number; maxTotalBytes: number } = { ...COPYCHUNK_LIMITS };
  let done = 0;
  let retried = false;
  while (done < size) {
    const chunks: CopyChunk[] = [];
    let batch = 0;
    while (done + batch < size && chunks.length < limits.maxChunks && batch < limits.maxTotalBytes) {
      const length = Math.min(limits.maxChunkSize, size - done - batch, limits.maxTotalBytes - batch);
      chunks.push({ sourceOffset: BigInt(done + batch), targetOffset: BigInt(done + batch), length });
      batch += length;
    }
    const w = new Writer(32 + 24 * chunks.length);
    encodeCopyChunkRequest(w, { sourceKey, chunks });
    const res = await tree.send(tree.fsctlRequest(to.fileId, Fsctl.SRV_COPYCHUNK, Buffer.from(w.finish()), 12));
    if (res.status === Status.INVALID_PARAMETER && !retried) {
      // The answer carries the server's limits (ChunksWritten, ChunkBytesWritten, TotalBytesWritten).
      const r = decodeCopyChunkResponse(new Reader(decodeIoctlResponse(res.body).output));
      if (r.chunksWritten === 0 || r.chunkBytesWritten === 0 || r.totalBytesWritten === 0) throw smbError(res.status, to.unc);
      limits = { maxChunks: r.chunksWritten, maxChunkSize: r.chunkBytesWritten, maxTotalBytes: r.totalBytesWritten };
      retried = true;
      continue;
    }
    const r = decodeCopyChunkResponse(new Reader(decodeIoctlResponse(tree.check(res, to.path).body).output));
    if (r.totalBytesWritten === 0) throw clientError(Status.UNSUCCESSFUL, 'EIO', to.unc);
    done += r.totalBytesWritten;
  }
}

/** The fallback copy: the data goes through the client, a window of reads and writes at a time. */
async function pipelineCopy(from: FileHandle, to: FileHandle, size: number): Promise<void> {
  const chunk = from.tuning.readSize;
  for (let at = 0; at < size; at += chunk) {
    const data = await from.readChunk(at, Math.min(chunk, size - at));
    if (data.length === 0) break;
    await to.writeAt(data, at);
  }
}
