/**
 * How the primary places a new connection on its workers (server/workers/pool.ts `placeConnection`): it fills one
 * worker up to `worker_fill` connections while that worker is not busy, then the next, then the least loaded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUSY_WORKER, placeConnection } from '../../../src/server/workers/pool.js';

const idle = (...connections: number[]) => connections.map((c) => ({ connections: c, busy: 0 }));

/** Places `n` connections one after another, as the primary counts them, and returns each worker's count. */
function place(n: number, workers: number, fill: number, busy: (w: number) => number = () => 0): number[] {
  const loads = Array.from({ length: workers }, (_, i) => ({ connections: 0, busy: busy(i) }));
  for (let i = 0; i < n; i++) loads[placeConnection(loads, fill)]!.connections++;
  return loads.map((l) => l.connections);
}

describe('placing connections on workers', () => {
  it('fills the first worker up to fill connections before the next gets any', () => {
    assert.deepEqual(place(4, 2, 16), [4, 0]);
    assert.deepEqual(place(16, 2, 16), [16, 0]);
    assert.deepEqual(place(17, 2, 16), [16, 1]);
    assert.deepEqual(place(32, 2, 16), [16, 16]);
    assert.deepEqual(place(40, 4, 16), [16, 16, 8, 0]);
  });

  it('past fill on every worker, gives each new connection to the one with the fewest', () => {
    assert.deepEqual(place(64, 2, 16), [32, 32]);
    assert.deepEqual(place(1000, 2, 16), [500, 500]);
    assert.equal(placeConnection(idle(20, 17, 30), 16), 1);
  });

  it('spreads evenly from the first connection with fill = 1', () => {
    assert.deepEqual(place(2, 2, 1), [1, 1]);
    assert.deepEqual(place(7, 3, 1), [3, 2, 2]);
  });

  it('passes over a busy worker while another has room, and comes back to it when none has', () => {
    const loads = [
      { connections: 3, busy: BUSY_WORKER + 0.1 },
      { connections: 0, busy: 0 },
    ];
    assert.equal(placeConnection(loads, 16), 1);
    assert.deepEqual(place(20, 2, 16, (w) => (w === 0 ? 0.9 : 0)), [4, 16]);
    // Every worker busy: the fewest connections, and on a tie the less busy.
    assert.equal(placeConnection([{ connections: 2, busy: 0.9 }, { connections: 2, busy: 0.7 }], 16), 1);
  });

  it('takes a worker that serves nobody now as idle, whatever it last reported', () => {
    // The last client of worker 0 kept it busy and has just gone: the next client goes there, not to a cold worker.
    assert.equal(placeConnection([{ connections: 0, busy: 0.9 }, { connections: 0, busy: 0 }], 16), 0);
  });

  it('fills the fullest worker with room first, so that a replaced worker does not take every new connection', () => {
    // Worker 1 was replaced and has nothing; worker 0 still has room: it goes on filling worker 0.
    assert.equal(placeConnection(idle(5, 0), 16), 0);
    assert.equal(placeConnection(idle(16, 0), 16), 1);
  });
});
