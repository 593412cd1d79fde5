/**
 * CI guard: every subtest recorded in test/interop/torture-lists/<suite>.txt must
 * still pass against smbkit's server (the lists are written by `npm run conformance -- --update`).
 * SMBKIT_TORTURE_SUITES=a,b chooses suites; the default is every listed suite (about five minutes on an idle
 * machine: smb2.maxfid's thousands of opens take one to five, smb2.notify about 100 s, most of it the fixed waits
 * of its mask subtest, smb2.lock one second, smb2.timestamps 16 s). SMBKIT_TORTURE_HOST picks the loopback address (default 127.0.0.5).
 * The lists are recorded with settings like the reference Samba's (signing enabled, null sessions allowed); the quick
 * suites run again against smbkit's default configuration (signing required), so that the defaults users run cannot
 * regress (about 30 s; SMBKIT_TORTURE_DEFAULT_SUITES=a,b chooses them, "none" skips the run).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG_EXCEPTIONS, DEFAULT_CONFIG_SUITES, DEFAULT_SUITES, checkPassList, readPassList, startSmbkitTarget } from './conformance.js';
import type { TortureTarget } from './conformance.js';

const env = process.env['SMBKIT_TORTURE_SUITES'];
const suites = env !== undefined && env !== '' && env !== 'all' ? env.split(',').map((s) => s.trim()) : DEFAULT_SUITES;
const defaultsEnv = process.env['SMBKIT_TORTURE_DEFAULT_SUITES'];
const defaultConfigSuites =
  defaultsEnv === 'none' ? [] : defaultsEnv !== undefined && defaultsEnv !== '' ? defaultsEnv.split(',').map((s) => s.trim()) : DEFAULT_CONFIG_SUITES;
const host = process.env['SMBKIT_TORTURE_HOST'] || '127.0.0.5';

describe('smbtorture pass lists', () => {
  let target: TortureTarget | undefined;
  before(async () => {
    target = await startSmbkitTarget(host);
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

// The suites run one after the other: this server starts once the first one's has stopped, on the same address.
describe('smbtorture pass lists under the default configuration (signing required)', { skip: defaultConfigSuites.length === 0 && 'no suites chosen' }, () => {
  let target: TortureTarget | undefined;
  before(async () => {
    target = await startSmbkitTarget(host, 'smbkit (defaults)', 'defaults');
  });
  after(async () => {
    await target?.stop();
  });
  for (const suite of defaultConfigSuites) {
    it(`${suite}: every listed subtest passes with the defaults`, async (t) => {
      const list = await readPassList(suite);
      if (list === undefined) {
        t.skip(`no list for ${suite}`);
        return;
      }
      assert.ok(target);
      const exceptions = DEFAULT_CONFIG_EXCEPTIONS[suite] ?? [];
      const r = await checkPassList(target, suite, undefined, exceptions);
      t.diagnostic(`${suite}: ${r.passed.length} passed, ${r.expected.length} listed${exceptions.length ? ` (${exceptions.join(' ')} need settings the defaults lack)` : ''}`);
    });
  }
});
