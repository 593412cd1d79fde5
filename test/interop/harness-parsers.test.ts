import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ntStatusIn, parseAverageRate, parseLs } from './harness/smbclient.js';
import { parseTortureOutput } from './harness/smbtorture.js';
import { newcArchive, parseVmLine, shellEnv } from './harness/vm.js';
import { run } from './harness/proc.js';

test('parseLs reads smbclient listings, including long names and names with spaces', () => {
  const out = [
    '  .                                   D        0  Wed Nov 25 11:54:11 2026',
    '  ..                                  D        0  Wed Nov 25 11:54:11 2026',
    '  h                                   A        3  Wed Nov 25 11:54:11 2026',
    '  a name with spaces.txt              A    65537  Mon Jan  5 01:02:03 2026',
    '  a_very_long_file_name_beyond_thirty_chars.bin      N 8388608  Wed Nov 25 11:54:11 2026',
    '',
    '\t\t264212084 blocks of size 1024. 83400864 blocks available',
  ].join('\n');
  assert.deepEqual(parseLs(out), [
    { name: '.', attrs: 'D', size: 0 },
    { name: '..', attrs: 'D', size: 0 },
    { name: 'h', attrs: 'A', size: 3 },
    { name: 'a name with spaces.txt', attrs: 'A', size: 65537 },
    { name: 'a_very_long_file_name_beyond_thirty_chars.bin', attrs: 'N', size: 8388608 },
  ]);
});

test('ntStatusIn lists distinct statuses in order', () => {
  assert.deepEqual(
    ntStatusIn('NT_STATUS_OBJECT_NAME_NOT_FOUND opening x\nsession setup failed: NT_STATUS_LOGON_FAILURE\nNT_STATUS_OBJECT_NAME_NOT_FOUND'),
    ['NT_STATUS_OBJECT_NAME_NOT_FOUND', 'NT_STATUS_LOGON_FAILURE'],
  );
});

test('parseAverageRate returns the last average in bytes/s', () => {
  assert.equal(parseAverageRate('putting file a as \\a (10.0 kb/s) (average 2.0 kb/s)\n'), 2048);
  assert.equal(
    parseAverageRate('getting file \\big of size 1073741824 as /dev/null (596459.6 KiloBytes/sec) (average 596459.5 KiloBytes/sec)'),
    596459.5 * 1024,
  );
  assert.equal(parseAverageRate('nothing'), undefined);
});

test('parseTortureOutput reads success, failure blocks, skips and unfinished tests', () => {
  const out = [
    'smbtorture 4.17.12-Debian',
    'test: a',
    'time: 2026-11-25 11:59:12.464560',
    'success: a',
    'test: b',
    'failure: b [',
    '../../source4/torture/smb2/getinfo.c:766: status was NT_STATUS_INVALID_PARAMETER',
    ']',
    'test: c',
    'skip: c [not supported]',
    'test: d',
    'error: d [',
    'boom',
    ']',
    'test: e',
  ].join('\n');
  assert.deepEqual(parseTortureOutput(out), [
    { name: 'a', status: 'success' },
    { name: 'b', status: 'failure', detail: '../../source4/torture/smb2/getinfo.c:766: status was NT_STATUS_INVALID_PARAMETER' },
    { name: 'c', status: 'skip', detail: 'not supported' },
    { name: 'd', status: 'error', detail: 'boom' },
    { name: 'e', status: 'timeout', detail: 'no result line (killed or crashed)' },
  ]);
});

test('parseVmLine reads the kernel-client guest protocol', () => {
  assert.deepEqual(parseVmLine('ok 3.1.1/create'), { kind: 'result', result: { name: '3.1.1/create', ok: true, detail: '' } });
  assert.deepEqual(parseVmLine('fail 3.0+seal/lock-local hold: error setlk Operation not supported\r'), {
    kind: 'result',
    result: { name: '3.0+seal/lock-local', ok: false, detail: 'hold: error setlk Operation not supported' },
  });
  assert.deepEqual(parseVmLine('sync coherence-read kc-3_1_1/coh-r'), { kind: 'sync', name: 'coherence-read', args: 'kc-3_1_1/coh-r' });
  assert.deepEqual(parseVmLine('exit 0'), { kind: 'exit', code: 0 });
  assert.deepEqual(parseVmLine('exit soon'), { kind: 'other', text: 'exit soon' });
  assert.deepEqual(parseVmLine('okay then'), { kind: 'other', text: 'okay then' });
});

/** Walks a newc archive the way the kernel's unpacker does: 110-byte header, name, data, each 4-aligned. */
function readNewc(b: Buffer): { name: string; mode: number; data: Buffer }[] {
  const out: { name: string; mode: number; data: Buffer }[] = [];
  let at = 0;
  for (;;) {
    assert.equal(at % 4, 0);
    assert.equal(b.toString('ascii', at, at + 6), '070701');
    const field = (i: number): number => parseInt(b.toString('ascii', at + 6 + i * 8, at + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const name = b.toString('utf8', at + 110, at + 110 + nameSize - 1);
    assert.equal(b[at + 110 + nameSize - 1], 0);
    let p = at + 110 + nameSize;
    p += (4 - (p % 4)) % 4;
    if (name === 'TRAILER!!!') {
      assert.equal(p, b.length);
      return out;
    }
    out.push({ name, mode, data: b.subarray(p, p + size) });
    p += size;
    at = p + ((4 - (p % 4)) % 4);
  }
}

test('newcArchive writes entries the newc way, aligned, with a trailer', () => {
  const archive = newcArchive([
    { path: 'test' },
    { path: 'test/script.sh', data: 'echo hi\n', mode: 0o755 },
    { path: 'test/odd', data: Buffer.from([1, 2, 3]) },
  ]);
  assert.deepEqual(
    readNewc(archive).map((e) => ({ name: e.name, mode: e.mode.toString(8), data: e.data.toString('latin1') })),
    [
      { name: 'test', mode: '40755', data: '' },
      { name: 'test/script.sh', mode: '100755', data: 'echo hi\n' },
      { name: 'test/odd', mode: '100644', data: '\x01\x02\x03' },
    ],
  );
  assert.throws(() => newcArchive([{ path: '/etc/passwd', data: 'x' }]));
  assert.throws(() => newcArchive([{ path: 'a/../../b', data: 'x' }]));
});

test('shellEnv quotes values so a POSIX shell reads them back unchanged', async () => {
  const tricky = `Kc pass 1! it's "quoted" $HOME \\ \`id\``;
  const r = await run('sh', ['-c', `${shellEnv({ SMB_PASS: tricky, MOUNTS: '3.0 3.0+seal' })}printf '%s|%s' "$SMB_PASS" "$MOUNTS"`], { timeoutMs: 10_000 });
  assert.equal(r.stdout, `${tricky}|3.0 3.0+seal`);
  assert.throws(() => shellEnv({ 'BAD NAME': 'x' }));
  assert.throws(() => shellEnv({ X: 'a\nb' }));
});
