/**
 * The multi-session small-file loop of issue 13, spoken with the raw SMB2 client of the tests (one TCP connection,
 * NTLMv2 logon and tree connect per session; unsigned unless the server requires signing), so the client does
 * little more than frame requests. Each session loops until the deadline:
 *   CREATE loop\<session>-<n> (new) + WRITE 4 KiB, READ it, CLOSE, CREATE it again with delete-on-close, CLOSE,
 *   and every `listEvery` iterations CREATE list10 (a folder of 10 files), QUERY_DIRECTORY until
 *   STATUS_NO_MORE_FILES, CLOSE.
 * Every request counts as one operation; each response's status is checked, and a wrong one counts as an error.
 */
import { RawClient } from '../test/support/raw-client.js';
import { Status, statusName } from '../src/protocol/nt-status.js';
import { AccessMask, CreateDisposition, CreateOptions, Dialect, SecurityMode, ShareAccess } from '../src/protocol/smb2/constants.js';
import type { FileId } from '../src/protocol/smb2/commands/file-id.js';

export const LOOP_FOLDER = 'loop';
export const LIST_FOLDER = 'list10';
export const LIST_FILES = 10;
export const OP_NAMES = ['CREATE', 'WRITE', 'READ', 'CLOSE', 'QUERY_DIRECTORY'] as const;
export type OpName = (typeof OP_NAMES)[number];

export interface SessionLoopOptions {
  host: string;
  port: number;
  share: string;
  user: string;
  password: string;
  sessions: number;
  durationMs: number;
  /** 0x0311 (default) or 0x0302. */
  dialect?: number;
  /** QUERY_DIRECTORY of list10 every this many iterations; default 10. */
  listEvery?: number;
  /** Bytes written and read per file; default 4096. */
  fileSize?: number;
  /** A prefix for this run's file names, so runs never meet each other's files. */
  runTag: string;
}

export interface SessionLoopResult {
  sessions: number;
  /** Requests answered within the timed loop (logon excluded). */
  ops: number;
  /** Wall milliseconds of the timed loop (from the common start until the last session stopped). */
  elapsedMs: number;
  /** Latencies in milliseconds per operation type. */
  latencies: Record<OpName, number[]>;
  errors: number;
  /** The first few errors, with counts of each kind. */
  errorKinds: Map<string, number>;
  /** CPU milliseconds of this (client) process during the loop. */
  clientCpuMs: number;
}

class SessionError extends Error {}

export async function runSessionLoop(o: SessionLoopOptions): Promise<SessionLoopResult> {
  const dialect = o.dialect ?? Dialect.SMB311;
  const listEvery = o.listEvery ?? 10;
  const payload = Buffer.alloc(o.fileSize ?? 4096, 0x5a);
  const latencies: Record<OpName, number[]> = { CREATE: [], WRITE: [], READ: [], CLOSE: [], QUERY_DIRECTORY: [] };
  const errorKinds = new Map<string, number>();
  let errors = 0;
  let ops = 0;
  const noteError = (what: string): void => {
    errors++;
    errorKinds.set(what, (errorKinds.get(what) ?? 0) + 1);
  };

  // Log every session on first (not timed), then start them together.
  const clients: RawClient[] = [];
  const logon = async (): Promise<{ c: RawClient; sign: boolean }> => {
    const c = await RawClient.connect(o.host, o.port);
    clients.push(c);
    const neg = await c.negotiate([dialect]);
    if (neg.status !== Status.SUCCESS) throw new Error(`negotiate: ${statusName(neg.status)}`);
    // The loop is unsigned unless the server requires signing (neither does as the benches configure them).
    const sign = ((c.negotiateResponse?.securityMode ?? 0) & SecurityMode.SIGNING_REQUIRED) !== 0;
    const ss = await c.sessionSetup(o.user, o.password);
    if (ss.status !== Status.SUCCESS) throw new Error(`session setup: ${statusName(ss.status)}`);
    // TREE_CONNECT is signed whatever the server requires, as Windows and smbclient sign it: on 3.1.1 Samba refuses
    // an unsigned one (ACCESS_DENIED) from a session that has a signing key.
    const tc = await c.treeConnect(`\\\\${o.host}\\${o.share}`, { sign: true });
    if (tc.status !== Status.SUCCESS) throw new Error(`tree connect: ${statusName(tc.status)}`);
    return { c, sign };
  };
  try {
    const sessions = await Promise.all(Array.from({ length: o.sessions }, logon));

    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const deadline = start + o.durationMs;
    const timed = async <T extends { status: number }>(op: OpName, p: Promise<T>, ok: readonly number[] = [Status.SUCCESS]): Promise<T> => {
      const t0 = performance.now();
      const r = await p;
      latencies[op].push(performance.now() - t0);
      ops++;
      if (!ok.includes(r.status)) {
        noteError(`${op} ${statusName(r.status)}`);
        throw new SessionError();
      }
      return r;
    };

    const loop = async (c: RawClient, sign: boolean, index: number): Promise<void> => {
      const opts = { sign, timeoutMs: 60_000 };
      const rw = AccessMask.GENERIC_READ | AccessMask.GENERIC_WRITE;
      const share = ShareAccess.READ | ShareAccess.WRITE | ShareAccess.DELETE;
      for (let n = 0; performance.now() < deadline; n++) {
        try {
          const name = `${LOOP_FOLDER}\\${o.runTag}-${index}-${n}`;
          const created = await timed('CREATE', c.create(name, { desiredAccess: rw, shareAccess: share, createDisposition: CreateDisposition.CREATE, createOptions: CreateOptions.NON_DIRECTORY_FILE, opts }));
          const fid = created.fileId;
          const w = await timed('WRITE', c.write(fid, 0, payload, opts));
          if (w.count !== payload.length) noteError(`WRITE count ${w.count}`);
          const r = await timed('READ', c.read(fid, 0, payload.length, opts));
          if (r.data.length !== payload.length) noteError(`READ returned ${r.data.length} bytes`);
          await timed('CLOSE', c.close(fid, opts));
          const again = await timed(
            'CREATE',
            c.create(name, {
              desiredAccess: AccessMask.DELETE | AccessMask.FILE_READ_ATTRIBUTES,
              shareAccess: share,
              createDisposition: CreateDisposition.OPEN,
              createOptions: CreateOptions.DELETE_ON_CLOSE | CreateOptions.NON_DIRECTORY_FILE,
              opts,
            }),
          );
          await timed('CLOSE', c.close(again.fileId, opts));
          if ((n + 1) % listEvery === 0) await listFolder(c, opts);
        } catch (e) {
          if (!(e instanceof SessionError)) {
            noteError(e instanceof Error ? e.message.replace(/\d+/g, 'N') : String(e));
            if (c.closed) return;
          }
        }
      }
    };

    const listFolder = async (c: RawClient, opts: { sign: boolean; timeoutMs: number }): Promise<void> => {
      const dir = await timed(
        'CREATE',
        c.create(LIST_FOLDER, {
          desiredAccess: AccessMask.FILE_READ_DATA | AccessMask.FILE_READ_ATTRIBUTES | AccessMask.SYNCHRONIZE,
          shareAccess: ShareAccess.READ | ShareAccess.WRITE | ShareAccess.DELETE,
          createDisposition: CreateDisposition.OPEN,
          createOptions: CreateOptions.DIRECTORY_FILE,
          opts,
        }),
      );
      const fid: FileId = dir.fileId;
      try {
        let seen = 0;
        for (let round = 0; round < 16; round++) {
          const q = await timed('QUERY_DIRECTORY', c.queryDirectory(fid, '*', { opts }), [Status.SUCCESS, Status.NO_MORE_FILES]);
          if (q.status === Status.NO_MORE_FILES) break;
          seen += q.entries.filter((e) => e.fileName !== '.' && e.fileName !== '..').length;
        }
        if (seen !== LIST_FILES) noteError(`QUERY_DIRECTORY listed ${seen} of ${LIST_FILES} files`);
      } finally {
        await timed('CLOSE', c.close(fid, opts));
      }
    };

    await Promise.all(sessions.map(({ c, sign }, i) => loop(c, sign, i)));
    const elapsedMs = performance.now() - start;
    const cpu = process.cpuUsage(cpu0);
    return { sessions: o.sessions, ops, elapsedMs, latencies, errors, errorKinds, clientCpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    for (const c of clients) c.end();
    await Promise.all(clients.map((c) => c.waitClosed(5_000)));
    for (const c of clients) c.destroy();
  }
}
