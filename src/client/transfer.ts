/**
 * Whole-file transfers between a local file and an open file on a share: a window of positioned READs or WRITEs,
 * each answered straight into (or sent straight from) buffers that are reused for the whole transfer. Streams
 * hand every chunk to a consumer that may keep it, so each needs fresh memory; these never do, which is what
 * makes `smbkit get|put` as fast as the wire.
 */
import { open as openLocal } from 'node:fs/promises';
import type { FileHandle as LocalFile } from 'node:fs/promises';
import { readAhead, type FileHandle } from './file-handle.js';

export interface TransferOptions {
  /** Called after each chunk with the bytes moved so far. */
  onProgress?: (bytes: number) => void;
  /** Stops the transfer (the call rejects with the signal's reason). */
  signal?: AbortSignal;
}

/**
 * Copies the remote file (open for reading) to `localPath` (created or replaced). Reads up to the size the file has
 * when the copy starts; a file that shrinks meanwhile ends where its data ends. Returns the bytes copied. The local
 * writes go one after another, in order, while the next READs are in flight.
 */
export async function download(remote: FileHandle, localPath: string, o: TransferOptions = {}): Promise<number> {
  const size = (await remote.stat()).size;
  const local = await openLocal(localPath, 'w');
  try {
    let moved = 0;
    for await (const chunk of readAhead(remote, 0, size, remote.tuning.concurrency)) {
      const n = chunk.data.length;
      try {
        o.signal?.throwIfAborted();
        await writeAll(local, chunk.data, moved);
      } finally {
        chunk.release();
      }
      moved += n;
      o.onProgress?.(moved);
    }
    return moved;
  } finally {
    await local.close();
  }
}

/**
 * Copies an open local file into the remote file (open for writing, normally just created or truncated). Returns the
 * bytes. The next chunk is read from the local file while its WRITEs are in flight; each WRITE's buffer is
 * reused once the server has answered it.
 */
export async function upload(local: LocalFile, remote: FileHandle, o: TransferOptions = {}): Promise<number> {
  const size = (await local.stat()).size;
  const chunk = remote.tuning.writeSize;
  const window = remote.tuning.uploadConcurrency;
  const spare: Buffer[] = [];
  const writes = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let moved = 0;
  const send = (offset: number, buf: Buffer, n: number): void => {
    const w: Promise<void> = remote.writeChunk(offset, buf.subarray(0, n)).then(
      () => {
        writes.delete(w);
        spare.push(buf);
        moved += n;
        o.onProgress?.(moved);
      },
      (error: unknown) => {
        writes.delete(w);
        failure ??= { error };
      },
    );
    writes.add(w);
  };
  let end = 0;
  try {
    while (end < size && failure === undefined) {
      const buf = spare.pop() ?? Buffer.allocUnsafeSlow(Math.min(chunk, size));
      const want = Math.min(chunk, size - end);
      let n = 0;
      while (n < want) {
        o.signal?.throwIfAborted();
        const r = await local.read(buf, n, want - n, end + n);
        if (r.bytesRead === 0) break;
        n += r.bytesRead;
      }
      if (n > 0) send(end, buf, n);
      end += n;
      if (n < want) break; // the local file shrank meanwhile
      while (writes.size >= window && failure === undefined) await Promise.race(writes);
    }
  } finally {
    await Promise.all(writes);
  }
  if (failure !== undefined) throw failure.error;
  if (end < size) await remote.truncate(end);
  return end;
}

async function writeAll(local: LocalFile, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await local.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
