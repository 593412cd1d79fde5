/**
 * CI guard: every subtest recorded in test/interop/torture-lists/<suite>.txt must
 * still pass against smbkit's server (the lists are written by `npm run conformance -- --update`).
 * SMBKIT_TORTURE_SUITES=a,b (or "all") chooses suites; the default skips the
 * slow ones (smb2.dir ~30-50 s, smb2.create ~16 s, smb2.maxfid ~100-160 s).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SUITES, checkPassList, readPassList, startSmbkitTarget } from './conformance.js';
import type { TortureTarget } from './conformance.js';

const FAST_SUITES = ['smb2.connect', 'smb2.getinfo', 'smb2.setinfo', 'smb2.rw', 'smb2.read', 'smb2.rename', 'smb2.delete-on-close-perms'];
const env = process.env['SMBKIT_TORTURE_SUITES'];
const suites = env === 'all' ? DEFAULT_SUITES : env !== undefined && env !== '' ? env.split(',').map((s) => s.trim()) : FAST_SUITES;

describe('smbtorture pass lists', () => {
  let target: TortureTarget | undefined;
  before(async () => {
    target = await startSmbkitTarget('127.0.0.5');
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
