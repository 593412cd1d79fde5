import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localPorts } from '../../../src/scan/ports.js';
import { outputJsonSchemas, portsReportSchema, scanReportSchema } from '../../../src/scan/schema.js';
import { scan } from '../../../src/scan/scan.js';
import { repoRootFrom } from '../../interop/harness/smbkit.js';

test('docs/scan-schema.json is the rendering of src/scan/schema.ts (regenerate: smbkit scan --json-schema)', async () => {
  const root = repoRootFrom(import.meta.url);
  const onDisk = JSON.parse(await readFile(join(root, 'docs', 'scan-schema.json'), 'utf8')) as unknown;
  assert.deepEqual(onDisk, JSON.parse(JSON.stringify(outputJsonSchemas())));
});

test('a real scan report (a closed loopback port) and a real ports report match their schemas', async () => {
  const r = await scan([{ source: '127.0.0.1:1', host: '127.0.0.1', port: 1 }], { timeoutMs: 1000 });
  const parsed = scanReportSchema.parse(JSON.parse(JSON.stringify(r)));
  assert.equal(parsed.hosts[0]!.status, 'closed');
  portsReportSchema.parse(JSON.parse(JSON.stringify(await localPorts())));
});

test('the schema refuses unknown fields and wrong severities', () => {
  const base = { schema: 'smbkit-scan/1', startedAt: '', finishedAt: '', options: { timeoutMs: 1, concurrency: 1, sessions: true, shares: [] }, hosts: [], counts: { high: 0, medium: 0, low: 0 } };
  assert.equal(scanReportSchema.safeParse(base).success, true);
  assert.equal(scanReportSchema.safeParse({ ...base, extra: 1 }).success, false);
  assert.equal(scanReportSchema.safeParse({ ...base, schema: 'smbkit-scan/2' }).success, false);
  assert.equal(scanReportSchema.safeParse({ ...base, counts: { high: 0, medium: 0 } }).success, false);
});
