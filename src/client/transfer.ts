/**
 * Whole-file transfers between a local file and an open file on a share: a window of positioned READs or WRITEs,
 * each answered straight into (or sent straight from) buffers that are reused for the whole transfer. Streams
 * hand every chunk to a consumer that may keep it, so each needs fresh memory; these never do, which is what
 * makes `smbkit get|put` as fast as the wire.
 */
import { open as openLocal } from 'node:fs/promises';
import type { FileHandle as LocalFile } from 'node:fs/promises';
import { runWindow, type FileHandle } from './file-handle.js';

export interface TransferOptions {
  /** Called after each chunk with the bytes moved so far. */
  onProgress?: (bytes: number) => void;
  /** Stops the transfer (the call rejects with the signal's reason). */
  signal?: AbortSignal;
}

/**
 * Copies the remote file (open for reading) to `localPath` (created or replaced). Reads up to the size the file has
 * when the copy starts; a file that shrinks meanwhile ends where its data ends. Returns the bytes copied.
 */
export async function download(remote: FileHandle, localPath: string, o: TransferOptions = {}): Promise<number> {
  const size = (await remote.stat()).size;
  const local = await openLocal(localPath, 'w');
  try {
    const chunk = remote.tuning.readSize;
    const count = Math.ceil(size / chunk);
    let end = size;
    let moved = 0;
    await runWindow(count, remote.tuning.concurrency, async (i) => {
      let offset = i * chunk;
      const stop = Math.min(size, offset + chunk);
      while (offset < Math.min(stop, end)) {
        o.signal?.throwIfAborted();
        const got = await remote.readChunkView(offset, stop - offset);
        try {
          if (got.data.length === 0) {
            end = Math.min(end, offset); // the file is shorter now: nothing is read past here
            return;
          }
          await writeAll(local, got.data, offset);
        } finally {
          got.release();
        }
        offset += got.data.length;
        moved += got.data.length;
        o.onProgress?.(moved);
      }
    });
    if (end < size) await local.truncate(end);
    return Math.min(end, size);
  } finally {
    await local.close();
  }
}

/** Copies an open local file into the remote file (open for writing, normally just created or truncated). Returns the bytes. */
export async function upload(local: LocalFile, remote: FileHandle, o: TransferOptions = {}): Promise<number> {
  const size = (await local.stat()).size;
  const chunk = remote.tuning.writeSize;
  const count = Math.ceil(size / chunk);
  const window = Math.min(remote.tuning.concurrency, count);
  // One buffer per request in flight, reused: it is free again once the server has answered its WRITE.
  const spare = Array.from({ length: window }, () => Buffer.allocUnsafeSlow(chunk));
  let moved = 0;
  let end = size;
  await runWindow(count, window, async (i) => {
    const buf = spare.pop()!;
    try {
      const offset = i * chunk;
      if (offset >= end) return;
      const want = Math.min(chunk, size - offset);
      let n = 0;
      while (n < want) {
        o.signal?.throwIfAborted();
        const r = await local.read(buf, n, want - n, offset + n);
        if (r.bytesRead === 0) break;
        n += r.bytesRead;
      }
      if (n < want) end = Math.min(end, offset + n); // the local file shrank meanwhile
      if (n > 0) await remote.writeChunk(offset, buf.subarray(0, n));
      moved += n;
      o.onProgress?.(moved);
    } finally {
      spare.push(buf);
    }
  });
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
