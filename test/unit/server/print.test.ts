import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '../../../src/config/schema.js';
import { serverConfigFrom } from '../../../src/config/server-config.js';
import { Status } from '../../../src/protocol/nt-status.js';
import { AccessMask, Command, CreateOptions, InfoType } from '../../../src/protocol/smb2/constants.js';
import { FileInfoClass } from '../../../src/protocol/smb2/fscc/file-info.js';
import { encodeQueryInfoRequest } from '../../../src/protocol/smb2/commands/query-info.js';
import { expandPrintCommand, unknownPlaceholders } from '../../../src/server/print/spooler.js';
import { startTestServer, TEST_PASSWORD, TEST_USER } from '../../support/raw-client.js';

test('print commands: placeholders are replaced inside arguments, never in the program', () => {
  const values = { file: '/spool/job-1.prn', user: 'a;b', domain: 'D', name: '$(x)', job: '1', share: 'p', client: '127.0.0.1', size: '9' };
  assert.deepEqual(expandPrintCommand(['/bin/{user}', '-t', 'doc={name}', '{file}', '{nope}', '{{size}}'], values), ['/bin/{user}', '-t', 'doc=$(x)', '/spool/job-1.prn', '{nope}', '{9}']);
  assert.deepEqual(unknownPlaceholders('{file} {fiel} {user}{x}'), ['fiel', 'x']);
});

test('config: printer shares need a spool path; print_command is checked; not read-only; only for printers', () => {
  const base = (share: Record<string, unknown>) => ({ user: [{ name: 'u', password: 'p' }], share: [{ name: 'p', ...share }] });
  const ok = parseConfig(base({ type: 'printer', path: 'spool', print_command: ['/usr/bin/lp', '-t', '{name}', '{file}'] }));
  const built = serverConfigFrom(ok);
  const share = built.shares[0]!;
  assert.equal(share.store, undefined);
  assert.equal(share.printer?.spoolDir, join(process.cwd(), 'spool'));
  assert.deepEqual(share.printer?.command, ['/usr/bin/lp', '-t', '{name}', '{file}']);
  assert.equal(share.printer?.commandTimeoutMs, 300_000, 'a print command runs five minutes at most by default');
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ type: 'printer' }, /share\[0\]\.path: a disk or printer share needs a path/],
    [{ type: 'printer', path: 's', print_command: [] }, /print_command/],
    [{ type: 'printer', path: 's', print_command: ['{file}'] }, /print_command\[0\]: the program .* cannot contain a placeholder/],
    [{ type: 'printer', path: 's', print_command: ['/bin/lp', '{filename}'] }, /print_command\[1\]: unknown placeholder \{filename\}/],
    [{ type: 'printer', path: 's', read_only: true }, /read_only: a printer share cannot be read-only/],
    [{ type: 'disk', path: 's', print_command: ['/bin/lp'] }, /print_command: print_command is for printer shares/],
  ];
  for (const [s, message] of bad) assert.throws(() => parseConfig(base(s)), (e: Error) => e instanceof ConfigError && message.test(e.message), JSON.stringify(s));
});

test('raw client: a job is published only when its client closes it; a dropped connection discards it', async () => {
  const spoolDir = await mkdtemp(join(tmpdir(), 'smbkit-spool-'));
  const jobs: { file: string; name: string; user: string; size: number }[] = [];
  const ts = await startTestServer({ shares: [{ name: 'lp', printer: { spoolDir } }] });
  ts.server.events.on('print-job', (j) => jobs.push(j));
  try {
    const c = await ts.connect();
    await c.login(TEST_USER, TEST_PASSWORD, 'lp');
    // The tree is a print queue.
    const queue = await c.create('', { desiredAccess: AccessMask.FILE_READ_ATTRIBUTES, createOptions: CreateOptions.DIRECTORY_FILE });
    assert.equal(queue.status, Status.SUCCESS);
    const list = await c.queryDirectory(queue.fileId, '*');
    assert.equal(list.status, Status.NOT_SUPPORTED);
    assert.equal((await c.create('sub', { createOptions: CreateOptions.DIRECTORY_FILE })).status, Status.OBJECT_NAME_NOT_FOUND);
    // A read-only open makes no job.
    assert.equal((await c.create('x.txt', { desiredAccess: AccessMask.FILE_READ_DATA })).status, Status.ACCESS_DENIED);

    const job = await c.create('report.pdf');
    assert.equal(job.status, Status.SUCCESS);
    assert.equal(job.create?.createAction, 2); // FILE_CREATED, whatever the disposition
    assert.equal((await c.write(job.fileId, 0, Buffer.from('hello '))).status, Status.SUCCESS);
    assert.equal((await c.write(job.fileId, 6, Buffer.from('world'))).status, Status.SUCCESS);
    assert.equal((await c.read(job.fileId, 0, 5)).status, Status.ACCESS_DENIED);
    const info = await c.request(Command.QUERY_INFO, (w) =>
      encodeQueryInfoRequest(w, { infoType: InfoType.FILE, fileInfoClass: FileInfoClass.FileStandardInformation, outputBufferLength: 64, additionalInformation: 0, flags: 0, fileId: job.fileId, inputBuffer: Buffer.alloc(0) }),
    );
    assert.equal(info.status, Status.SUCCESS);
    assert.equal(jobs.length, 0, 'nothing printed before CLOSE');
    assert.equal((await readdir(spoolDir)).filter((f) => !f.startsWith('.')).length, 0);
    assert.equal((await c.close(job.fileId)).status, Status.SUCCESS);
    assert.equal((await c.close(queue.fileId)).status, Status.SUCCESS);
    assert.equal(jobs.length, 1);
    assert.deepEqual([jobs[0]!.name, jobs[0]!.user, jobs[0]!.size], ['report.pdf', TEST_USER, 11]);
    assert.equal(await readFile(jobs[0]!.file, 'utf8'), 'hello world');

    // An empty job is discarded; so is one whose connection goes away before CLOSE.
    const empty = await c.create('empty.txt');
    await c.close(empty.fileId);
    const d = await ts.connect();
    await d.login(TEST_USER, TEST_PASSWORD, 'lp');
    const lost = await d.create('lost.txt');
    await d.write(lost.fileId, 0, Buffer.from('never printed'));
    d.destroy();
    const deadline = Date.now() + 5_000;
    while ((await readdir(spoolDir)).some((f) => f.endsWith('.partial')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual((await readdir(spoolDir)).sort(), [jobs[0]!.file.slice(spoolDir.length + 1)]);
    assert.equal(jobs.length, 1);
  } finally {
    await ts.stop();
    await rm(spoolDir, { recursive: true, force: true });
  }
});

test('a print command that hangs is killed once its time limit passes', async () => {
  const spoolDir = await mkdtemp(join(tmpdir(), 'smbkit-spool-'));
  const ts = await startTestServer({ shares: [{ name: 'lp', printer: { spoolDir, command: ['/bin/sleep', '600'], commandTimeoutMs: 300 } }] });
  const ran = new Promise<{ ok: boolean; signal?: string | null }>((resolve) => ts.server.events.once('print-command', resolve));
  try {
    const c = await ts.connect();
    await c.login(TEST_USER, TEST_PASSWORD, 'lp');
    const job = await c.create('slow.txt');
    await c.write(job.fileId, 0, Buffer.from('page'));
    assert.equal((await c.close(job.fileId)).status, Status.SUCCESS);
    const r = await ran;
    assert.equal(r.ok, false);
    assert.equal(r.signal, 'SIGKILL');
  } finally {
    await ts.stop();
    await rm(spoolDir, { recursive: true, force: true });
  }
});
