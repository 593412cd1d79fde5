/**
 * A worker process of a multi-worker server (server/workers/pool.ts forks this module). It builds the server from
 * the configuration its primary parsed, serves the sockets the primary admitted and hands over, and reports back
 * what the primary counts for the whole server: ended connections and logon results.
 */
import type { Socket } from 'node:net';
import type { UsersFileEntry } from '../auth/users-file.js';
import type { ConfigFileData } from '../config/schema.js';
import { serverConfigFrom } from '../config/server-config.js';
import { nodeKey, SmbServer } from '../server/server.js';
import { performance } from 'node:perf_hooks';
import { LOAD_REPORT_MS, type FromWorker, type ToWorker } from '../server/workers/pool.js';
import { WorkerLink } from '../server/workers/link.js';
import { LocalStore } from '../store/local.js';
import { DurableMemo } from '../server/workers/memo.js';

/** What the primary sends each worker to build its server from (plain data: it crosses the IPC channel). */
export interface WorkerSpec {
  data: ConfigFileData;
  fileUsers: UsersFileEntry[];
  /** The server's GUID (hex), the same on every worker. */
  serverGuid: string;
}

let server: SmbServer | undefined;

function send(m: FromWorker): void {
  if (process.connected) process.send!(m);
}

process.on('message', (m: ToWorker, socket?: Socket) => {
  switch (m.t) {
    case 'init': {
      const spec = m.spec as WorkerSpec;
      // Buffers arrive as plain Uint8Arrays through the structured clone.
      const fileUsers = spec.fileUsers.map((u) => ({ ...u, ntHash: Buffer.from(u.ntHash) }));
      const config = serverConfigFrom(spec.data, fileUsers);
      const srv = new SmbServer(config);
      server = srv;
      const link = new WorkerLink(srv, m.group, m.index, m.count);
      srv.joinWorkers(link);
      // A share served by this worker alone has nobody else writing its per-file records (unless another share
      // has the same folder).
      for (const s of config.shares) {
        const def = spec.data.share.find((d) => d.name === s.name);
        const sameRoot = spec.data.share.filter((d) => d.path !== undefined && d.path === def?.path).length;
        if (s.store instanceof LocalStore && sameRoot === 1) s.store.aloneWhile(() => link.aloneIn(s));
      }
      srv.durables.memo = new DurableMemo(send);
      server.events.on('disconnect', (e: { remote: string }) => send({ t: 'closed', remote: e.remote }));
      server.events.on('auth-failure', (e: { remote: string; user: string }) => send({ t: 'auth-failed', remote: e.remote, user: e.user }));
      server.events.on('auth-success', (e: { remote: string }) => send({ t: 'auth-succeeded', remote: e.remote }));
      srv.serverGuid = Buffer.from(spec.serverGuid, 'hex');
      // Connections come once this worker knows the others and has its persistent opens back (those of its FileIds),
      // and the durable ones of the worker it replaces, kept by the primary.
      void srv
        .loadJournal()
        .then(async (records) => {
          const mine = link.reserve([...records, ...m.durables]);
          await link.listen();
          await srv.recoverPersistent(mine, (share, path) => link.recovering(nodeKey(share, path)));
        })
        .finally(() => link.recoveryDone())
        .then(() => {
          send({ t: 'ready' });
          reportLoad();
        });
      return;
    }
    case 'conn':
      if (!socket) return;
      if (!server) {
        socket.destroy();
        send({ t: 'closed', remote: m.remote });
        return;
      }
      server.adopt(socket, m.kind, m.remote, m.moved && { ...m.moved, first: Buffer.from(m.moved.first) });
      return;
    case 'placed':
      return; // the worker link's own
    case 'stop':
      stopAndExit();
      return;
  }
});

/** Tells the primary how busy this worker's event loop has been, when that changed, for placing connections. */
function reportLoad(): void {
  let since = performance.eventLoopUtilization();
  let told = 0;
  setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, since).utilization;
    since = now;
    if (Math.abs(busy - told) < 0.05) return;
    told = busy;
    send({ t: 'load', busy });
  }, LOAD_REPORT_MS).unref();
}

let stopping = false;
function stopAndExit(): void {
  if (stopping) return;
  stopping = true;
  void (server?.close() ?? Promise.resolve()).then(() => process.exit(0));
}

// The primary went away: nothing more will be handed over, and nobody counts what this worker serves.
process.on('disconnect', stopAndExit);

// Ctrl-C and service managers signal the whole process group: the primary gets the signal too and stops the workers
// in order (persistent opens journalled, connections closed). A signal sent to this worker alone ends it after a
// moment, and the primary starts another in its place.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void setTimeout(stopAndExit, 2000));
