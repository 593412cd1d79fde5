import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasWildcards, matchWildcard } from '../../../src/protocol/smb2/fscc/wildcard.js';

const yes = (p: string, n: string): void => assert.equal(matchWildcard(p, n), true, `${p} should match ${n}`);
const no = (p: string, n: string): void => assert.equal(matchWildcard(p, n), false, `${p} should not match ${n}`);

test('star and question mark', () => {
  for (const n of ['a', 'a.txt', '.hidden', 'no dots', 'x.y.z', '.', '..']) {
    yes('*', n);
    yes('*.*', n); // MS-FSA 2.1.4.4: '*.*' matches everything
  }
  yes('*.txt', 'a.txt');
  yes('*.txt', '.txt');
  yes('*.TXT', 'File.txt');
  no('*.txt', 'a.txt.bak');
  no('*.txt', 'atxt');
  yes('a?c', 'abc');
  yes('a?c', 'a.c');
  no('a?c', 'ac');
  no('a?c', 'abbc');
  yes('a*b*c', 'axxbyyc');
  yes('a*b*c', 'abc');
  no('a*b*c', 'acb');
  yes('*a*', 'banana');
  yes('**', 'x');
  yes('abc', 'ABC');
  no('abc', 'abcd');
});

test('empty strings', () => {
  yes('', '');
  no('*', '');
  no('', 'a');
  no('?', '');
});

test('DOS_STAR <', () => {
  yes('<.txt', 'file.txt');
  yes('<.txt', 'a.b.txt'); // < may eat dots that are not the last
  no('<.txt', 'file.doc');
  yes('<', 'nodot');
  no('<', 'a.txt'); // cannot eat the last dot
  yes('<.<', 'a.txt');
  yes('<.<', 'a.b.c');
  yes('<"<', 'a.txt');
  yes('<"<', 'nodot'); // " matches nothing at the end
});

test('DOS_QM >', () => {
  yes('file>.txt', 'file1.txt');
  yes('file>.txt', 'file.txt'); // > matches nothing before a dot
  no('file>.txt', 'file12.txt');
  yes('>>>>>>>>.>>>', 'a.b');
  yes('>>>>>>>>.>>>', 'abcdefgh.xyz');
  no('>>>>>>>>.>>>', 'abcdefghi.xyz');
  yes('a>>', 'a'); // nothing at the end of the name
  yes('a>>', 'abc');
  no('a>', 'a.');
});

test('DOS_DOT "', () => {
  yes('a"b', 'a.b');
  no('a"b', 'ab');
  yes('abc"', 'abc');
  yes('abc"', 'abc.');
  yes('abc"*', 'abc.def');
  yes('"', '.');
  no('"', 'a');
});

test('case-insensitive beyond ASCII', () => {
  yes('ÄBC*', 'äbcdef');
  yes('straße', 'STRAßE');
  no('straße', 'STRASSE');
});

test('no exponential blow-up', () => {
  const name = 'a'.repeat(2000);
  no('*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b', name);
  no('<a<a<a<a<a<a<a<a<a<a<a<a<a<a<a<a<a<a<a<a<b', name);
});

test('hasWildcards', () => {
  for (const p of ['*', 'a?', '<', '>', '"', 'x*.txt']) assert.equal(hasWildcards(p), true);
  for (const p of ['', 'abc', 'a.b', 'name with spaces']) assert.equal(hasWildcards(p), false);
});
