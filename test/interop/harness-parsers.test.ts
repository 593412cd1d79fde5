import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ntStatusIn, parseAverageRate, parseLs } from './harness/smbclient.js';
import { parseTortureOutput } from './harness/smbtorture.js';

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
