/**
 * CI guard: every subtest recorded in test/interop/torture-lists/<suite>.txt must
 * still pass against smbkit's server (the lists are written by `npm run conformance -- --update`).
 * SMBKIT_TORTURE_SUITES=a,b chooses suites; the default is every listed suite (about five minutes on an idle
 * machine: smb2.maxfid's thousands of opens take one to five, smb2.notify about 100 s, most of it the fixed waits
 * of its mask subtest, smb2.lock one second, smb2.timestamps 16 s). SMBKIT_TORTURE_HOST picks the loopback address (default 127.0.0.5).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SUITES, checkPassList, readPassList, startSmbkitTarget } from './conformance.js';
import type { TortureTarget } from './conformance.js';

const env = process.env['SMBKIT_TORTURE_SUITES'];
const suites = env !== undefined && env !== '' && env !== 'all' ? env.split(',').map((s) => s.trim()) : DEFAULT_SUITES;

describe('smbtorture pass lists', () => {
  let target: TortureTarget | undefined;
  before(async () => {
    target = await startSmbkitTarget(process.env['SMBKIT_TORTURE_HOST'] || '127.0.0.5');
  });
  after(async () => {
    await target?.stop();
  });
  for (const suite of suites) {
    it(`${suite}: every listed subtest passes`, async (t) => {
      const list = await readPassList(suite);
      if (list === undefined) {
        t.skip(`no list for ${suite}`);
        return;
      }
      assert.ok(target);
      const r = await checkPassList(target, suite);
      t.diagnostic(`${suite}: ${r.passed.length} passed, ${r.expected.length} listed${r.extra.length ? `, not yet listed: ${r.extra.join(' ')}` : ''}`);
    });
  }
});
