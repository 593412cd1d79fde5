import type { PersistentJournal } from '../state/durable.js';
import { snapshot, type PersistedOpen } from '../state/journal.js';
import type { Open } from '../state/open.js';

/** A worker's messages to its primary about its durable opens. */
export type MemoToPrimary = { t: 'durable-save'; rec: PersistedOpen } | { t: 'durable-forget'; id: string };

/**
 * The records of a worker's plain (not persistent) durable opens, kept by the primary: when the worker dies, the one
 * that replaces it rebuilds them, and their clients reclaim them there (MS-SMB2 3.3.5.9.7), as a crash of the whole
 * server would not allow. The process crash keeps the page cache, so no disk write is needed: a record is one IPC
 * message per change (grant, reconnect, lock, lease acknowledgment), and its removal one more.
 */
export class DurableMemo implements PersistentJournal {
  private readonly send: (m: MemoToPrimary) => void;

  constructor(send: (m: MemoToPrimary) => void) {
    this.send = send;
  }

  save(open: Open): Promise<void> {
    this.send({ t: 'durable-save', rec: snapshot(open) });
    return Promise.resolve();
  }

  remove(open: Open): Promise<void> {
    return this.forget(open.persistentId.toString());
  }

  forget(persistentId: string): Promise<void> {
    this.send({ t: 'durable-forget', id: persistentId });
    return Promise.resolve();
  }
}

/** The primary's side: each worker's records, by worker number and open id; they outlive the worker's process. */
export class DurableRecords {
  private readonly byWorker = new Map<number, Map<string, PersistedOpen>>();

  take(worker: number, m: MemoToPrimary): void {
    let recs = this.byWorker.get(worker);
    if (m.t === 'durable-save') {
      if (!recs) this.byWorker.set(worker, (recs = new Map()));
      recs.set(m.rec.persistentId, m.rec);
    } else if (recs) {
      recs.delete(m.id);
      if (recs.size === 0) this.byWorker.delete(worker);
    }
  }

  /** What a worker (starting again) is to rebuild. */
  of(worker: number): PersistedOpen[] {
    return [...(this.byWorker.get(worker)?.values() ?? [])];
  }
}
