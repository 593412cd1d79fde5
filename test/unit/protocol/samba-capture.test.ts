import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FrameAccumulator } from '../../../src/protocol/framing.js';
import { splitCompound } from '../../../src/protocol/smb2/compound.js';
import { Command } from '../../../src/protocol/smb2/constants.js';
import { decodeHeader } from '../../../src/protocol/smb2/header.js';
import * as create from '../../../src/protocol/smb2/commands/create.js';
import * as negotiate from '../../../src/protocol/smb2/commands/negotiate.js';
import { decodeErrorResponse } from '../../../src/protocol/smb2/commands/error.js';
import { validateRequestBody, validateResponseBody } from '../../../src/protocol/smb2/validate.js';
import { Reader } from '../../../src/util/reader.js';
import { Writer } from '../../../src/util/writer.js';
import { SAMPLES } from './samples.js';

/** Real bytes: smbclient 4.17 against Samba 4.17 over SMB 3.1.1 (test/fixtures/protocol/samba-311-guest.json). */
const fixture = JSON.parse(
  readFileSync(new URL('../../../../test/fixtures/protocol/samba-311-guest.json', import.meta.url), 'utf8'),
) as { client: string; server: string };

const NAMES: Record<number, string> = {
  [Command.NEGOTIATE]: 'NEGOTIATE',
  [Command.SESSION_SETUP]: 'SESSION_SETUP',
  [Command.LOGOFF]: 'LOGOFF',
  [Command.TREE_CONNECT]: 'TREE_CONNECT',
  [Command.TREE_DISCONNECT]: 'TREE_DISCONNECT',
  [Command.CREATE]: 'CREATE',
  [Command.CLOSE]: 'CLOSE',
  [Command.FLUSH]: 'FLUSH',
  [Command.READ]: 'READ',
  [Command.WRITE]: 'WRITE',
  [Command.IOCTL]: 'IOCTL',
  [Command.ECHO]: 'ECHO',
  [Command.QUERY_DIRECTORY]: 'QUERY_DIRECTORY',
  [Command.QUERY_INFO]: 'QUERY_INFO',
  [Command.SET_INFO]: 'SET_INFO',
};

function codecFor(command: number, direction: 'request' | 'response') {
  const prefix = NAMES[command];
  return SAMPLES.find((s) => s.direction === direction && s.name.startsWith(`${prefix} `));
}

function messages(hexStream: string): Array<{ frame: Buffer; start: number; end: number }> {
  const acc = new FrameAccumulator();
  acc.push(Buffer.from(hexStream, 'hex'));
  const out: Array<{ frame: Buffer; start: number; end: number }> = [];
  for (let f = acc.next(); f !== undefined; f = acc.next()) {
    if (f.readUInt32BE(0) !== 0xfe534d42) continue; // the SMB1 NEGOTIATE smbclient may open with
    for (const p of splitCompound(f)) out.push({ frame: f, ...p });
  }
  return out;
}

for (const direction of ['request', 'response'] as const) {
  test(`every ${direction} in the Samba capture decodes, validates and re-encodes to an equal message`, () => {
    const seen = new Set<string>();
    for (const m of messages(direction === 'request' ? fixture.client : fixture.server)) {
      const h = decodeHeader(new Reader(m.frame, m.start, m.end));
      const r = new Reader(m.frame, m.start + 64, m.end, m.start);
      const isError = h.status !== 0 && m.frame.readUInt16LE(m.start + 64) === 9 && h.command !== Command.SESSION_SETUP;
      if (direction === 'request') validateRequestBody(m.frame, m.start, m.end, h.command);
      else validateResponseBody(m.frame, m.start, m.end, h.command, isError);
      if (isError && direction === 'response') {
        decodeErrorResponse(r);
        continue;
      }
      const codec = codecFor(h.command, direction);
      assert.ok(codec, `no codec sample for command ${h.command}`);
      const decoded = codec.decode(r);
      const w = new Writer();
      w.zeros(64);
      codec.encode(w, decoded);
      const again = Buffer.from(w.finish());
      assert.deepStrictEqual(codec.decode(new Reader(again, 64, again.length, 0)), decoded, `command ${h.command}`);
      seen.add(NAMES[h.command]!);
    }
    for (const c of ['NEGOTIATE', 'SESSION_SETUP', 'TREE_CONNECT', 'CREATE', 'READ', 'WRITE', 'CLOSE', 'QUERY_DIRECTORY']) {
      assert.ok(seen.has(c), `capture has no ${c} ${direction}`);
    }
  });
}

test('Samba capture: the 3.1.1 NEGOTIATE carries preauth and encryption contexts; a CREATE names hello.txt', () => {
  const client = messages(fixture.client);
  const server = messages(fixture.server);
  const nreq = negotiate.decodeNegotiateRequest(new Reader(client[0]!.frame, client[0]!.start + 64, client[0]!.end, client[0]!.start));
  assert.ok(nreq.dialects.includes(0x0311));
  assert.ok(nreq.negotiateContexts.some((c) => c.kind === 'preauthIntegrity'));
  assert.ok(nreq.negotiateContexts.some((c) => c.kind === 'encryption'));
  const nresp = negotiate.decodeNegotiateResponse(new Reader(server[0]!.frame, server[0]!.start + 64, server[0]!.end, server[0]!.start));
  assert.equal(nresp.dialectRevision, 0x0311);
  const pre = nresp.negotiateContexts.find((c) => c.kind === 'preauthIntegrity');
  assert.ok(pre && pre.kind === 'preauthIntegrity' && pre.hashAlgorithms[0] === 1);
  const names = client
    .filter((m) => m.frame.readUInt16LE(m.start + 12) === Command.CREATE)
    .map((m) => create.decodeCreateRequest(new Reader(m.frame, m.start + 64, m.end, m.start)).name);
  assert.ok(names.includes('hello.txt'), names.join(','));
});
