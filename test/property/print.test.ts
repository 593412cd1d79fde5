import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Status } from '../../src/protocol/nt-status.js';
import { Command, InfoType } from '../../src/protocol/smb2/constants.js';
import { encodeFlushRequest } from '../../src/protocol/smb2/commands/flush.js';
import { encodeQueryInfoRequest } from '../../src/protocol/smb2/commands/query-info.js';
import { encodeSetInfoRequest } from '../../src/protocol/smb2/commands/set-info.js';
import type { Logger } from '../../src/util/log.js';
import { startTestServer, TEST_PASSWORD, TEST_USER } from '../support/raw-client.js';

/** One step against a print open. */
const step = fc.oneof(
  fc.record({ op: fc.constant('write' as const), offset: fc.oneof(fc.nat(1 << 20), fc.constant(0xffffffffffffffffn)), size: fc.nat(5000) }),
  fc.record({ op: fc.constant('setInfo' as const), infoType: fc.integer({ min: 0, max: 5 }), infoClass: fc.integer({ min: 0, max: 80 }), buffer: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ op: fc.constant('queryInfo' as const), infoType: fc.integer({ min: 0, max: 5 }), infoClass: fc.integer({ min: 0, max: 80 }), length: fc.nat(300) }),
  fc.record({ op: fc.constant('read' as const), length: fc.nat(100) }),
  fc.record({ op: fc.constant('flush' as const) }),
);

const open = fc.record({
  name: fc.string({ unit: 'binary', maxLength: 30 }),
  access: fc.oneof(fc.constant(0x0012019f), fc.constant(0x02000000), fc.integer({ min: 0, max: 0xffffffff })),
  options: fc.oneof(fc.constant(0), fc.constant(1), fc.constant(0x40), fc.constant(0x1000), fc.nat(0xffffff)),
  disposition: fc.integer({ min: 0, max: 5 }),
  steps: fc.array(step, { maxLength: 6 }),
  close: fc.boolean(),
});

test('printer shares: random creates, writes, info requests and closes never crash the server or leave partial jobs', async () => {
  const spoolDir = await mkdtemp(join(tmpdir(), 'smbkit-spool-fuzz-'));
  const errors: string[] = [];
  const logger: Logger = { error: (m, f) => errors.push(`${m} ${JSON.stringify(f, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`), warn() {}, info() {}, debug() {} };
  const ts = await startTestServer({ shares: [{ name: 'lp', printer: { spoolDir } }] }, { logger });
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(open, { minLength: 1, maxLength: 4 }), async (opens) => {
        const c = await ts.connect();
        try {
          await c.login(TEST_USER, TEST_PASSWORD, 'lp');
          for (const o of opens) {
            const r = await c.create(o.name, { desiredAccess: o.access, createOptions: o.options, createDisposition: o.disposition });
            if (r.status !== Status.SUCCESS) continue;
            for (const s of o.steps) {
              if (s.op === 'write') await c.write(r.fileId, s.offset, Buffer.alloc(s.size, 0x41));
              else if (s.op === 'read') await c.read(r.fileId, 0, s.length);
              else if (s.op === 'flush') await c.request(Command.FLUSH, (w) => encodeFlushRequest(w, { fileId: r.fileId }));
              else if (s.op === 'setInfo') {
                await c.request(Command.SET_INFO, (w) =>
                  encodeSetInfoRequest(w, { infoType: s.infoType, fileInfoClass: s.infoClass, additionalInformation: 0, fileId: r.fileId, buffer: Buffer.from(s.buffer) }),
                );
              } else {
                await c.request(Command.QUERY_INFO, (w) =>
                  encodeQueryInfoRequest(w, { infoType: s.infoType || InfoType.FILE, fileInfoClass: s.infoClass, outputBufferLength: s.length, additionalInformation: 0, flags: 0, fileId: r.fileId, inputBuffer: Buffer.alloc(0) }),
                );
              }
            }
            if (o.close) await c.close(r.fileId);
          }
          assert.equal((await c.echo()).status, Status.SUCCESS);
        } finally {
          c.destroy();
        }
        assert.deepEqual(errors, []);
      }),
      { numRuns: 120, interruptAfterTimeLimit: 30_000 },
    );
    // Dropped connections discard their jobs: no partial file stays once the server has noticed.
    const deadline = Date.now() + 5_000;
    while ((await readdir(spoolDir)).some((f) => f.endsWith('.partial')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual((await readdir(spoolDir)).filter((f) => f.endsWith('.partial')), []);
  } finally {
    await ts.stop();
    await rm(spoolDir, { recursive: true, force: true });
  }
});
